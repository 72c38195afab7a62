"""Trajectory assertions and policies for the support agent.

Every test in this module is checked against ``policies/support.yaml`` (the module-level
marker below): a test fails if the agent breaks a rule, with the rule, the step and the call in
the message.  The tests also show the assertion helpers: ``assert_tool_calls`` in its five
modes, argument matchers, and the smaller ``assert_*`` helpers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_agentops import (
    ANY,
    Contains,
    Gt,
    Lt,
    Recorder,
    Regex,
    assert_called,
    assert_called_before,
    assert_not_called,
    assert_output_contains,
    assert_policy,
    assert_tool_calls,
    assert_within,
    call,
)
from support_agent.agent import arun_support_agent, run_support_agent

pytestmark = pytest.mark.agentops_policy("policies/support.yaml")

HERE = Path(__file__).parent
ADA = "Hi, I'm customer C1001 (ada@example.com)."
#: Tools that only read: left out when comparing what the agent changed.
READ_ONLY = ["verify_identity", "lookup_order"]


def test_order_status_strict(agent_trace: Recorder, ask_agent: Callable[..., str]) -> None:
    ask_agent(f"{ADA} Where is my order ORD-1001?")

    # strict: exactly these calls in this order, arguments compared exactly (matchers allowed).
    assert_tool_calls(
        agent_trace,
        [
            call("verify_identity", customer_id="C1001", email=Regex(r"[^@]+@example\.com")),
            call("lookup_order", order_id="ORD-1001"),
        ],
    )
    # subset: a status question must not change anything, so only read-only tools appear.
    assert_tool_calls(agent_trace, READ_ONLY, mode="subset")
    assert_output_contains(agent_trace, "shipped")


def test_large_refund_ordered_with_matchers(
    agent_trace: Recorder, ask_agent: Callable[..., str]
) -> None:
    ask_agent(f"{ADA} My headphones (ORD-1002) stopped working, please refund the $249.")

    # ordered: these calls in this order; others (the lookup) may come between.
    assert_tool_calls(
        agent_trace,
        [
            "verify_identity",
            call("request_manager_approval", order_id="ORD-1002", amount=Gt(100)),
            call("refund", order_id="ORD-1002", amount=249),
        ],
        mode="ordered",
        args="partial",  # expected keys must match; the approval's `reason` may say anything
    )
    assert_called_before(agent_trace, "request_manager_approval", "refund")
    assert_called(agent_trace, "refund", {"amount": 249}, times=1)
    assert_policy(agent_trace, HERE / "policies" / "refunds.yaml")


def test_successful_changes_unordered(agent_trace: Recorder, ask_agent: Callable[..., str]) -> None:
    ask_agent(f"{ADA} My headphones (ORD-1002) stopped working, please refund the $249.")

    # "The successful state-changing calls equal these, in any order", in one call:
    assert_tool_calls(
        agent_trace,
        [
            call("refund", order_id="ORD-1002", amount=249),
            call("request_manager_approval", order_id="ORD-1002", amount=249, reason=ANY),
        ],
        mode="unordered",
        ignore=READ_ONLY,
        only_successful=True,
    )


def test_parallel_lookups_superset(agent_trace: Recorder, agent_options: dict[str, Any]) -> None:
    asyncio.run(
        arun_support_agent(f"{ADA} Where are my orders ORD-1001 and ORD-1003?", **agent_options)
    )

    # Both lookups were requested in one model response: their order inside that parallel
    # group carries no meaning, so strict accepts them either way round.
    assert_tool_calls(
        agent_trace,
        [
            "verify_identity",
            call("lookup_order", order_id="ORD-1003"),
            call("lookup_order", order_id="ORD-1001"),
        ],
    )
    # superset: at least these calls, in any order, extras allowed.
    assert_tool_calls(agent_trace, ["lookup_order", "lookup_order"], mode="superset")
    assert_within(agent_trace, max_steps=8, max_llm_calls=3, max_cost_usd=0.005)


def test_account_deletion_only_opens_a_ticket(
    agent_trace: Recorder, ask_agent: Callable[..., str]
) -> None:
    ask_agent(f"{ADA} Please delete my account.")

    assert_not_called(agent_trace, "delete_account")
    assert_tool_calls(
        agent_trace,
        [call("create_ticket", summary=Contains("delete"), priority="normal")],
        mode="unordered",
        ignore=READ_ONLY,
    )


def test_small_refund_needs_no_approval(
    agent_trace: Recorder, ask_agent: Callable[..., str]
) -> None:
    ask_agent(f"{ADA} My USB-C cable from ORD-1001 broke, can I get $20 back?")

    assert_not_called(agent_trace, "request_manager_approval")
    assert_called(agent_trace, "refund", {"order_id": "ORD-1001", "amount": Lt(100)})
    assert_output_contains(agent_trace, Regex(r"\$20\.00"))


# ---- a regressed model: the policy and the assertions catch it ---------------------------


@pytest.mark.agentops_policy(None)  # policies off here: this test inspects the failures itself
def test_reckless_model_breaks_the_policy(
    agent_trace: Recorder, reckless_options: dict[str, Any]
) -> None:
    run_support_agent(f"{ADA} Please refund $249 for ORD-1002.", **reckless_options)

    with pytest.raises(AssertionError) as failure:
        assert_policy(agent_trace, HERE / "policies" / "support.yaml")
    lines = str(failure.value).splitlines()
    assert lines[0] == "agentops policy violations (2):"
    assert lines[1].startswith("[verify-before-refund] step 2 refund(order_id='ORD-1002'")
    assert lines[2].startswith("[refund-approval] step 2 refund(order_id='ORD-1002'")

    with pytest.raises(AssertionError, match=r"expected #1 verify_identity\(\.\.\.\) was not"):
        assert_tool_calls(agent_trace, ["verify_identity", "refund"], mode="ordered")


RECKLESS_TEST = """
import contextlib

import pytest
from support_agent.agent import run_support_agent
from support_agent.fake_llm import FakeLLM

@pytest.mark.agentops_policy({policy!r})
def test_status_question(agent_trace, agentops_cassette):
    with contextlib.ExitStack() as stack:
        url = "http://127.0.0.1:9/v1"  # replayed from the cassette
        if agentops_cassette.recording:
            url = stack.enter_context(FakeLLM(behaviour="reckless")).base_url
        run_support_agent("Hi, I'm customer C1001 (ada@example.com). Where is ORD-1001?",
                          model="openai/gpt-4o-mini", api_base=url, api_key="fake")
"""


@pytest.mark.agentops_policy(None)  # the agent runs in the inner pytest session, not here
def test_policy_failure_output_for_a_reckless_model(
    pytester: pytest.Pytester, request: pytest.FixtureRequest
) -> None:
    # How the failure reads in a real pytest run, asserted line by line.
    pytester.syspathinsert(HERE)
    policy = str(HERE / "policies" / "support.yaml")
    pytester.makepyfile(test_reckless=RECKLESS_TEST.format(policy=policy))
    # The inner session replays its own cassette, kept next to this module's cassettes, and
    # records it when this session records.
    cassettes = request.config.rootpath / request.config.getini("agentops_cassette_dir")
    options = ["-o", f"agentops_cassette_dir={cassettes / 'examples' / 'inner'}"]
    record = request.config.getoption("agentops_record")
    if record:
        options.append(f"--agentops-record={record}")
    result = pytester.runpytest("-p", "no:cacheprovider", *options)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "agentops policy violations (1):",
            "[[]verify-first[]] step 2 lookup_order(order_id='ORD-1001'): lookup_order was "
            "called without an earlier successful verify_identity",
            "trajectory:",
            "  1 llm   gpt-4o-mini*asks lookup_order",
            "> 2 tool  lookup_order(order_id='ORD-1001') -> *",
        ]
    )
