"""Real agent frameworks, recorded with no instrumentation and replayed offline.

Each framework runs the support agent's status flow (``examples/support_agent/frameworks.py``)
against ``FakeLLM`` while the cassette records, then again with the server gone.  Every case
must give the same trajectory: two tool calls with the model's arguments, three priced LLM
calls, the final answer; read from the conversation, or from ``@tool`` beneath the
framework's decorator (the framework's context parameters left out).
"""

from __future__ import annotations

import pytest

from fake_model import use_fake_model

# Imported here once: the inner pytest runs below then find them loaded (each import takes
# seconds).  The frameworks come with the `dev` extra (through `examples`).
pytest.importorskip("agents")
pytest.importorskip("anthropic")
pytest.importorskip("langgraph.prebuilt")
pytest.importorskip("langchain_openai")
pytest.importorskip("pydantic_ai")


TEST = """
import pytest
from pytest_agentops import assert_tool_calls, call
from support_agent import frameworks

QUESTION = "Hi, I'm customer C1001 (ada@example.com). Where is ORD-1002?"

@pytest.mark.parametrize("options", {cases!r}, ids=str)
def test_status(agent_trace, base_url, options):
    answer = frameworks.run_with_{framework}(QUESTION, base_url, **options)
    traj = agent_trace.trajectory
    assert "ORD-1002" in answer and "delivered" in answer
    assert traj.tool_names == ["verify_identity", "lookup_order"]
    assert_tool_calls(agent_trace, [
        call("verify_identity", customer_id="C1001", email="ada@example.com"),
        call("lookup_order", order_id="ORD-1002"),
    ])
    sources = {{step.source for step in traj.tool_calls}}
    assert sources == ({{None}} if options.get("decorated") else {{"conversation"}})
    llm = traj.llm_calls
    assert len(llm) == 3, [c.model for c in llm]
    usage = [(c.model, c.input_tokens, c.output_tokens, c.cost_usd) for c in llm]
    assert all(c.input_tokens > 0 and c.output_tokens > 0 and c.cost_usd for c in llm), usage
    assert traj.output == answer
"""

CASES = {
    "openai": [{}, {"stream": True}, {"decorated": True}],
    "anthropic": [{}, {"stream": True}, {"decorated": True}],
    "openai_agents": [
        {},
        {"stream": True},
        {"decorated": True},
        {"api": "chat"},
        {"api": "chat", "decorated": True},
        {"api": "litellm"},
    ],
    "langgraph": [{}, {"stream": True}, {"decorated": True}],
    "pydantic_ai": [{}, {"stream": True}, {"decorated": True}],
}


@pytest.mark.parametrize("framework", list(CASES))
def test_framework_records_and_replays_offline(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, framework: str
) -> None:
    use_fake_model(pytester, monkeypatch)
    pytester.makeini("[pytest]\nfilterwarnings =\n    ignore::DeprecationWarning\n")
    pytester.makepyfile(test_agent=TEST.format(framework=framework, cases=CASES[framework]))
    cases = len(CASES[framework])
    pytester.runpytest("--agentops-record=once").assert_outcomes(passed=cases)
    result = pytester.runpytest("--agentops-block-network")  # replayed, the server gone
    result.assert_outcomes(passed=cases)


def test_tool_above_a_frameworks_decorator_says_to_put_it_beneath() -> None:
    from agents import function_tool
    from langchain_core.tools import tool as langchain_tool

    from pytest_agentops import tool

    def lookup_order(order_id: str) -> str:
        """Look an order up."""
        return order_id

    for framework_decorator in (function_tool, langchain_tool):
        with pytest.raises(TypeError, match="Put @tool beneath the framework's decorator"):
            tool(framework_decorator(lookup_order))
