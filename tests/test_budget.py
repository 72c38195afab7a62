"""Run budgets: `--agentops-max-cost` fails a run whose agents spent more, naming the top
spenders; the judge's cost is shown apart and not counted; unpriced calls make it partial.
And what JUnit XML shows of each recorded test."""

from __future__ import annotations

import pytest

SPENDERS = """
import pytest

@pytest.mark.parametrize("cost", [0.02, 0.03, 0.0])
def test_agent(agent_trace, cost):
    agent_trace.llm_call("gpt-4o-mini", input_tokens=10, output_tokens=5, cost_usd=cost)

def test_unpriced(agent_trace):
    agent_trace.llm_call("my-private-model", input_tokens=10, output_tokens=5)
"""


def test_a_run_over_its_budget_fails_and_names_the_top_spenders(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_spend=SPENDERS)
    result = pytester.runpytest("-p", "no:randomly", "--agentops-max-cost=0.04", "-W", "ignore")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=4)  # every test passed: the run as a whole failed
    result.stdout.fnmatch_lines(
        [
            "agentops budget: the agents spent $0.050000 (partial: 1 LLM call without a price), "
            "over the budget of $0.040000 (--agentops-max-cost)",
            "  top spenders:",
            "    $0.030000  test_spend.py::test_agent[0.03]",
            "    $0.020000  test_spend.py::test_agent[0.02]",
        ]
    )
    assert "test_agent[0.0]" not in result.stdout.str()


def test_a_run_within_its_budget_passes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_spend=SPENDERS)
    pytester.makeini("[pytest]\nagentops_max_cost = 0.05\n")
    result = pytester.runpytest("-p", "no:randomly", "-W", "ignore")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["agentops budget: the agents spent $0.050000 *, within *"])


def test_the_budget_holds_under_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_spend=SPENDERS)
    result = pytester.runpytest(
        "-p", "no:randomly", "-n", "2", "--agentops-max-cost=0.01", "-W", "ignore"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["agentops budget: the agents spent $0.050000 *over the budget*"])


def test_the_judges_cost_is_shown_apart(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
from pytest_agentops import Verdict

def pytest_agentops_judge(request):
    return Verdict(criteria=request.criteria, score=1.0, passed=True, threshold=0.5,
                   reasoning="ok", model="rules", on=request.on, cost_usd=0.5)
"""
    )
    pytester.makepyfile(
        test_judged="""
def test_judged(agent_trace, agent_judge):
    agent_trace.llm_call("gpt-4o-mini", output="fine", cost_usd=0.01)
    assert agent_judge("fine", "is it fine?")
"""
    )
    result = pytester.runpytest("-p", "no:randomly", "--agentops-max-cost=0.02")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "agentops budget: the agents spent $0.010000, within the budget of $0.020000 *",
            "  judge calls: $0.500000, not counted in the budget",
        ]
    )


@pytest.mark.parametrize("value", ["lots", "-1", "inf"])
def test_a_budget_that_is_not_an_amount_is_a_usage_error(
    pytester: pytest.Pytester, value: str
) -> None:
    pytester.makepyfile(test_x="def test_x(): pass\n")
    result = pytester.runpytest(f"--agentops-max-cost={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--agentops-max-cost='{value}' is not an amount of USD*"])


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_junit_xml_shows_cost_tokens_steps_judge_and_violations(
    pytester: pytest.Pytester, xdist: list[str]
) -> None:
    import xml.etree.ElementTree as ET

    pytester.makeconftest(
        """
from pytest_agentops import Verdict

def pytest_agentops_judge(request):
    return Verdict(criteria=request.criteria, score=0.75, passed=True, threshold=0.5,
                   reasoning="ok", model="rules", on=request.on)
"""
    )
    pytester.makepyfile(
        test_j="""
def test_agent(agent_trace, agent_judge):
    agent_trace.llm_call("gpt-4o-mini", input_tokens=10, output_tokens=5, cost_usd=0.25)
    agent_trace.tool_call("lookup", {"order_id": "ORD-1"}, result="ok")
    assert agent_judge("fine", "is it fine?")

def test_plain():
    pass
"""
    )
    xml = pytester.path / "junit.xml"
    result = pytester.runpytest("-p", "no:randomly", f"--junitxml={xml}", *xdist)
    result.assert_outcomes(passed=2)
    cases = {c.get("name"): c for c in ET.parse(xml).getroot().iter("testcase")}
    properties = {p.get("name"): p.get("value") for p in cases["test_agent"].iter("property")}
    assert properties == {
        "agentops_cost_usd": "0.250000",
        "agentops_input_tokens": "10",
        "agentops_output_tokens": "5",
        "agentops_steps": "2",
        "agentops_tool_calls": "1",
        "agentops_llm_calls": "1",
        "agentops_violations": "0",
        "agentops_judge_score": "0.75",
    }
    assert list(cases["test_plain"].iter("property")) == []
