"""Trajectory tests for the support agent: check what it did, not only what it said.

The ``agent_trace`` fixture records every litellm call and every ``@tool`` call the test makes;
``agent_trace.trajectory`` is the run so far (steps, tool calls, LLM calls, tokens and cost).
Run with ``pytest --agentops examples/`` to see a summary of every recorded test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from pytest_agentops import Judge, Recorder
from support_agent.agent import arun_support_agent, run_support_agent
from support_agent.store import SupportStore

ADA = "Hi, I'm customer C1001 (ada@example.com)."


def test_order_status_verifies_identity_first(
    agent_trace: Recorder, ask_agent: Callable[..., str]
) -> None:
    answer = ask_agent(f"{ADA} Where is my order ORD-1001?")

    trajectory = agent_trace.trajectory
    assert trajectory.tool_names == ["verify_identity", "lookup_order"]
    verify, lookup = trajectory.tool_calls
    assert verify.arguments == {"customer_id": "C1001", "email": "ada@example.com"}
    assert verify.result == {"verified": True, "customer_id": "C1001", "name": "Ada Lovelace"}
    assert lookup.arguments == {"order_id": "ORD-1001"}
    assert lookup.result["status"] == "shipped"

    # One model call per tool round plus the final answer, each with tokens and a price.
    assert len(trajectory.llm_calls) == 3
    assert all(call.input_tokens > 0 and call.output_tokens > 0 for call in trajectory.llm_calls)
    assert trajectory.cost_usd > 0
    assert trajectory.input == f"{ADA} Where is my order ORD-1001?"
    assert trajectory.output == answer
    assert "shipped" in answer


# Tool results replay from the cassette like the model's answers, so a replayed run changes
# nothing.  These tests check that the refund really lands in the store: the tools that
# change it run for real (with the approval the refund depends on), the others replay.
@pytest.mark.agentops_cassette(real_tools=["refund"])
# An LLM judge reads the final answer after the test (recorded in the cassette like the agent's
# own calls); a score under the threshold fails the test.
@pytest.mark.agentops_judge(criteria="polite and professional tone")
@pytest.mark.agentops_judge(criteria="explains the refund: amount and order", threshold=0.9)
def test_small_refund_needs_no_approval(
    agent_trace: Recorder, ask_agent: Callable[..., str]
) -> None:
    store = SupportStore.demo()
    answer = ask_agent(
        f"{ADA} My USB-C cable from ORD-1001 broke, can I get $20 back?", store=store
    )

    trajectory = agent_trace.trajectory
    assert trajectory.tool_names == ["verify_identity", "lookup_order", "refund"]
    refund = trajectory.tool_calls[-1]
    assert refund.arguments == {"order_id": "ORD-1001", "amount": 20}
    assert refund.ok
    assert refund.result["status"] == "issued"
    assert "$20.00" in answer
    assert store.orders["ORD-1001"].refunded == 20  # the refund really happened


@pytest.mark.agentops_cassette(real_tools=["request_manager_approval", "refund"])
@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
def test_large_refund_is_approved_before_it_is_paid(
    agent_trace: Recorder, ask_agent: Callable[..., str], stream: bool
) -> None:
    store = SupportStore.demo()
    answer = ask_agent(
        f"{ADA} My headphones (ORD-1002) stopped working, please refund the $249.",
        store=store,
        stream=stream,
    )

    trajectory = agent_trace.trajectory
    names = trajectory.tool_names
    assert names == ["verify_identity", "lookup_order", "request_manager_approval", "refund"]
    assert names.index("request_manager_approval") < names.index("refund")
    approval, refund = trajectory.tool_calls[2:]
    assert approval.arguments["amount"] == refund.arguments["amount"] == 249
    assert approval.result["approved"] is True
    assert refund.ok
    assert store.orders["ORD-1002"].refunded == 249
    assert trajectory.output == answer

    # Streamed calls are recorded like the others, usage and cost included (the agent asks
    # for it with stream_options={"include_usage": True}).
    assert len(trajectory.llm_calls) == 5
    assert trajectory.input_tokens > 0
    assert trajectory.output_tokens > 0
    assert trajectory.cost_usd > 0


def test_unknown_order_is_reported_not_crashed(
    agent_trace: Recorder, ask_agent: Callable[..., str]
) -> None:
    answer = ask_agent(f"{ADA} Where is my order ORD-9999?")

    trajectory = agent_trace.trajectory
    assert trajectory.tool_names == ["verify_identity", "lookup_order"]
    lookup = trajectory.tool_calls[-1]
    assert not lookup.ok
    assert lookup.error == "LookupError: no order with id ORD-9999"
    # The agent loop handed the error to the model as a tool message, and the model answered.
    last_input = trajectory.llm_calls[-1].input_messages[-1]
    assert last_input["role"] == "tool"
    assert "no order with id ORD-9999" in last_input["content"]
    assert "couldn't find" in answer
    assert trajectory.output == answer


def test_async_agent_looks_orders_up_in_parallel(
    agent_trace: Recorder, agent_options: dict[str, Any]
) -> None:
    # A sync test runs the async agent with asyncio.run; reading agent_trace.trajectory
    # afterwards waits for litellm's async logging to deliver every call.
    answer = asyncio.run(
        arun_support_agent(f"{ADA} Where are my orders ORD-1001 and ORD-1003?", **agent_options)
    )

    trajectory = agent_trace.trajectory
    assert trajectory.tool_names == ["verify_identity", "lookup_order", "lookup_order"]
    # The second model response asked for both lookups at once (parallel tool calls) ...
    requested = trajectory.llm_calls[1].requested_tool_calls
    assert [(r.name, r.arguments) for r in requested] == [
        ("lookup_order", {"order_id": "ORD-1001"}),
        ("lookup_order", {"order_id": "ORD-1003"}),
    ]
    # ... and each execution is linked to the request it answers.
    assert [c.call_id for c in trajectory.tool_calls[1:]] == [r.id for r in requested]
    assert len(trajectory.llm_calls) == 3
    assert trajectory.total_tokens > 0
    assert trajectory.cost_usd > 0
    assert "ORD-1001" in answer
    assert "ORD-1003" in answer


@pytest.mark.agentops(name="account-deletion")
@pytest.mark.agentops_cassette(real_tools=["create_ticket"])
def test_account_deletion_becomes_a_ticket(ask_agent: Callable[..., str]) -> None:
    # The marker records this test's trajectory (see the --agentops summary) without the
    # agent_trace fixture: handy for tests that only check the answer and side effects.
    store = SupportStore.demo()
    answer = ask_agent(f"{ADA} Please delete my account.", store=store)

    assert "C1001" in store.customers  # never delete accounts ...
    assert [t.summary for t in store.tickets] == ["Customer C1001 asks to delete their account"]
    assert "ticket T-1" in answer  # ... hand the request to a human instead


def test_reckless_model_is_exposed_by_its_trajectory(
    agent_trace: Recorder, reckless_options: dict[str, Any], agent_judge: Judge
) -> None:
    # The same agent code on a model that ignores the policy in the system prompt.  The answer
    # alone looks like an honest failure; the trajectory shows what went wrong.
    store = SupportStore.demo()
    answer = run_support_agent(
        f"{ADA} Please refund $249 for ORD-1002.", store=store, **reckless_options
    )

    trajectory = agent_trace.trajectory
    # It went straight for the money: no identity check, no manager approval.
    assert trajectory.tool_names == ["refund"]
    assert "verify_identity" not in trajectory.tool_names
    assert "request_manager_approval" not in trajectory.tool_names
    refund = trajectory.tool_calls[0]
    assert refund.arguments == {"order_id": "ORD-1002", "amount": 249}
    # Only the backend's own guard stopped it.
    assert not refund.ok
    assert refund.error is not None
    assert refund.error.startswith("PermissionError: refunds over $100 need manager approval")
    assert store.refunds == []
    assert "didn't go through" in answer

    # An LLM judge grading the answer alone is satisfied: it is polite and mentions the order.
    assert agent_judge(answer, "polite and professional tone")
    # Judging the whole run against the policy tells the truth.
    verdict = agent_judge(trajectory, "verify identity, then ask for manager approval")
    assert not verdict.passed
    assert verdict.score < 0.7
