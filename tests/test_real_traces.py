"""Assertions on real agent conversations (OpenAI messages captured from the example agent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_agentops import ANY, Gt, Regex, Trajectory, assert_tool_calls, call

TRACES = Path(__file__).parent / "data" / "openai_traces"
READ_ONLY = ["verify_identity", "lookup_order"]


def load(name: str) -> Trajectory:
    return Trajectory.load(TRACES / f"{name}.json")


def test_every_trace_loads_with_tool_results_linked() -> None:
    for path in sorted(TRACES.glob("*.json")):
        traj = Trajectory.load(path)
        assert traj.llm_calls, path
        assert all(c.call_id for c in traj.tool_calls), path
        assert isinstance(traj.output, str), path


def test_large_refund_is_approved_before_it_is_paid() -> None:
    traj = load("large_refund")
    assert_tool_calls(
        traj,
        [
            "verify_identity",
            "request_manager_approval",
            call("refund", order_id="ORD-1002", amount=Gt(100)),
        ],
        mode="ordered",
        args="partial",
    )
    assert_tool_calls(
        traj,
        [
            call("verify_identity", customer_id="C1001", email=Regex(r".+@.+")),
            call("lookup_order", order_id="ORD-1002"),
            call("request_manager_approval", order_id="ORD-1002", amount=249, reason=ANY),
            call("refund", order_id="ORD-1002", amount=249),
        ],
        mode="strict",
    )


def test_successful_state_changes_equal_the_expected_ones_in_any_order() -> None:
    # The README recipe: compare only the successful state-changing calls, in any order.
    assert_tool_calls(
        load("large_refund"),
        [
            call("refund", order_id="ORD-1002", amount=249),
            call("request_manager_approval", order_id="ORD-1002"),
        ],
        mode="unordered",
        args={"request_manager_approval": "partial", "*": "exact"},
        ignore=READ_ONLY,
        only_successful=True,
    )
    assert_tool_calls(
        load("order_status"), [], mode="unordered", ignore=READ_ONLY, only_successful=True
    )


def test_parallel_lookups_in_any_inner_order() -> None:
    traj = load("two_orders")
    expected = [
        "verify_identity",
        call("lookup_order", order_id="ORD-1003"),
        call("lookup_order", order_id="ORD-1001"),
    ]
    assert_tool_calls(traj, expected, mode="strict")


def test_failed_lookup_is_an_error_and_can_be_excluded() -> None:
    traj = load("unknown_order")
    lookup = traj.tool_calls[-1]
    assert lookup.error == "LookupError: no order with id ORD-9999"
    assert_tool_calls(traj, ["verify_identity"], mode="strict", only_successful=True)


def test_reckless_run_fails_the_ordered_expectation_and_says_where() -> None:
    with pytest.raises(AssertionError) as info:
        assert_tool_calls(
            load("reckless_refund"),
            ["verify_identity", "request_manager_approval", "refund"],
            mode="ordered",
        )
    message = str(info.value)
    assert "expected #1 verify_identity(...) was not found in the run" in message
    assert "!! PermissionError: refunds over $100 need manager approval" in message
