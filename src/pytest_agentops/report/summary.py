"""The ``--agentops`` terminal summary: one row per recorded test, then the totals."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_agentops._util import plural

if TYPE_CHECKING:
    from pytest_agentops.judge.verdict import Verdict
    from pytest_agentops.settings import Settings
    from pytest_agentops.trajectory.model import Totals

    from .model import RunSummary


def _money(value: float) -> str:
    return f"${value:.6f}" if value < 1 else f"${value:,.2f}"


def _judge_cell(verdicts: list[Verdict]) -> str:
    """The lowest judge score of a test, ``!`` when a verdict failed."""
    if not verdicts:
        return "-"
    low = min(v.score for v in verdicts)
    return f"{low:.2f}" + ("" if all(v.passed for v in verdicts) else "!")


def _cost_cell(cost: float, unpriced: int) -> str:
    """The cost; ``?`` when none of the calls has a price, ``+?`` when some have none."""
    if not unpriced:
        return _money(cost)
    return f"{_money(cost)}+?" if cost else "?"


def _cells(
    name: str, outcome: str, t: Totals, violations: int, judge: str = "-", unpriced: int = 0
) -> tuple[str, ...]:
    return (
        outcome,
        str(violations) if violations else "-",
        judge,
        str(t.steps),
        str(t.tool_calls),
        str(t.llm_calls),
        f"{t.input_tokens}/{t.output_tokens}",
        _cost_cell(t.cost_usd, unpriced),
        f"{t.duration_s:.2f}s",
        name,
    )


def write_summary(tr: Any, report: RunSummary, settings: Settings) -> None:
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
    unpriced = {e.nodeid: e.unpriced for e in report.tests}
    rows = [
        _cells(
            e.nodeid,
            e.outcome,
            e.totals,
            len(e.violations),
            _judge_cell(e.verdicts),
            len(unpriced[e.nodeid]),
        )
        for e in report.tests
    ]
    n_violations = sum(len(e.violations) for e in report.tests)
    n_unpriced = sum(len(calls) for calls in unpriced.values())
    total = _cells(
        f"TOTAL ({plural(len(report.tests), 'test')})",
        "",
        report.totals,
        n_violations,
        "-",
        n_unpriced,
    )
    widths = [max(len(r[i]) for r in [header, *rows, total]) for i in range(len(header) - 1)]

    def fmt(row: tuple[str, ...]) -> str:
        cells = [row[0].ljust(widths[0])]
        cells += [c.rjust(w) for c, w in zip(row[1:-1], widths[1:], strict=True)]
        return "  ".join([*cells, row[-1]])

    tr.write_line(fmt(header), bold=True)
    for row in rows:
        tr.write_line(fmt(row), red=row[0] in ("failed", "error"))
    tr.write_line(fmt(total), bold=True)
    if any(row[2].endswith("!") for row in rows):
        tr.write_line(
            "judge: the test's lowest verdict score; ! a verdict below its threshold (an "
            "agent_judge verdict fails the test only where it is asserted)"
        )
    if n_unpriced:
        models = sorted({model for models in unpriced.values() for model in models})
        tr.write_line(
            f"cost is partial: {n_unpriced} LLM call{'s' if n_unpriced != 1 else ''} "
            f"{'have' if n_unpriced != 1 else 'has'} no price (models: {', '.join(models)}); "
            "see the warning on how to price them",
            yellow=True,
        )
    if n_violations:
        tr.write_line("")
        tr.write_line(f"policy violations ({n_violations}):", red=True, bold=True)
        for e in report.tests:
            if e.violations:
                tr.write_line(f"  {e.nodeid}")
            for v in e.violations:
                step = f"step {v.step}: " if v.step is not None else ""
                tr.write_line(f"    [{v.rule_id}] {step}{v.message}", red=True)
    judge = report.judge
    if judge.verdicts:
        tr.write_line(
            f"judge: {judge.verdicts} verdicts, {judge.passed} passed, cost "
            f"{_money(judge.cost_usd)}, not counted in the agents' cost",
            red=judge.passed < judge.verdicts,
        )
    if settings.report_path is not None:
        tr.write_line(f"agentops report written to {settings.report_path}")


def budget_lines(report: RunSummary, max_cost: float) -> tuple[bool, list[str]]:
    """Whether the run's agents spent more than ``max_cost`` USD, and the lines saying so:
    the total, the top spenders by node id, and the judge's cost (not counted)."""
    spent = report.totals.cost_usd
    over = spent > max_cost
    unpriced = sum(len(e.unpriced) for e in report.tests)
    partial = f" (partial: {plural(unpriced, 'LLM call')} without a price)" if unpriced else ""
    verdict = "over" if over else "within"
    lines = [
        f"agentops budget: the agents spent {_money(spent)}{partial}, {verdict} the budget of "
        f"{_money(max_cost)} (--agentops-max-cost)"
    ]
    if over:
        top = sorted(report.tests, key=lambda e: e.totals.cost_usd, reverse=True)[:5]
        lines.append("  top spenders:")
        lines += [f"    {_money(e.totals.cost_usd)}  {e.nodeid}" for e in top if e.totals.cost_usd]
    if report.judge.verdicts:
        lines.append(f"  judge calls: {_money(report.judge.cost_usd)}, not counted in the budget")
    return over, lines
