from __future__ import annotations

import asyncio
import inspect
from concurrent.futures import ThreadPoolExecutor

import pytest

from pytest_agentops import tool
from pytest_agentops.capture.recorder import Recorder


@tool
def lookup_order(order_id: str, include_items: bool = False, *extra: int, **opts: str) -> dict:
    """Look an order up."""
    if order_id == "missing":
        raise KeyError(order_id)
    return {"order_id": order_id, "items": include_items}


@tool(name="refund_money")
async def refund(order_id: str, amount: float) -> str:
    await asyncio.sleep(0)
    if amount > 100:
        raise PermissionError("needs approval")
    return f"refunded {amount}"


class Store:
    @tool
    def get(self, key: str) -> str:
        return key.upper()


def test_decorated_function_keeps_identity() -> None:
    assert lookup_order.__name__ == "lookup_order"
    assert lookup_order.__doc__ == "Look an order up."
    assert list(inspect.signature(lookup_order).parameters)[:2] == ["order_id", "include_items"]
    assert inspect.iscoroutinefunction(refund)


def test_without_recorder_behaves_like_the_function() -> None:
    assert lookup_order("1") == {"order_id": "1", "items": False}
    with pytest.raises(KeyError):
        lookup_order("missing")
    assert asyncio.run(refund("1", 5)) == "refunded 5"


def test_records_arguments_bound_by_name_result_and_duration() -> None:
    with Recorder() as rec:
        lookup_order("A1", True)
        lookup_order(order_id="A2")
        lookup_order("A3", False, 7, 8, channel="web")
    calls = rec.trajectory.tool_calls
    assert [c.arguments for c in calls] == [
        {"order_id": "A1", "include_items": True},
        {"order_id": "A2"},
        {"order_id": "A3", "include_items": False, "extra": [7, 8], "channel": "web"},
    ]
    assert calls[0].result == {"order_id": "A1", "items": True}
    assert all(c.ok and c.duration_ms is not None and c.duration_ms >= 0 for c in calls)


def test_exception_is_recorded_and_reraised() -> None:
    with Recorder() as rec, pytest.raises(KeyError):
        lookup_order("missing")
    (call,) = rec.trajectory.tool_calls
    assert call.error == "KeyError: 'missing'"
    assert not call.ok
    assert call.result is None


def test_async_tool_custom_name_and_error() -> None:
    async def run() -> None:
        await refund("9", 20.0)
        with pytest.raises(PermissionError):
            await refund("9", 250)

    with Recorder() as rec:
        asyncio.run(run())
    ok, failed = rec.trajectory.tool_calls
    assert ok.name == "refund_money"
    assert ok.arguments == {"order_id": "9", "amount": 20.0}
    assert ok.result == "refunded 20.0"
    assert failed.error == "PermissionError: needs approval"


def test_methods_do_not_record_self() -> None:
    with Recorder() as rec:
        assert Store().get("k") == "K"
    assert rec.trajectory.tool_calls[0].arguments == {"key": "k"}


def test_nested_tools_keep_parent_and_threads_are_recorded() -> None:
    @tool
    def inner(x: int) -> int:
        return x + 1

    @tool
    def outer(x: int) -> int:
        return inner(x) * 2

    with Recorder() as rec:
        outer(1)
        with ThreadPoolExecutor(2) as pool:
            assert list(pool.map(inner, [10, 20])) == [11, 21]
    steps = rec.trajectory.steps
    assert [s.name for s in steps] == ["outer", "inner", "inner", "inner"]
    assert steps[1].parent_id == steps[0].id
    assert steps[0].parent_id is None
    assert steps[2].parent_id is None


def test_unserialisable_results_become_their_repr() -> None:
    class Thing:
        def __repr__(self) -> str:
            return "<Thing>"

    @tool
    def make() -> Thing:
        return Thing()

    with Recorder() as rec:
        make()
    assert rec.trajectory.tool_calls[0].result == "<Thing>"


def test_tool_rejects_non_callables() -> None:
    with pytest.raises(TypeError, match="decorates a function"):
        tool(42)  # type: ignore[call-overload]
