"""Per-session collection of recorded tests, feeding the summary, the JSON report and xdist.

Each process collects one entry per recorded test when the test's teardown report is made
(so a failing test is reported with its trajectory too).  Under pytest-xdist a worker ships its
entries to the controller as one JSON string in ``config.workeroutput``; the controller merges
them in ``pytest_testnodedown``, keyed by node id, so nothing is lost or counted twice.

Loaded by ``pytest_configure`` on every run, so it imports no pydantic: report models are
imported only when there is something to report.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import pytest

from pytest_agentops._stash import (
    INTERRUPTED_KEY,
    PHASES_KEY,
    TRAJECTORY_KEY,
    VERDICTS_KEY,
    VIOLATIONS_KEY,
)

if TYPE_CHECKING:
    from pytest_agentops.settings import Settings
    from pytest_agentops.trajectory.model import Trajectory

    from .model import Report
    from .repeats import Tally

_WORKER_KEY = "agentops"


def _phase_outcome(report: pytest.TestReport) -> str:
    if hasattr(report, "wasxfail"):
        return "xfailed" if report.skipped else "xpassed"
    return report.outcome


def overall_outcome(phases: dict[str, str]) -> str:
    setup, call, teardown = phases.get("setup"), phases.get("call"), phases.get("teardown")
    if setup == "failed":
        return "error"
    if setup in ("skipped", "xfailed"):
        return setup
    if call == "failed":
        return "failed"
    if teardown == "failed":
        return "error"
    return call or setup or "passed"


def _dumped(item: pytest.Item, key: pytest.StashKey[Any]) -> list[dict[str, Any]]:
    """A test's violations or verdicts as JSON data (what workers send to the controller)."""
    return [model.model_dump(mode="json") for model in item.stash.get(key, [])]


class AgentopsSession:
    """Registered as a plugin object by ``pytest_configure`` (one per pytest process)."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.entries: dict[str, dict[str, Any]] = {}
        self._redactor: Any = None
        self._unpriced_models: set[str] = set()
        #: Node id -> position in collection order (the summary's and report's order).
        self.order: dict[str, int] = {}
        #: ``--agentops-max-cost``: whether the run went over, and the lines that say how much.
        self.over_budget = False
        self.budget: list[str] = []
        self.tally: Tally | None = None  # repeated trials, once a trial reports
        self._failures: set[str] = set()  # failed before any trial reported

    @property
    def is_worker(self) -> bool:
        return hasattr(self.config, "workerinput")

    # ---- collection ---------------------------------------------------------------------
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, Any, None]:
        outcome = yield
        report: pytest.TestReport = outcome.get_result()
        phases = item.stash.setdefault(PHASES_KEY, {})
        phases[report.when] = _phase_outcome(report)
        if report.when != "teardown":
            return
        trajectory = item.stash.get(TRAJECTORY_KEY, None)
        if trajectory is None:
            return
        self._warn_unpriced(trajectory)
        report.user_properties.extend(_properties(item, trajectory))
        if not self.settings.enabled:
            return
        # Reports are files: secrets out first (the user's hook, then the built-in redaction).
        self.config.hook.pytest_agentops_redact(interaction=None, trajectory=trajectory, item=item)
        if self._redactor is None:
            from pytest_agentops.redact import Redactor

            self._redactor = Redactor()
        entry = {
            "nodeid": item.nodeid,
            "outcome": overall_outcome(phases),
            "trial": _trial(item),
            "trajectory": trajectory.to_jsonable(),
            "totals": trajectory.totals().model_dump(),
            "violations": _dumped(item, VIOLATIONS_KEY),
            "verdicts": _dumped(item, VERDICTS_KEY),
        }
        # Every string, on the process that saw the secrets (xdist workers too).
        self.entries[item.nodeid] = self._redactor.value(entry)

    def _warn_unpriced(self, trajectory: Trajectory) -> None:
        """Once per model and process: its calls have no cost, so costs are partial."""
        for model in dict.fromkeys(c.model for c in trajectory.unpriced_calls):
            if model in self._unpriced_models:
                continue
            self._unpriced_models.add(model)
            from pytest_agentops.errors import AgentopsWarning

            warnings.warn(
                AgentopsWarning(
                    f"no price for the LLM model {model!r}: its calls have cost_usd null and "
                    "the costs shown leave them out. Price it in a conftest.py with "
                    f"litellm.register_model({{{model!r}: {{'input_cost_per_token': ..., "
                    "'output_cost_per_token': ...}})."
                ),
                stacklevel=1,
            )

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Count the trials of repeated tests (on the controller, workers' reports too)."""
        if self.tally is None:
            if not any(k == "agentops_trial" for k, _ in report.user_properties):
                if not report.failed:
                    return
                self._failures.add(report.nodeid)
                return
            from .repeats import Tally

            self.tally = Tally()
            self.tally.other_failures |= self._failures
        self.tally.add(report)

    def pytest_keyboard_interrupt(self, excinfo: Any) -> None:
        """Ctrl-C: the tests still open are torn down next; their cassettes are not saved."""
        self.config.stash[INTERRUPTED_KEY] = True

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.order = {item.nodeid: i for i, item in enumerate(session.items)}

    # ---- xdist --------------------------------------------------------------------------
    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """The controller collects nothing itself: workers tell it the collection order."""
        if not self.order:
            self.order = {nodeid: i for i, nodeid in enumerate(ids)}

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        output = getattr(node, "workeroutput", None) or {}
        payload = output.get(_WORKER_KEY)
        if payload:
            for entry in json.loads(payload):
                self.entries[entry["nodeid"]] = entry

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.is_worker:
            if self.entries:
                workeroutput: dict[str, Any] = self.config.workeroutput  # type: ignore[attr-defined]
                workeroutput[_WORKER_KEY] = json.dumps(list(self.entries.values()))
            return
        if self.settings.report_path is not None:
            self.write_report()
        tolerated = self.tally is not None and self.tally.all_failures_tolerated
        if tolerated and session.exitstatus == pytest.ExitCode.TESTS_FAILED:
            session.exitstatus = pytest.ExitCode.OK  # each failed trial is within its pass rate
        if self.settings.max_cost is not None:
            from .summary import budget_lines

            self.over_budget, self.budget = budget_lines(
                self.build_report(), self.settings.max_cost
            )
            if self.over_budget and session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED

    # ---- output -------------------------------------------------------------------------
    def build_report(self) -> Report:
        from .model import build_report

        last = len(self.order)
        entries = sorted(self.entries.values(), key=lambda e: self.order.get(e["nodeid"], last))
        report = build_report(entries)
        if self.tally is not None:
            from .repeats import pass_at_k, pass_hat_k

            report.repeats = [t.as_dict() for t in self.tally.tests.values()]
            report.pass_hat_k = pass_hat_k(self.tally.results())
            report.pass_at_k = pass_at_k(self.tally.results())
        return report

    def write_report(self) -> None:
        from pytest_agentops._util import atomic_write_text

        path = self.settings.report_path
        assert path is not None
        from pytest_agentops.redact import redact_document

        data = self.build_report().model_dump(mode="json", exclude_none=False)
        self.config.hook.pytest_agentops_report(report=data)
        data = redact_document(data)  # what the hook added too
        atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")

    def pytest_report_header(self, config: pytest.Config) -> str | None:
        if not self.settings.enabled:
            return None
        parts = ["summary" if self.settings.summary else ""]
        if self.settings.report_path is not None:
            parts.append(f"report -> {self.settings.report_path}")
        return "agentops: " + ", ".join(p for p in parts if p)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.is_worker:
            return
        if self.settings.summary:
            from .summary import write_summary

            write_summary(terminalreporter, self.build_report(), self.settings)
        if self.tally is not None:
            for line in self.tally.lines():
                terminalreporter.write_line(line, red=": FAILED " in line)
        for number, line in enumerate(self.budget):
            over = self.over_budget
            terminalreporter.write_line(line, red=over, green=not over, bold=number == 0)


def _trial(item: pytest.Item) -> int | None:
    callspec = getattr(item, "callspec", None)
    value = callspec.params.get("agent_trial") if callspec is not None else None
    return value if isinstance(value, int) else None


def _properties(item: pytest.Item, trajectory: Trajectory) -> list[tuple[str, object]]:
    """What JUnit XML consumers show of a recorded test (``<property>`` elements, from the
    teardown report's ``user_properties``)."""
    totals = trajectory.totals()
    verdicts = item.stash.get(VERDICTS_KEY, [])
    properties: list[tuple[str, object]] = [
        ("agentops_cost_usd", f"{totals.cost_usd:.6f}"),
        ("agentops_input_tokens", totals.input_tokens),
        ("agentops_output_tokens", totals.output_tokens),
        ("agentops_steps", totals.steps),
        ("agentops_tool_calls", totals.tool_calls),
        ("agentops_llm_calls", totals.llm_calls),
        ("agentops_violations", len(item.stash.get(VIOLATIONS_KEY, []))),
    ]
    if verdicts:
        properties.append(("agentops_judge_score", f"{min(v.score for v in verdicts):.2f}"))
    return properties
