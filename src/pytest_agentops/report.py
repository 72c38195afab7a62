"""Per-session collection of recorded tests: terminal summary, JSON report, xdist merge.

Each process collects one entry per recorded test when the test's teardown report is made
(so a failing test is reported with its trajectory too).  Under pytest-xdist a worker ships its
entries to the controller as one JSON string in ``config.workeroutput``; the controller merges
them in ``pytest_testnodedown``, keyed by node id, so nothing is lost or counted twice.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from ._io import atomic_write_text
from .models import SCHEMA_VERSION, Totals, Trajectory
from .settings import Settings

TRAJECTORY_KEY = pytest.StashKey[Trajectory]()
_PHASES_KEY = pytest.StashKey[dict[str, str]]()
_WORKER_KEY = "agentops"


class TestEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    __test__ = False  # not a pytest test class

    nodeid: str
    outcome: str
    trial: int | None = None
    trajectory: Trajectory
    totals: Totals
    violations: list[dict[str, Any]] = Field(default_factory=list)
    verdicts: list[dict[str, Any]] = Field(default_factory=list)


class Report(BaseModel):
    """The ``--agentops-report`` JSON document."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    tests: list[TestEntry] = Field(default_factory=list)
    totals: Totals = Field(default_factory=Totals)


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


class AgentopsSession:
    """Registered as a plugin object by ``pytest_configure`` (one per pytest process)."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.entries: dict[str, dict[str, Any]] = {}

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
        phases = item.stash.setdefault(_PHASES_KEY, {})
        phases[report.when] = _phase_outcome(report)
        if report.when != "teardown":
            return
        trajectory = item.stash.get(TRAJECTORY_KEY, None)
        if trajectory is None or not self.settings.enabled:
            return
        self.entries[item.nodeid] = {
            "nodeid": item.nodeid,
            "outcome": overall_outcome(phases),
            "trial": None,
            "trajectory": trajectory.to_jsonable(),
            "totals": trajectory.totals().model_dump(),
            "violations": [],
            "verdicts": [],
        }

    # ---- xdist --------------------------------------------------------------------------
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

    # ---- output -------------------------------------------------------------------------
    def build_report(self) -> Report:
        tests = [TestEntry.model_validate(e) for e in self.entries.values()]
        total = Totals()
        for entry in tests:
            total = total + entry.totals
        return Report(tests=tests, totals=total)

    def write_report(self) -> None:
        path = self.settings.report_path
        assert path is not None
        data = self.build_report().model_dump(mode="json", exclude_none=False)
        self.config.hook.pytest_agentops_report(report=data)
        atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")

    def pytest_report_header(self, config: pytest.Config) -> str | None:
        if not self.settings.enabled:
            return None
        parts = ["summary" if self.settings.summary else ""]
        if self.settings.report_path is not None:
            parts.append(f"report -> {self.settings.report_path}")
        return "agentops: " + ", ".join(p for p in parts if p)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.is_worker or not self.settings.summary:
            return
        write_summary(terminalreporter, self.build_report(), self.settings)


def _money(value: float) -> str:
    return f"${value:.6f}" if value < 1 else f"${value:,.2f}"


def write_summary(tr: Any, report: Report, settings: Settings) -> None:
    tr.write_sep("=", "agentops summary")
    if not report.tests:
        tr.write_line(
            "no recorded tests: use the agent_trace fixture or @pytest.mark.agentops to record"
        )
        return
    header = ("test", "outcome", "steps", "tools", "llm", "tokens in/out", "cost", "time")
    rows = [
        (
            e.nodeid,
            e.outcome,
            str(e.totals.steps),
            str(e.totals.tool_calls),
            str(e.totals.llm_calls),
            f"{e.totals.input_tokens}/{e.totals.output_tokens}",
            _money(e.totals.cost_usd),
            f"{e.totals.duration_s:.2f}s",
        )
        for e in report.tests
    ]
    t = report.totals
    rows.append(
        (
            f"TOTAL ({len(report.tests)} tests)",
            "",
            str(t.steps),
            str(t.tool_calls),
            str(t.llm_calls),
            f"{t.input_tokens}/{t.output_tokens}",
            _money(t.cost_usd),
            f"{t.duration_s:.2f}s",
        )
    )
    fixed = [max(len(r[i]) for r in [header, *rows]) for i in range(1, len(header))]
    terminal_width = getattr(getattr(tr, "_tw", None), "fullwidth", 120)
    room = terminal_width - sum(fixed) - 2 * len(fixed)
    # Node ids stay readable: never squeeze them below 48 columns (long lines may wrap).
    width = min(max(len(r[0]) for r in [header, *rows]), max(room, 48))

    def fmt(row: tuple[str, ...]) -> str:
        name = row[0] if len(row[0]) <= width else "..." + row[0][-(width - 3) :]
        cells = [name.ljust(width), row[1].ljust(fixed[0])]
        cells += [c.rjust(w) for c, w in zip(row[2:], fixed[1:])]
        return "  ".join(cells).rstrip()

    tr.write_line(fmt(header), bold=True)
    for row in rows[:-1]:
        tr.write_line(fmt(row), red=row[1] in ("failed", "error"))
    tr.write_line(fmt(rows[-1]), bold=True)
    if settings.report_path is not None:
        tr.write_line(f"agentops report written to {settings.report_path}")
