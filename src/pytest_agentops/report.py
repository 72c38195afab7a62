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


class JudgeTotals(BaseModel):
    """The LLM judge's own usage, kept apart from the agents' ``totals``."""

    model_config = ConfigDict(extra="forbid")

    verdicts: int = 0
    passed: int = 0
    cost_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0


class Report(BaseModel):
    """The ``--agentops-report`` JSON document."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    tests: list[TestEntry] = Field(default_factory=list)
    totals: Totals = Field(default_factory=Totals)
    judge: JudgeTotals = Field(default_factory=JudgeTotals)


def _money(value: float) -> str:
    return f"${value:.6f}" if value < 1 else f"${value:,.2f}"


def _judge_cell(verdicts: list[dict[str, Any]]) -> str:
    """The lowest judge score of a test, ``!`` when a verdict failed."""
    if not verdicts:
        return "-"
    low = min(float(v.get("score", 0.0)) for v in verdicts)
    return f"{low:.2f}" + ("" if all(v.get("passed") for v in verdicts) else "!")


def _cells(
    name: str, outcome: str, t: Totals, violations: int, judge: str = "-"
) -> tuple[str, ...]:
    return (
        outcome,
        str(violations) if violations else "-",
        judge,
        str(t.steps),
        str(t.tool_calls),
        str(t.llm_calls),
        f"{t.input_tokens}/{t.output_tokens}",
        _money(t.cost_usd),
        f"{t.duration_s:.2f}s",
        name,
    )


def write_summary(tr: Any, report: Report, settings: Settings) -> None:
    """One row per recorded test, then the totals.

    The node id comes last, as in ``pytest --durations``, so it is never truncated and the
    numeric columns stay aligned whatever the terminal width.
    """
    tr.write_sep("=", "agentops summary")
    if not report.tests:
        tr.write_line(
            "no recorded tests: use the agent_trace fixture or @pytest.mark.agentops to record"
        )
        return
    header = (
        "outcome",
        "viol",
        "judge",
        "steps",
        "tools",
        "llm",
        "tokens in/out",
        "cost",
        "time",
        "test",
    )
    rows = [
        _cells(e.nodeid, e.outcome, e.totals, len(e.violations), _judge_cell(e.verdicts))
        for e in report.tests
    ]
    n_violations = sum(len(e.violations) for e in report.tests)
    total = _cells(f"TOTAL ({len(report.tests)} tests)", "", report.totals, n_violations)
    widths = [max(len(r[i]) for r in [header, *rows, total]) for i in range(len(header) - 1)]

    def fmt(row: tuple[str, ...]) -> str:
        cells = [row[0].ljust(widths[0])]
        cells += [c.rjust(w) for c, w in zip(row[1:-1], widths[1:], strict=True)]
        return "  ".join([*cells, row[-1]])

    tr.write_line(fmt(header), bold=True)
    for row in rows:
        tr.write_line(fmt(row), red=row[0] in ("failed", "error"))
    tr.write_line(fmt(total), bold=True)
    if n_violations:
        tr.write_line("")
        tr.write_line(f"policy violations ({n_violations}):", red=True, bold=True)
        for e in report.tests:
            if e.violations:
                tr.write_line(f"  {e.nodeid}")
            for v in e.violations:
                step = f"step {v['step']}: " if v.get("step") is not None else ""
                tr.write_line(f"    [{v['rule_id']}] {step}{v['message']}", red=True)
    judge = report.judge
    if judge.verdicts:
        tr.write_line(
            f"judge: {judge.verdicts} verdicts, {judge.passed} passed, cost "
            f"{_money(judge.cost_usd)}, not counted in the agents' cost",
            red=judge.passed < judge.verdicts,
        )
    if settings.report_path is not None:
        tr.write_line(f"agentops report written to {settings.report_path}")


def build_report(entries: list[dict[str, Any]]) -> Report:
    tests = [TestEntry.model_validate(e) for e in entries]
    total = Totals()
    judge = JudgeTotals()
    for entry in tests:
        total = total + entry.totals
        for v in entry.verdicts:
            judge.verdicts += 1
            judge.passed += bool(v.get("passed"))
            judge.cost_usd += float(v.get("cost_usd") or 0.0)
            judge.input_tokens += int(v.get("input_tokens") or 0)
            judge.output_tokens += int(v.get("output_tokens") or 0)
    return Report(tests=tests, totals=total, judge=judge)
