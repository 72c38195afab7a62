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
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_agentops._stash import (
    CASSETTE_KEY,
    FAILURE_KEY,
    INTERRUPTED_KEY,
    PHASES_KEY,
    RECORDER_KEY,
    TRAJECTORY_KEY,
    VERDICTS_KEY,
    VIOLATIONS_KEY,
)

if TYPE_CHECKING:
    from pytest_agentops.settings import Settings
    from pytest_agentops.trajectory.model import Trajectory

    from .model import RunSummary
    from .repeats import Tally

_WORKER_KEY = "agentops"
_WORKER_TESTS_KEY = "agentops_tests"
_WORKER_LEARNED_KEY = "agentops_learned"


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
        #: Node id -> (the entry's brief, the entry as one line of JSON), redacted.
        self.entries: dict[str, tuple[dict[str, Any], str]] = {}
        self._redactor: Any = None
        self._unpriced_models: set[str] = set()
        #: Node id -> position in collection order (the summary's and report's order).
        self.order: dict[str, int] = {}
        #: ``--agentops-max-cost``: whether the run went over, and the lines that say how much.
        self.over_budget = False
        self.budget: list[str] = []
        self.tally: Tally | None = None  # repeated trials, once a trial reports
        self._failures: set[str] = set()  # failed before any trial reported
        self._summary: RunSummary | None = None  # built once the run is over
        #: The secret values known when the first entry was redacted: the reports' tests need
        #: redacting again only when more were learned since.
        self._learned_first: frozenset[str] | None = None
        #: Under xdist, on the controller: each worker's learned secret values and its tests'
        #: node ids (a value one worker saw in a header may be in another's test).
        self._worker_learned: list[tuple[frozenset[str], list[str]]] = []

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
        if report.failed and FAILURE_KEY not in item.stash:
            item.stash[FAILURE_KEY] = _failure(call, report, item.config.rootpath)
        if report.when != "teardown":
            return
        try:
            self._collect(item, phases, report)
        finally:
            # The test is over: its recorder, trajectory and cassette (with every recorded
            # interaction) go, or a run would hold every test's until the end.
            keys: tuple[pytest.StashKey[Any], ...] = (RECORDER_KEY, TRAJECTORY_KEY, CASSETTE_KEY)
            for key in keys:
                if key in item.stash:
                    del item.stash[key]

    def _collect(
        self, item: pytest.Item, phases: dict[str, str], report: pytest.TestReport
    ) -> None:
        """The test's report entry (and its JUnit properties), kept as JSON text."""
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
            from pytest_agentops.redact import LEARNED, Redactor

            self._redactor = Redactor()
            self._learned_first = LEARNED.values
        entry = {
            "nodeid": item.nodeid,
            "outcome": overall_outcome(phases),
            "trial": _trial(item),
            "trajectory": trajectory.to_jsonable(),
            "totals": trajectory.totals().model_dump(),
            "violations": _dumped(item, VIOLATIONS_KEY),
            "verdicts": _dumped(item, VERDICTS_KEY),
            "failure": item.stash.get(FAILURE_KEY, None),
        }
        # Every string, on the process that saw the secrets (xdist workers too); kept as text,
        # which a run of thousands of tests holds in a fraction of the memory.
        from .model import brief

        entry = self._redactor.value(entry)
        self.entries[item.nodeid] = (brief(entry), json.dumps(entry, ensure_ascii=False))
        self._summary = None

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
            briefs = json.loads(payload)
            # the entries are JSON lines: "\n" only between them
            texts = output[_WORKER_TESTS_KEY].split("\n") if briefs else []
            for brief, text in zip(briefs, texts, strict=True):
                self.entries[brief["nodeid"]] = (brief, text)
            learned = frozenset(output.get(_WORKER_LEARNED_KEY) or ())
            self._worker_learned.append((learned, [b["nodeid"] for b in briefs]))
            self._summary = None

    def _redact_what_was_learned(self) -> None:
        """Redact entries again with the secret values learned (from credential headers)
        after they were made: later in this process, or, on the controller, by another
        xdist worker."""
        from pytest_agentops.redact import LEARNED

        groups = list(self._worker_learned)
        if self._learned_first is not None:  # this process ran the tests (no xdist controller)
            groups.append((self._learned_first, list(self.entries)))
        every = LEARNED.values.union(*(known for known, _ in groups))
        stale = [ids for known, ids in groups if not every <= known]
        if not stale:
            return
        from pytest_agentops.redact import Redactor

        from .model import brief

        redactor = Redactor(every)
        for ids in stale:
            for nodeid in ids:
                entry = redactor.value(json.loads(self.entries[nodeid][1]))
                self.entries[nodeid] = (brief(entry), json.dumps(entry, ensure_ascii=False))
        self._learned_first = every
        self._worker_learned = [(every, ids) for _, ids in self._worker_learned]
        self._summary = None

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self._redact_what_was_learned()  # on each worker too: what it learned stays there
        if self.is_worker:
            from pytest_agentops.redact import LEARNED

            if self.entries or LEARNED.values:
                workeroutput: dict[str, Any] = self.config.workeroutput  # type: ignore[attr-defined]
                workeroutput[_WORKER_KEY] = json.dumps([b for b, _ in self.entries.values()])
                workeroutput[_WORKER_TESTS_KEY] = "\n".join(t for _, t in self.entries.values())
                # in memory to the controller only: to redact the other workers' tests with
                workeroutput[_WORKER_LEARNED_KEY] = sorted(LEARNED.values)
            return
        if self.settings.report_path is not None or self.settings.html_path is not None:
            self.write_reports()
        tolerated = self.tally is not None and self.tally.all_failures_tolerated
        if tolerated and session.exitstatus == pytest.ExitCode.TESTS_FAILED:
            session.exitstatus = pytest.ExitCode.OK  # each failed trial is within its pass rate
        if self.settings.max_cost is not None:
            from .summary import budget_lines

            self.over_budget, self.budget = budget_lines(self.summary(), self.settings.max_cost)
            if self.over_budget and session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED

    # ---- output -------------------------------------------------------------------------
    def ordered_entries(self) -> list[tuple[dict[str, Any], str]]:
        """The entries (brief, JSON text) in collection order."""
        last = len(self.order)
        return sorted(self.entries.values(), key=lambda e: self.order.get(e[0]["nodeid"], last))

    def summary(self) -> RunSummary:
        if self._summary is None:
            from .model import summarize

            self._summary = summarize([b for b, _ in self.ordered_entries()])
        return self._summary

    def repeats(self) -> dict[str, Any]:
        """``repeats``, ``pass_hat_k`` and ``pass_at_k`` of the report (empty without)."""
        if self.tally is None:
            return {}
        from .repeats import pass_at_k, pass_hat_k

        return {
            "repeats": [t.as_dict() for t in self.tally.tests.values()],
            "pass_hat_k": pass_hat_k(self.tally.results()),
            "pass_at_k": pass_at_k(self.tally.results()),
        }

    def write_reports(self) -> None:
        """The JSON report and the HTML report, from one redacted document.

        Each test's entry was redacted when it was made (on the process that saw its secrets)
        and is written as it was kept, unless a ``pytest_agentops_report`` hook may change the
        document: then the whole document is built, given to the hooks and redacted again."""
        from pytest_agentops._util import atomic_write_text
        from pytest_agentops.redact import redact_document

        from .html import render_html
        from .model import brief, report_head, report_json

        entries = self.ordered_entries()
        head = report_head(self.summary(), self.repeats())
        if self.config.hook.pytest_agentops_report.get_hookimpls():
            data = {**head, "tests": [json.loads(text) for _, text in entries]}
            self.config.hook.pytest_agentops_report(report=data)
            data = redact_document(data)
            tests = data.get("tests") or []
            entries = [(brief(t), json.dumps(t, ensure_ascii=False)) for t in tests]
            head = {**data, "tests": []}
        else:
            head = redact_document(head)
        texts = [text for _, text in entries]
        if self.settings.report_path is not None:
            atomic_write_text(self.settings.report_path, report_json(head, texts))
        if self.settings.html_path is not None:
            page = render_html(head, [b for b, _ in entries], texts)
            atomic_write_text(self.settings.html_path, page)

    def pytest_report_header(self, config: pytest.Config) -> str | None:
        if not self.settings.enabled:
            return None
        parts = ["summary" if self.settings.summary else ""]
        if self.settings.report_path is not None:
            parts.append(f"report -> {self.settings.report_path}")
        if self.settings.html_path is not None:
            parts.append(f"HTML report -> {self.settings.html_path}")
        return "agentops: " + ", ".join(p for p in parts if p)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.is_worker:
            return
        if self.settings.summary:
            from .summary import write_summary

            write_summary(terminalreporter, self.summary(), self.settings)
        if self.tally is not None:
            for line in self.tally.lines():
                terminalreporter.write_line(line, red=": FAILED " in line)
        for number, line in enumerate(self.budget):
            over = self.over_budget
            terminalreporter.write_line(line, red=over, green=not over, bold=number == 0)
        html = self.settings.html_path
        if html is not None and html.exists():
            terminalreporter.write_line(f"agentops HTML report: {html.resolve().as_uri()}")


#: The longest failure text a report keeps.
_FAILURE_CHARS = 20_000


def _failure(
    call: pytest.CallInfo[None], report: pytest.TestReport, rootpath: Path
) -> dict[str, object]:
    """Why the test failed (JSON data; the entry is redacted with the rest).  The failing line's
    path is relative to the rootdir when it is inside it."""
    excinfo = call.excinfo
    message = excinfo.exconly() if excinfo is not None else report.longreprtext
    if len(message) > _FAILURE_CHARS:
        message = message[:_FAILURE_CHARS] + f"\n... ({len(message) - _FAILURE_CHARS} more)"
    crash = getattr(report.longrepr, "reprcrash", None)
    where = None
    if crash is not None:
        path = Path(crash.path)
        where = f"{path.relative_to(rootpath) if path.is_relative_to(rootpath) else path}:"
        where += str(crash.lineno)
    step = getattr(excinfo.value, "agentops_step", None) if excinfo is not None else None
    return {
        "message": message,
        "where": where,
        "step": step if isinstance(step, int) and not isinstance(step, bool) else None,
    }


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
