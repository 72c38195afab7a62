"""The ``--agentops-html`` report: one self-contained HTML file (inline CSS and JavaScript, no
network fetch, opens from disk).

The table of tests is plain HTML, so it reads without JavaScript too; each test's details
(trajectory, violations, verdicts, failure) are one JSON array in the page, which the script
turns into an expandable tree when a test is opened, so a page of 5,000 tests stays light.  It is
made from the JSON report's document after redaction: it holds nothing the JSON report does not.
"""

from __future__ import annotations

from datetime import datetime, timezone
from html import escape
from importlib.resources import files
from typing import Any

#: The order outcomes sort in, and the filter buttons' order.
OUTCOMES = ("failed", "error", "xpassed", "passed", "xfailed", "skipped")


def render_html(
    report: dict[str, Any],
    tests: list[dict[str, Any]],
    entries: list[str],
    *,
    generated: datetime | None = None,
) -> str:
    """The page of a run: ``report`` is the JSON report's document (its ``tests`` aside),
    ``tests`` each test's brief (:func:`.model.brief`) and ``entries`` each test's entry as
    JSON text, all redacted."""
    when = (generated or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M:%S UTC")
    assets = files("pytest_agentops.report")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # Nothing but this file: no fetch, no frame, no form goes anywhere.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">",
        "<title>pytest-agentops report</title>",
        f"<style>{assets.joinpath('html.css').read_text(encoding='utf-8')}</style>",
        "</head><body>",
        _header(report, tests, when),
        _repeats(report),
        _toolbar(tests),
        _table(tests),
        '<noscript><p class="ao-note">Filtering, sorting and the trajectory trees need '
        "JavaScript.</p></noscript>",
        f'<script type="application/json" id="ao-data">{_script_json(entries)}</script>',
        f"<script>{assets.joinpath('html.js').read_text(encoding='utf-8')}</script>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _script_json(entries: list[str]) -> str:
    """The entries as one JSON array that cannot end its ``<script>`` element: ``<``, ``>``
    and ``&`` only occur inside JSON strings, where their ``\\u`` escapes mean the same."""
    text = "[" + ",".join(entries) + "]"
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _money(value: float, unpriced: bool = False) -> str:
    text = f"${value:.6f}" if value < 1 else f"${value:,.2f}"
    return text + " +?" if unpriced else text


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _unpriced(test: dict[str, Any]) -> bool:
    return bool(test.get("unpriced"))


def _header(report: dict[str, Any], tests: list[dict[str, Any]], when: str) -> str:
    totals = report.get("totals") or {}
    judge = report.get("judge") or {}
    counts: dict[str, int] = {}
    for test in tests:
        counts[test["outcome"]] = counts.get(test["outcome"], 0) + 1
    outcomes = ", ".join(
        f'<span class="ao-outcome ao-outcome--{escape(o)}">{n} {escape(o)}</span>'
        for o, n in sorted(counts.items(), key=lambda kv: _rank(kv[0]))
    )
    partial = any(_unpriced(t) for t in tests)
    cost = _money(float(totals.get("cost_usd") or 0), partial)
    facts = [
        f"{len(tests)} recorded test{'s' if len(tests) != 1 else ''}"
        + (f": {outcomes}" if tests else ""),
        f"{totals.get('steps', 0)} steps, {totals.get('tool_calls', 0)} tool calls, "
        f"{totals.get('llm_calls', 0)} LLM calls",
        f"tokens {totals.get('input_tokens', 0):,} in / {totals.get('output_tokens', 0):,} out",
        f"agents' cost <b>{escape(cost)}</b>"
        + (" (partial: some models have no price)" if partial else ""),
    ]
    if judge.get("verdicts"):
        facts.append(
            f"judge: {judge['verdicts']} verdicts, {judge.get('passed', 0)} passed, cost "
            f"{escape(_money(float(judge.get('cost_usd') or 0)))} (not in the agents' cost)"
        )
    items = "".join(f"<li>{fact}</li>" for fact in facts)
    return (
        '<header class="ao-header"><h1>pytest-agentops report</h1>'
        f'<p class="ao-when">generated {escape(when)}</p><ul class="ao-facts">{items}</ul>'
        "</header>"
    )


def _rank(outcome: str) -> int:
    return OUTCOMES.index(outcome) if outcome in OUTCOMES else len(OUTCOMES)


def _repeats(report: dict[str, Any]) -> str:
    repeats: list[dict[str, Any]] = report.get("repeats") or []
    if not repeats:
        return ""
    rows = []
    for r in repeats:
        trials, passed = int(r.get("trials") or 0), int(r.get("passed") or 0)
        rate = passed / trials if trials else 0.0
        state = "ok" if r.get("ok") else "FAILED"
        rows.append(
            f'<tr class="ao-repeat ao-repeat--{"ok" if r.get("ok") else "failed"}">'
            f'<td class="ao-name">{escape(str(r.get("test")))}</td>'
            f'<td class="ao-num">{passed}/{trials}</td><td class="ao-num">{rate:.0%}</td>'
            f'<td class="ao-num">{float(r.get("min_pass_rate") or 0):.0%}</td>'
            f"<td>{state}</td></tr>"
        )
    hat: dict[str, float] = report.get("pass_hat_k") or {}
    at: dict[str, float] = report.get("pass_at_k") or {}
    ks = sorted({*hat, *at}, key=int)
    head = "".join(f'<th scope="col">k={escape(k)}</th>' for k in ks)
    hat_cells = "".join(f'<td class="ao-num">{hat.get(k, 0):.3f}</td>' for k in ks)
    at_cells = "".join(f'<td class="ao-num">{at.get(k, 0):.3f}</td>' for k in ks)
    return (
        '<section class="ao-repeats"><h2>Repeated tests</h2>'
        '<table class="ao-grid" id="ao-repeats"><thead><tr><th scope="col">test</th>'
        '<th scope="col">passed</th><th scope="col">pass rate</th>'
        '<th scope="col">required</th><th scope="col"></th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
        '<table class="ao-grid" id="ao-pass-k"><thead><tr><th scope="col"></th>'
        f'{head}</tr></thead><tbody><tr><th scope="row" title="all k trials pass">pass^k</th>'
        f'{hat_cells}</tr><tr><th scope="row" title="at least one of k trials passes">pass@k</th>'
        f"{at_cells}</tr></tbody></table></section>"
    )


def _toolbar(tests: list[dict[str, Any]]) -> str:
    present = sorted({t["outcome"] for t in tests}, key=_rank)
    buttons = "".join(
        f'<button type="button" class="ao-filter" data-outcome="{escape(o)}" '
        f'aria-pressed="false">{escape(o)} '
        f'<span class="ao-count">{sum(t["outcome"] == o for t in tests)}</span></button>'
        for o in present
    )
    return (
        '<div class="ao-toolbar" role="toolbar" aria-label="filter the tests">'
        '<button type="button" class="ao-filter" data-outcome="" aria-pressed="true">all '
        f'<span class="ao-count">{len(tests)}</span></button>{buttons}'
        '<input type="search" id="ao-search" placeholder="filter by test name" '
        'aria-label="filter by test name">'
        f'<span class="ao-shown"><span id="ao-shown">{len(tests)}</span> shown</span></div>'
    )


#: (data key, heading, tooltip) of the sortable columns after the test name.
_COLUMNS = (
    ("outcome", "outcome", ""),
    ("steps", "steps", "steps (tool calls / LLM calls)"),
    ("tokens", "tokens", "input + output tokens"),
    ("cost", "cost", "the agent's cost in USD (+? when a model has no price)"),
    ("judge", "judge", "the lowest judge score"),
    ("violations", "violations", "policy violations"),
    ("duration", "time", "the trajectory's duration"),
)


def _table(tests: list[dict[str, Any]]) -> str:
    heads = "".join(
        f'<th scope="col" aria-sort="none" title="{escape(tip)}"><button type="button" '
        f'class="ao-sort" data-key="{key}">{escape(text)}</button></th>'
        for key, text, tip in _COLUMNS
    )
    head = (
        '<thead><tr><th scope="col"><span class="ao-sr">details</span></th>'
        '<th scope="col" aria-sort="none"><button type="button" class="ao-sort" '
        f'data-key="name">test</button></th>{heads}</tr></thead>'
    )
    if not tests:
        return (
            f'<table class="ao-grid" id="ao-tests">{head}</table>'
            '<p class="ao-note">No test recorded a trajectory.</p>'
        )
    rows = "".join(_row(i, t) for i, t in enumerate(tests))
    return f'<table class="ao-grid" id="ao-tests">{head}{rows}</table>'


def _row(index: int, test: dict[str, Any]) -> str:
    totals = test.get("totals") or {}
    verdicts: list[dict[str, Any]] = test.get("verdicts") or []
    violations = len(test.get("violations") or [])
    outcome = str(test.get("outcome"))
    tokens = int(totals.get("input_tokens") or 0) + int(totals.get("output_tokens") or 0)
    cost = float(totals.get("cost_usd") or 0)
    duration = float(totals.get("duration_s") or 0)
    judge = min((float(v["score"]) for v in verdicts), default=None)
    judged_ok = all(v.get("passed") for v in verdicts)
    name = str(test.get("nodeid"))
    judge_cell = "" if judge is None else f"{judge:.2f}" + ("" if judged_ok else " \u2717")
    attrs = (
        f'data-i="{index}" data-outcome="{escape(outcome)}" data-name="{escape(name)}" '
        f'data-steps="{int(totals.get("steps") or 0)}" data-tokens="{tokens}" '
        f'data-cost="{cost!r}" data-judge="{"" if judge is None else judge}" '
        f'data-violations="{violations}" data-duration="{duration!r}"'
    )
    return (
        f'<tbody class="ao-test" id="ao-test-{index}" {attrs}><tr class="ao-row">'
        '<td><button type="button" class="ao-toggle" aria-expanded="false" '
        f'aria-label="show the trajectory of {escape(name)}">\u25b8</button></td>'
        f'<td class="ao-name">{escape(name)}</td>'
        f'<td><span class="ao-outcome ao-outcome--{escape(outcome)}">{escape(outcome)}</span></td>'
        f'<td class="ao-num">{int(totals.get("steps") or 0)} <small>('
        f"{int(totals.get('tool_calls') or 0)}/{int(totals.get('llm_calls') or 0)})</small></td>"
        f'<td class="ao-num" title="{int(totals.get("input_tokens") or 0):,} in / '
        f'{int(totals.get("output_tokens") or 0):,} out">{tokens:,}</td>'
        f'<td class="ao-num">{escape(_money(cost, _unpriced(test)))}</td>'
        f'<td class="ao-num{"" if judged_ok else " ao-bad"}">{judge_cell}</td>'
        f'<td class="ao-num{" ao-bad" if violations else ""}">{violations or ""}</td>'
        f'<td class="ao-num">{_duration(duration)}</td></tr></tbody>'
    )
