"""LangChain tools and ``ChatOpenAI`` in LangGraph's ReAct agent, with no instrumentation.

The tools take a ``RunnableConfig`` (LangChain injects it); ``@pytest_agentops.tool`` beneath
LangChain's ``@tool`` leaves it out of the recorded arguments.
"""

from __future__ import annotations

from collections.abc import Callable

from pytest_agentops import Recorder, assert_tool_calls, call
from support_agent.frameworks import run_with_langgraph

QUESTION = "Hi, I'm customer C1001 (ada@example.com). Where is ORD-1002?"
EXPECTED = [
    call("verify_identity", customer_id="C1001", email="ada@example.com"),
    call("lookup_order", order_id="ORD-1002"),
]


def test_status(agent_trace: Recorder, model_url: Callable[[str], str]) -> None:
    answer = run_with_langgraph(QUESTION, model_url("careful"))

    assert "delivered" in answer
    assert_tool_calls(agent_trace, EXPECTED)
    assert [step.source for step in agent_trace.trajectory.tool_calls] == ["conversation"] * 2


def test_status_recorded_by_tool(agent_trace: Recorder, model_url: Callable[[str], str]) -> None:
    # streamed, `@tool` beneath LangChain's `@tool`
    run_with_langgraph(QUESTION, model_url("careful"), decorated=True, stream=True)

    assert_tool_calls(agent_trace, EXPECTED)
    assert all(step.source is None for step in agent_trace.trajectory.tool_calls)
    assert agent_trace.trajectory.cost_usd > 0
