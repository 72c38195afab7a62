"""Repeated trials: agentops_repeat / --agentops-repeat, agent_trial, a cassette and a report
entry per trial, pass rates, pass@k and pass^k (checked against hand-computed values), xdist."""

from __future__ import annotations

import json
from math import comb
from pathlib import Path

import pytest

from pytest_agentops.report.repeats import base_nodeid, pass_at_k, pass_hat_k

FLAKY = """
import pytest
from pytest_agentops import tool

@tool
def lookup(order_id):
    return {{"order_id": order_id}}

@pytest.mark.agentops_repeat({n}, min_pass_rate={rate})
def test_flaky(agent_trace, agent_trial):
    lookup(f"ORD-{{agent_trial}}")
    assert agent_trial not in {failing}, f"trial {{agent_trial}} went wrong"

def test_plain():
    pass
"""


def run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict]:
    report = pytester.path / "report.json"
    result = pytester.runpytest(
        "-p", "no:randomly", "--agentops-record=once", f"--agentops-report={report}", *args
    )
    return result, json.loads(report.read_text())


def test_enough_passing_trials_pass_the_test_and_failures_stay_reported(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_r=FLAKY.format(n=5, rate=0.6, failing={1, 3}))
    result, report = run(pytester)
    result.assert_outcomes(passed=4, failed=2)  # 3 trials + test_plain; 2 trials failed
    assert result.ret == pytest.ExitCode.OK  # 3/5 reach the 60% asked
    result.stdout.fnmatch_lines(
        ["*test_r.py::test_flaky[[]trial-1[]] - AssertionError: trial 1 went wrong*"]
    )
    result.stdout.fnmatch_lines(
        [
            "agentops repeats:",
            "  3/5 trials passed (60%, needs 60%): ok  test_r.py::test_flaky",
            "  k           1     2     3     4     5",
            "  pass^k   0.60  0.30  0.10  0.00  0.00",
            "  pass@k   0.60  0.90  1.00  1.00  1.00",
        ]
    )
    assert report["repeats"] == [
        {
            "test": "test_r.py::test_flaky",
            "trials": 5,
            "passed": 3,
            "min_pass_rate": 0.6,
            "ok": True,
        }
    ]
    assert report["pass_hat_k"] == pytest.approx({"1": 0.6, "2": 0.3, "3": 0.1, "4": 0, "5": 0})
    assert report["pass_at_k"] == pytest.approx({"1": 0.6, "2": 0.9, "3": 1, "4": 1, "5": 1})
    trials = [e for e in report["tests"] if "test_flaky" in e["nodeid"]]
    assert [(e["trial"], e["outcome"]) for e in trials] == [
        (0, "passed"),
        (1, "failed"),
        (2, "passed"),
        (3, "failed"),
        (4, "passed"),
    ]
    # a cassette per trial, each with its own tool recording
    folder = pytester.path / "cassettes" / "test_r" / "test_flaky"
    assert sorted(p.name for p in folder.iterdir()) == [f"trial-{i}.yaml" for i in range(5)]
    assert "ORD-3" in (folder / "trial-3.yaml").read_text()


def test_too_few_passing_trials_fail_the_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_r=FLAKY.format(n=4, rate=0.9, failing={2}))
    result, report = run(pytester)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["  3/4 trials passed (75%, needs 90%): FAILED  test_r.py::test_flaky"]
    )
    assert report["repeats"][0]["ok"] is False


def test_a_failure_outside_the_trials_is_never_excused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_r=FLAKY.format(n=2, rate=0.5, failing={0}).replace(
            "def test_plain():\n    pass", "def test_plain():\n    assert False"
        )
    )
    result, _ = run(pytester)
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_the_command_line_repeats_every_recording_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_r="""
def test_agent(agent_trace, agent_trial):
    assert agent_trial in range(3)

def test_plain(agent_trial):
    assert agent_trial == 0  # not repeated: it does not record
"""
    )
    result, report = run(pytester, "--agentops-repeat=3", "-v")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*test_agent[[]trial-2[]] PASSED*"])
    assert report["repeats"][0]["trials"] == 3
    assert report["pass_hat_k"] == {"1": 1.0, "2": 1.0, "3": 1.0}


def test_trials_are_counted_across_xdist_workers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_r=FLAKY.format(n=6, rate=0.5, failing={0, 5}))
    result, report = run(pytester, "-n", "2")
    assert result.ret == pytest.ExitCode.OK
    assert report["repeats"][0]["passed"] == 4
    result.stdout.fnmatch_lines(["  4/6 trials passed (67%, needs 50%): ok  test_r.py::test_flaky"])


def test_trials_combine_with_parametrize(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_r="""
import pytest

@pytest.mark.agentops_repeat(2)
@pytest.mark.parametrize("city", ["Oslo", "Rome"])
def test_city(agent_trace, agent_trial, city):
    assert not (city == "Rome" and agent_trial == 1)
"""
    )
    result, report = run(pytester)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert {r["test"]: r["passed"] for r in report["repeats"]} == {
        "test_r.py::test_city[Oslo]": 2,
        "test_r.py::test_city[Rome]": 1,
    }


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ("agentops_repeat(0)", "n must be a whole number of trials >= 1, got 0"),
        ("agentops_repeat(3, min_pass_rate=2)", "min_pass_rate must be between 0 and 1"),
        ("agentops_repeat(3, tries=2)", "unknown argument(s) tries"),
    ],
)
def test_bad_markers_are_usage_errors(pytester: pytest.Pytester, marker: str, message: str) -> None:
    pytester.makepyfile(test_r=f"import pytest\n\n@pytest.mark.{marker}\ndef test_x(): pass\n")
    result = pytester.runpytest("-p", "no:randomly")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}*"])


def test_the_estimators_are_the_unbiased_ones() -> None:
    # by the definitions, for every (n, c): pass^k = C(c,k)/C(n,k), pass@k = 1-C(n-c,k)/C(n,k)
    for n in range(1, 8):
        for c in range(n + 1):
            hat, at = pass_hat_k([(n, c)]), pass_at_k([(n, c)])
            for k in range(1, n + 1):
                assert hat[str(k)] == pytest.approx(comb(c, k) / comb(n, k))
                assert at[str(k)] == pytest.approx(1 - comb(n - c, k) / comb(n, k))
    # a mean over tests, each k over the tests that have k trials
    assert pass_hat_k([(2, 1), (4, 4)]) == pytest.approx({"1": 0.75, "2": 0.5, "3": 1, "4": 1})
    assert pass_hat_k([]) == {}


def test_a_trials_node_id_without_its_trial() -> None:
    assert base_nodeid("t.py::test[trial-2]", 2) == "t.py::test"
    assert base_nodeid("t.py::test[a-trial-2]", 2) == "t.py::test[a]"
    assert base_nodeid("t.py::test[trial-2-a]", 2) == "t.py::test[a]"


def test_not_repeated_the_trial_is_zero(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_r="def test_x(agent_trial):\n    assert agent_trial == 0\n")
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=1)
    assert not (Path(pytester.path) / "cassettes").exists()
