"""--agentops-html: one self-contained file made from the redacted report document (the page
itself is opened and clicked in Chromium by tests/test_html_browser.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from html_suite import SECRET, SUITE, entry, run_suite
from pytest_agentops.report.html import render_html
from pytest_agentops.report.model import Report


def _page_data(page: str) -> list[dict]:
    match = re.search(r'<script type="application/json" id="ao-data">(.*?)</script>', page, re.S)
    assert match is not None
    return json.loads(match.group(1))


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, Any], Path]:
    folder = tmp_path_factory.mktemp("html_report")
    result, report = run_suite(folder)
    return result, report, folder


def test_the_page_holds_every_recorded_test_and_nothing_from_outside(
    suite: tuple[Any, dict[str, Any], Path],
) -> None:
    result, report, tmp_path = suite
    assert result.returncode == 1, result.stdout  # the assertion and the violation fail
    Report.model_validate(report)  # the document is written straight from the entries
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert f"agentops HTML report: {(tmp_path / 'report.html').as_uri()}" in result.stdout
    # every test of the JSON report is a row, in the same order, with its details in the data
    rows = re.findall(
        r'<tbody class="ao-test[^"]*" id="ao-test-(\d+)"[^>]* data-name="([^"]*)"', page
    )
    assert [name for _, name in rows] == [e["nodeid"] for e in report["tests"]]
    assert _page_data(page) == report["tests"]
    # self-contained: no file, script, style, font or image comes from elsewhere
    assert not re.search(r"<(link|iframe|img|object|embed)\b", page)
    assert not re.search(r"\bsrc\s*=|@import|url\(", page.replace("src=x", ""))
    assert "http://" not in page
    assert "https://" not in page
    assert "default-src 'none'" in page
    # markup in a tool result stays text, and the secret is gone
    assert "</script><img" not in page
    assert "\\u003c/script\\u003e\\u003cimg src=x" in page
    assert SECRET not in page
    assert SECRET not in (tmp_path / "report.json").read_text()


def test_a_failure_names_its_step_and_a_violation_its_rule(
    suite: tuple[Any, dict[str, Any], Path],
) -> None:
    _, report, _ = suite
    _, failing = entry(report, "test_refund_without_lookup")
    failure = failing["failure"]
    assert failure["message"].startswith("AssertionError: tool calls do not match")
    line = SUITE.splitlines().index(
        '    assert_tool_calls(agent_trace.trajectory, ["lookup_order", "refund"])'
    )
    assert failure["where"] == f"test_shop.py:{line + 1}"
    step = failing["trajectory"]["steps"][failure["step"] - 1]
    assert (step["kind"], step["name"]) == ("tool", "refund")
    _, violating = entry(report, "test_deletes_an_account")
    assert violating["outcome"] == "failed"
    assert violating["failure"]["message"].startswith("Failed: agentops policy violations (1)")
    assert [(v["rule_id"], v["step"]) for v in violating["violations"]] == [
        ("no-account-deletion", 2)
    ]
    _, passing = entry(report, "test_status")
    assert passing["failure"] is None


def test_an_ini_path_is_relative_to_the_rootdir(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nagentops_html = out/agentops.html\n")
    pytester.makepyfile(test_a="def test_a(agent_trace):\n    agent_trace.tool_call('t', {})\n")
    (pytester.path / "out").mkdir()
    (pytester.path / "sub").mkdir()
    result = pytester.runpytest("-p", "no:cacheprovider", "--agentops-record=once")
    result.assert_outcomes(passed=1)
    page = (pytester.path / "out" / "agentops.html").read_text()
    assert "test_a.py::test_a" in page


def test_a_directory_is_refused_with_a_file_name_to_use(pytester: pytest.Pytester) -> None:
    (pytester.path / "out").mkdir()
    pytester.makepyfile(test_a="def test_a():\n    pass\n")
    result = pytester.runpytest("--agentops-html=out")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--agentops-html=out is a directory*out/agentops-report.html*"])


def test_the_same_page_under_xdist(suite: tuple[Any, dict[str, Any], Path], tmp_path: Path) -> None:
    _, one, _ = suite
    parallel = tmp_path / "parallel"
    parallel.mkdir()
    _, two = run_suite(parallel, "-n", "2")
    assert [e["nodeid"] for e in two["tests"]] == [e["nodeid"] for e in one["tests"]]
    page = (parallel / "report.html").read_text()
    assert len(_page_data(page)) == len(one["tests"])
    assert 'id="ao-pass-k"' in page


def test_an_empty_run_is_a_page_that_says_so() -> None:
    page = render_html({"totals": {}, "judge": {}}, [], [])
    assert "No test recorded a trajectory." in page
    assert _page_data(page) == []


def test_repeats_and_pass_k_are_tables() -> None:
    page = render_html(
        {
            "repeats": [
                {"test": "t.py::test_x", "trials": 4, "passed": 3, "min_pass_rate": 0.5, "ok": True}
            ],
            "pass_hat_k": {"1": 0.75, "2": 0.5, "3": 0.25, "4": 0.0},
            "pass_at_k": {"1": 0.75, "2": 1.0, "3": 1.0, "4": 1.0},
        },
        [],
        [],
    )
    assert '<td class="ao-num">3/4</td><td class="ao-num">75%</td>' in page
    hat = re.search(r"pass\^k</th>(.*?)</tr>", page)
    assert hat is not None
    assert re.findall(r">([\d.]+)<", hat.group(1)) == ["0.750", "0.500", "0.250", "0.000"]


def test_assertion_failures_name_the_step_they_are_about() -> None:
    """What the reports highlight: ``agentops_step`` on the helpers' AssertionErrors."""
    from pytest_agentops import (
        ToolCall,
        Trajectory,
        assert_called_before,
        assert_not_called,
        assert_tool_calls,
        assert_within,
    )

    traj = Trajectory(
        steps=[ToolCall(name="refund", arguments={"amount": 250}), ToolCall(name="lookup")]
    )
    checks = [
        (lambda: assert_not_called(traj, "refund"), 1),
        (lambda: assert_called_before(traj, "lookup", "refund"), 1),
        (lambda: assert_tool_calls(traj, ["lookup", "refund"]), 1),
        (lambda: assert_within(traj, max_tool_calls=1), 2),
    ]
    for check, step in checks:
        with pytest.raises(AssertionError) as failure:
            check()
        assert getattr(failure.value, "agentops_step", None) == step, failure.value
