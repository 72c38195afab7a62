"""Case files are tests: pytest collects ``*.case.yaml`` and runs each against the agent.

An item (node id ``path::NAME``) calls the entry point named by ini ``agentops_agent``
(``package.module:function``; awaited when it is a coroutine function) with the case's input,
records the run like ``agent_trace`` does, then checks the case's expectations:

- the policies it names: no violation (so none of the rules the incident broke);
- the tools it must call and those it must not;
- "must not repeat": the run fails when its tool calls are the incident's again (same tools,
  same arguments, same order);

while the incident's model answers and tool results are replayed by position
(:mod:`.replay`).  With a record mode (``--agentops-record=once``...) or once the case has an
ordinary cassette, the case runs inside that cassette like any test.  The trajectory,
violations and outcome go into the summary and the reports like any test's.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest

from pytest_agentops._stash import SETTINGS_KEY, TRAJECTORY_KEY, VIOLATIONS_KEY

if TYPE_CHECKING:
    from pytest_agentops.trajectory.model import Trajectory

    from .case import Case

AGENT_INI = "agentops_agent"
SUFFIX = ".case.yaml"


def collect_file(file_path: Any, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.name.endswith(SUFFIX):
        collector: pytest.Collector = CaseFile.from_parent(parent, path=file_path)
        return collector
    return None


class CaseFile(pytest.File):
    """A ``*.case.yaml`` file: one test, named after the case."""

    def collect(self) -> Iterator[pytest.Item]:
        from .case import Case, CaseError

        try:
            case = Case.load(self.path)
        except CaseError as exc:
            raise self.CollectError(str(exc)) from None
        item = CaseItem.from_parent(self, name=case.name, case=case)
        item.add_marker(pytest.mark.agentops_cassette())
        yield item


class CaseItem(pytest.Item):
    def __init__(self, *, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case

    def runtest(self) -> None:
        run_case(self)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"case {self.name}"

    def repr_failure(self, excinfo: Any, style: Any = None) -> Any:
        if isinstance(excinfo.value, pytest.UsageError):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)


def agent_entry_point(config: pytest.Config) -> Callable[..., Any]:
    """The function ini ``agentops_agent`` names, or a usage error saying what to write."""
    spec = str(config.getini(AGENT_INI) or "").strip()
    example = f"{AGENT_INI} = mypackage.agent:run_agent"
    if not spec:
        raise pytest.UsageError(
            f"regression cases need the agent to run: set ini {AGENT_INI} to its entry point, "
            f"e.g. `{example}` (a function taking the case's input)"
        )
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise pytest.UsageError(
            f"ini {AGENT_INI} = {spec!r}: write `module:function`, e.g. {example}"
        )
    root = str(config.rootpath)
    added = root not in sys.path
    if added:
        sys.path.insert(0, root)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise pytest.UsageError(
            f"ini {AGENT_INI} = {spec!r}: cannot import {module_name} ({exc})"
        ) from None
    finally:
        if added:
            sys.path.remove(root)
    function: Any = module
    for part in attribute.split("."):
        function = getattr(function, part, None)
        if function is None:
            raise pytest.UsageError(f"ini {AGENT_INI} = {spec!r}: {module_name} has no {attribute}")
    if not callable(function):
        raise pytest.UsageError(f"ini {AGENT_INI} = {spec!r}: {attribute} is not a function")
    entry: Callable[..., Any] = function
    return entry


@contextmanager
def _replay(item: CaseItem) -> Iterator[Any]:
    """The case's cassette when it has one (or records one), else the incident's answers."""
    from pytest_agentops.cassettes.pytest_side import cassette_for, options_of

    settings = item.config.stash[SETTINGS_KEY]
    options = options_of(item)
    if options is not None and (options.mode != "none" or options.path.is_file()):
        with contextmanager(cassette_for)(item) as cassette:
            yield cassette
        return
    from .replay import IncidentReplay

    replay = IncidentReplay(
        item.case,
        display=item.nodeid,
        capture_http=settings.capture_http,
        replay_tools=settings.replay_tools,
    )
    with replay.active():
        yield replay


def run_case(item: CaseItem) -> None:
    __tracebackhide__ = True
    from pytest_agentops.capture.pytest_side import recording

    agent = agent_entry_point(item.config)
    case = item.case
    problems: list[str] = []
    with _replay(item) as replay:
        tape = replay.tape if replay is not None else None
        with recording(item, item.nodeid, {"case": case.name}, tape) as recorder:
            result = agent(case.input)
            if inspect.isawaitable(result):
                result = asyncio.run(_awaited(result))
            if result is not None:
                recorder.set_output(result)
        misses = getattr(replay, "misses", None)
        if misses:  # the agent swallowed the failure: it still fails the case
            pytest.fail(misses[0], pytrace=False)
        trajectory = item.stash[TRAJECTORY_KEY]
        if case.expect.judge:
            problems += _judged(item, trajectory)
    problems = check_expectations(item, trajectory) + problems
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


def _judged(item: CaseItem, trajectory: Trajectory) -> list[str]:
    """The case's judge criteria on the run's output, inside the case's replay: a cassette
    records and replays the verdicts; an incident replay has no model for the built-in judge
    (a ``pytest_agentops_judge`` hook of the project's own still answers)."""
    from pytest_agentops.errors import JudgeError
    from pytest_agentops.judge.pytest_side import judge

    if not item.config.stash[SETTINGS_KEY].judge.enabled:
        return []
    problems = []
    for text in item.case.expect.judge:
        try:
            verdict = judge(item, trajectory.output, text)
        except JudgeError as exc:
            problems.append(f"judge: {exc}")
            continue
        if not verdict:
            problems.append(f"judge: {verdict}")
    return problems


async def _awaited(result: Any) -> Any:
    return await result


def check_expectations(item: CaseItem, trajectory: Trajectory) -> list[str]:
    """What the run did wrong, one message per broken expectation."""
    from pytest_agentops._util import canonical_json
    from pytest_agentops.policy.loading import load_policy
    from pytest_agentops.policy.rules import check_policies
    from pytest_agentops.policy.violations import violation_message

    expect = item.case.expect
    problems = []
    policies = [load_policy(_policy_path(item, p)) for p in expect.policies]
    violations = check_policies(trajectory, policies) if policies else []
    item.stash[VIOLATIONS_KEY] = violations
    if violations:
        again = sorted({v.rule_id for v in violations} & set(expect.violated_rules))
        head = f"the incident's rules broken again: {', '.join(again)}\n" if again else ""
        problems.append(head + violation_message(violations, trajectory, policies))
    called = set(trajectory.tool_names)
    missing = [name for name in expect.expect_tools if name not in called]
    if missing:
        problems.append(f"expected tool calls missing: {', '.join(missing)}")
    forbidden = [name for name in expect.forbid_tools if name in called]
    if forbidden:
        problems.append(f"forbidden tools called: {', '.join(forbidden)}")

    def calls(traj: Trajectory) -> list[tuple[str, str | None]]:
        return [(c.name, canonical_json(c.arguments)) for c in traj.tool_calls]

    if expect.must_not_repeat and calls(trajectory) == calls(item.case.incident):
        shown = ", ".join(trajectory.tool_names) or "no tool call"
        problems.append(
            f"the agent repeated the incident: the same tool calls with the same arguments "
            f"({shown}). The fix must change what the agent does with the incident's answers."
        )
    return problems


def _policy_path(item: CaseItem, policy: str) -> Any:
    """A case's policy path: relative to the case file, or else to the rootdir."""
    from pathlib import Path

    path = Path(policy)
    if path.is_absolute():
        return path
    beside = item.path.parent / path
    return beside if beside.exists() else item.config.rootpath / path
