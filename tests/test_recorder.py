from __future__ import annotations

import pytest

from pytest_agentops import LLMCall, MessageStep, SpanStep, ToolCall
from pytest_agentops.capture.fields import llm_fields
from pytest_agentops.capture.recorder import Recorder


def test_manual_api_builds_a_tree() -> None:
    rec = Recorder(name="manual", metadata={"agent": "support", "version": "1.2"})
    rec.set_input("refund order 7")
    rec.message("user", "refund order 7")
    with rec.step("plan", strategy="verify-first") as plan_id:
        rec.llm_call(
            "gpt-4o-mini",
            input_messages=[{"role": "user", "content": "refund order 7"}],
            output={
                "role": "assistant",
                "tool_calls": [
                    {"id": "c1", "function": {"name": "refund", "arguments": '{"order_id": "7"}'}}
                ],
            },
            requested_tool_calls=[{"id": "c1", "name": "refund", "arguments": {"order_id": "7"}}],
            input_tokens=100,
            output_tokens=20,
        )
        rec.tool_call("refund", {"order_id": "7"}, result="ok")
    rec.tool_call("notify", {"to": "x"}, error=TimeoutError("smtp"))
    rec.llm_call("gpt-4o-mini", output="Refunded.", cost_usd=0.5)
    traj = rec.trajectory
    kinds = [type(s) for s in traj.steps]
    assert kinds == [MessageStep, SpanStep, LLMCall, ToolCall, ToolCall, LLMCall]
    span = traj.steps[1]
    assert span.id == plan_id
    assert span.attributes == {"strategy": "verify-first"}
    assert [s.parent_id for s in traj.steps] == [None, None, plan_id, plan_id, None, None]
    assert traj.children(plan_id) == traj.steps[2:4]
    assert traj.tool_calls[0].call_id == "c1"
    assert traj.tool_calls[1].error == "TimeoutError: smtp"
    assert traj.input == "refund order 7"
    assert traj.output == "Refunded."
    assert traj.metadata == {"agent": "support", "version": "1.2"}
    assert traj.name == "manual"
    # cost from litellm's price table when not given (gpt-4o-mini is priced)
    assert traj.llm_calls[0].cost_usd is not None
    assert traj.llm_calls[0].cost_usd > 0
    assert traj.cost_usd == pytest.approx(0.5 + traj.llm_calls[0].cost_usd)


def test_span_records_exception() -> None:
    rec = Recorder()
    with pytest.raises(ValueError, match="bad plan"), rec.step("boom"):
        raise ValueError("bad plan")
    assert rec.trajectory.steps[0].error == "ValueError: bad plan"


def test_unpriced_model_has_no_cost() -> None:
    rec = Recorder()
    rec.llm_call("my-local-model-xyz", output="hi", input_tokens=5, output_tokens=5)
    assert rec.trajectory.llm_calls[0].cost_usd is None
    assert rec.trajectory.cost_usd == 0


def test_output_defaults_to_the_final_answer_and_can_be_overridden() -> None:
    rec = Recorder()
    rec.llm_call("m", output="first")
    rec.llm_call("m", output="final")
    assert rec.trajectory.output == "final"
    rec.set_output({"answer": 42})
    assert rec.trajectory.output == {"answer": 42}


def test_start_and_stop_control_what_is_recorded() -> None:
    from pytest_agentops import tool

    @tool
    def t() -> None:
        return None

    rec = Recorder()
    t()
    rec.start()
    assert rec.active
    t()
    rec.stop()
    t()
    assert not rec.active
    assert len(rec.trajectory.tool_calls) == 1
    assert rec.trajectory.ended_at is not None


def test_recorders_nest() -> None:
    from pytest_agentops import tool

    @tool
    def t(i: int) -> int:
        return i

    outer = Recorder().start()
    t(1)
    with Recorder() as inner:
        t(2)
    t(3)
    outer.stop()
    assert [c.arguments["i"] for c in outer.trajectory.tool_calls] == [1, 3]
    assert [c.arguments["i"] for c in inner.trajectory.tool_calls] == [2]


def _wire(recorder: Recorder, content: str, response_id: str | None, tokens: int = 10) -> None:
    recorder.wire_llm_call(
        llm_fields(
            model="gpt-4o-mini",
            provider="openai",
            input_messages=[{"role": "user", "content": content}],
            output_message={"role": "assistant", "content": f"re: {content}"},
            input_tokens=tokens,
            output_tokens=2,
            response_id=response_id,
        ),
        0.0,
        5.0,
    )


def test_calls_seen_by_litellm_and_on_the_wire_are_kept_once() -> None:
    recorder = Recorder()
    messages = [{"role": "user", "content": "a"}]
    recorder.llm_started("id-a", llm_fields(model="gpt-4o-mini", input_messages=messages), False)
    recorder.llm_finished(
        "id-a",
        llm_fields(output_message={"role": "assistant", "content": "x"}, response_id="r1"),
    )
    _wire(recorder, "a", "r1")  # the same call, seen on the wire: dropped
    _wire(recorder, "b", "r2")  # a raw SDK call: kept, priced from the table
    steps = recorder.trajectory.llm_calls
    assert [s.response_id for s in steps] == ["r1", "r2"]
    assert steps[0].output_text == "x"  # litellm's copy wins
    assert steps[1].cost_usd is not None
    assert steps[1].cost_usd > 0


def test_a_litellm_call_whose_completion_was_lost_is_filled_from_the_wire() -> None:
    recorder = Recorder()
    messages = [{"role": "user", "content": "a", "extra": None}]
    recorder.llm_started("id-a", llm_fields(model="gpt-4o-mini", input_messages=messages), True)
    _wire(recorder, "a", "r1", tokens=33)
    recorder.abandon_pending("litellm did not report how this call ended: lost")
    (step,) = recorder.trajectory.llm_calls
    assert step.ok
    assert step.output_text == "re: a"
    assert step.input_tokens == 33
    assert step.response_id == "r1"


def _litellm_call(recorder: Recorder, delivered: bool) -> None:
    """One acompletion() as litellm and the wire see it; litellm's completion event may be
    lost (the event loop closed first), which happens or not depending on timing."""
    messages = [{"role": "user", "content": "a"}, {"role": "assistant", "content": None}]
    recorder.llm_started("id-a", llm_fields(model="gpt-4o-mini", input_messages=messages), True)
    if delivered:
        recorder.llm_finished(
            "id-a",
            llm_fields(
                output_message={"role": "assistant", "content": "re: a"},
                input_tokens=33,
                output_tokens=2,
                cost_usd=33 * 0.15e-6 + 2 * 0.6e-6,
                response_id="r1",
            ),
        )
    # the wire's copy of the request: the SDK left out the null content
    recorder.wire_llm_call(
        llm_fields(
            model="gpt-4o-mini",
            provider="openai",
            input_messages=[{"role": "user", "content": "a"}, {"role": "assistant"}],
            output_message={"role": "assistant", "content": "re: a"},
            input_tokens=33,
            output_tokens=2,
            response_id="r1",
        ),
        0.0,
        5.0,
    )
    recorder.abandon_pending("litellm did not report how this call ended: lost")


def test_the_same_call_is_recorded_the_same_whether_litellm_reported_it_or_not() -> None:
    steps = []
    for delivered in (True, False):
        recorder = Recorder()
        _litellm_call(recorder, delivered)
        (step,) = recorder.trajectory.llm_calls
        steps.append(step.model_dump(exclude={"id", "started_at", "duration_ms", "provider"}))
    assert steps[0] == steps[1]
    assert steps[1]["cost_usd"] is not None
    assert steps[1]["cost_usd"] == pytest.approx(33 * 0.15e-6 + 2 * 0.6e-6)


def test_impossible_numbers_from_a_provider_are_unknown_not_a_crash() -> None:
    fields = llm_fields(
        model="m",
        input_tokens=-3,
        output_tokens=5,
        cached_tokens=-1,
        cost_usd=float("nan"),
        duration_ms=-2.0,
    )
    assert fields == {"model": "m", "output_tokens": 5}
    assert "cost_usd" not in llm_fields(model="m", cost_usd=float("inf"))
    rec = Recorder()
    with rec:
        rec.llm_call("m", output="hi", input_tokens=-1, cost_usd=float("nan"))
    (call,) = rec.trajectory.llm_calls
    assert call.input_tokens == 0
    assert call.cost_usd is None
