"""The JSON report model and the terminal summary table."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .models import SCHEMA_VERSION, Totals, Trajectory
from .settings import Settings


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


def _money(value: float) -> str:
    return f"${value:.6f}" if value < 1 else f"${value:,.2f}"


def shorten_nodeid(nodeid: str, width: int) -> str:
    """Fit a node id into ``width`` columns, keeping the test name and the file's own name.

    Directories go first, then the middle of the file name, then the start of the test name.
    """
    if len(nodeid) <= width:
        return nodeid
    path, sep, test = nodeid.partition("::")
    path = path.rsplit("/", 1)[-1]
    if len(path) + len(sep) + len(test) <= width:
        return path + sep + test
    keep = width - len(sep) - len(test) - 1
    if keep >= 8:
        return path[: keep // 2] + "~" + path[len(path) - (keep - keep // 2) :] + sep + test
    return "~" + (path + sep + test)[-(width - 1) :]


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
    # Node ids stay readable: never squeeze them below 60 columns (long lines may wrap).
    width = min(max(len(r[0]) for r in [header, *rows]), max(room, 60))

    def fmt(row: tuple[str, ...]) -> str:
        cells = [shorten_nodeid(row[0], width).ljust(width), row[1].ljust(fixed[0])]
        cells += [c.rjust(w) for c, w in zip(row[2:], fixed[1:], strict=False)]
        return "  ".join(cells).rstrip()

    tr.write_line(fmt(header), bold=True)
    for row in rows[:-1]:
        tr.write_line(fmt(row), red=row[1] in ("failed", "error"))
    tr.write_line(fmt(rows[-1]), bold=True)
    if settings.report_path is not None:
        tr.write_line(f"agentops report written to {settings.report_path}")


def build_report(entries: list[dict[str, Any]]) -> Report:
    tests = [TestEntry.model_validate(e) for e in entries]
    total = Totals()
    for entry in tests:
        total = total + entry.totals
    return Report(tests=tests, totals=total)
