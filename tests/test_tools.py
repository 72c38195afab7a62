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


# ---- framework context parameters, values that are not data ----------------------------------


class RunContext:  # named like pydantic-ai's; holds a cycle, like the real one
    def __init__(self) -> None:
        self.me = self

    def __class_getitem__(cls, item: object) -> type:
        return cls


class RunContextWrapper(RunContext):  # named like openai-agents'
    pass


class InjectedToolCallId:  # named like LangChain's marker for Annotated[str, ...]
    pass


def test_framework_context_parameters_are_not_arguments() -> None:
    from typing import Annotated, Any

    @tool
    def pydantic_ai_tool(ctx: RunContext[Any], city: str) -> str:
        return city

    @tool
    def agents_tool(wrapper: RunContextWrapper[Any], city: str) -> str:
        return city

    @tool
    def langchain_tool(
        city: str,
        config: RunnableConfig,  # type: ignore[name-defined]  # noqa: F821
        call_id: Annotated[str, InjectedToolCallId],
        callbacks: Any = None,
    ) -> str:
        return city

    def evaluated(ctx, city, call_id):  # type: ignore[no-untyped-def]
        return city

    # annotations as objects (this module's are strings: `from __future__ import annotations`)
    evaluated.__annotations__ = {
        "ctx": RunContext[Any],
        "city": str,
        "call_id": Annotated[str, InjectedToolCallId],
    }
    evaluated_tool = tool(evaluated)

    with Recorder() as rec:
        pydantic_ai_tool(RunContext(), "Paris")
        agents_tool(RunContextWrapper(), city="Paris")
        langchain_tool(city="Paris", config={"tags": []}, call_id="c1", callbacks=object())
        evaluated_tool(RunContext(), "Paris", call_id="c2")
    assert [c.arguments for c in rec.trajectory.tool_calls] == [{"city": "Paris"}] * 4


def test_exclude_leaves_parameters_out() -> None:
    @tool(exclude=["session"])
    def lookup(session: object, order_id: str) -> str:
        return order_id

    with Recorder() as rec:
        lookup(object(), "A1")
        lookup(session=object(), order_id="A2")
    assert [c.arguments for c in rec.trajectory.tool_calls] == [
        {"order_id": "A1"},
        {"order_id": "A2"},
    ]
    with pytest.raises(TypeError, match=r"exclude=\['sesion'\].*parameters: session, order_id"):
        tool(exclude=["sesion"])(lookup.__wrapped__)


def test_values_that_cannot_be_json_never_raise() -> None:
    cyclic: list[object] = []
    cyclic.append(cyclic)
    deep: list[object] = []
    level = deep
    for _ in range(5000):
        level.append([])
        level = level[0]  # type: ignore[assignment]

    class BadRepr:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    @tool
    def echo(value: object) -> object:
        return value

    with Recorder() as rec:
        for value in (cyclic, deep, {"ctx": RunContext()}, BadRepr()):
            assert echo(value) is value
    steps = rec.trajectory.tool_calls
    assert len(steps) == 4
    assert all(step.ok for step in steps)
    assert "cycle" in str(steps[0].result)
    assert "BadRepr" in str(steps[3].result)
    rec.trajectory.dump()  # and they can be written


def test_tool_above_the_frameworks_decorator_says_to_put_it_beneath() -> None:
    class FunctionTool:  # what openai-agents' @function_tool returns: not callable
        name = "get_weather"

    with pytest.raises(TypeError, match="Put @tool beneath the framework's decorator"):
        tool(FunctionTool())  # type: ignore[call-overload]
