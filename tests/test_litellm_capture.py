"""litellm calls are captured through its callback API: sync, async, streaming, errors."""

from __future__ import annotations

import asyncio

import litellm
import pytest

from pytest_agentops import tool
from pytest_agentops.capture.litellm import activate
from pytest_agentops.capture.recorder import Recorder

MESSAGES = [{"role": "user", "content": "Where is order 42?"}]
TOOL_CALLS = [
    {
        "id": "call_1",
        "type": "function",
        "function": {"name": "lookup_order", "arguments": '{"order_id": "42"}'},
    }
]


@pytest.fixture
def rec():
    activate()
    recorder = Recorder().start()
    yield recorder
    recorder.stop()


def test_completion_with_mock_response(rec: Recorder) -> None:
    litellm.completion(model="gpt-4o-mini", messages=MESSAGES, mock_response="It shipped.")
    (call,) = rec.trajectory.llm_calls
    assert call.model == "gpt-4o-mini"
    assert call.provider == "openai"
    assert call.input_messages == MESSAGES
    assert call.output_message == {"role": "assistant", "content": "It shipped."}
    assert call.input_tokens > 0
    assert call.output_tokens > 0
    assert call.cost_usd is not None
    assert call.cost_usd > 0
    assert call.duration_ms is not None
    assert call.ok
    assert rec.trajectory.output == "It shipped."


def test_requested_tool_calls_and_linking(rec: Recorder) -> None:
    @tool
    def lookup_order(order_id: str) -> str:
        return "shipped"

    litellm.completion(model="gpt-4o-mini", messages=MESSAGES, mock_tool_calls=TOOL_CALLS)
    lookup_order("42")
    traj = rec.trajectory
    requested = traj.llm_calls[0].requested_tool_calls
    assert [(r.id, r.name, r.arguments) for r in requested] == [
        ("call_1", "lookup_order", {"order_id": "42"})
    ]
    assert traj.tool_calls[0].call_id == "call_1"


def test_streaming_is_recorded_once_complete(rec: Recorder) -> None:
    stream = litellm.completion(
        model="gpt-4o-mini", messages=MESSAGES, mock_response="Streamed answer", stream=True
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream)
    (call,) = rec.trajectory.llm_calls
    assert call.output_text == text == "Streamed answer"
    assert call.output_tokens > 0


def test_failure_is_recorded_with_error(rec: Recorder) -> None:
    with pytest.raises(Exception, match="rate limited"):
        litellm.completion(
            model="gpt-4o-mini", messages=MESSAGES, mock_response=Exception("rate limited")
        )
    (call,) = rec.trajectory.llm_calls
    assert not call.ok
    assert "rate limited" in call.error


def test_acompletion_under_asyncio_run(rec: Recorder) -> None:
    async def agent() -> None:
        await litellm.acompletion(model="gpt-4o-mini", messages=MESSAGES, mock_response="one")
        await litellm.acompletion(model="gpt-4o-mini", messages=MESSAGES, mock_response="two")
        await rec.settle()  # the documented way to end a coroutine that asyncio.run closes

    asyncio.run(agent())
    calls = rec.trajectory.llm_calls
    assert [c.output_text for c in calls] == ["one", "two"]
    assert all(c.cost_usd and c.input_tokens for c in calls)


def test_acompletion_events_are_never_lost_silently(rec: Recorder) -> None:
    """Without settle(), asyncio.run may close the loop while litellm is still logging a call
    (litellm then cancels that logging).  Every call is still in the trajectory: delivered, or
    marked with an error that says what happened and how to avoid it, without a long wait."""
    import time

    async def agent() -> None:
        for text in ("one", "two", "three"):
            await litellm.acompletion(model="gpt-4o-mini", messages=MESSAGES, mock_response=text)

    asyncio.run(agent())
    started = time.monotonic()
    calls = rec.trajectory.llm_calls
    assert time.monotonic() - started < 2
    assert len(calls) == 3
    for call, text in zip(calls, ("one", "two", "three"), strict=True):
        assert call.output_text == text or "await agent_trace.settle()" in (call.error or "")


def test_async_streaming_and_async_failure(rec: Recorder) -> None:
    async def agent() -> None:
        stream = await litellm.acompletion(
            model="gpt-4o-mini", messages=MESSAGES, mock_response="chunked", stream=True
        )
        async for _ in stream:
            pass
        with pytest.raises(Exception, match="boom"):
            await litellm.acompletion(
                model="gpt-4o-mini", messages=MESSAGES, mock_response=Exception("boom")
            )

    asyncio.run(agent())
    ok, failed = rec.trajectory.llm_calls
    assert ok.output_text == "chunked"
    assert ok.ok
    assert "boom" in failed.error


def test_llm_call_inside_a_tool_is_its_child(rec: Recorder) -> None:
    @tool
    async def summarise(text: str) -> str:
        response = await litellm.acompletion(
            model="gpt-4o-mini", messages=[{"role": "user", "content": text}], mock_response="sum"
        )
        return response.choices[0].message.content

    asyncio.run(summarise("long text"))
    tool_step, llm_step = rec.trajectory.steps
    assert llm_step.parent_id == tool_step.id
    assert tool_step.result == "sum"


def test_reading_inside_a_running_loop_needs_settle(rec: Recorder) -> None:
    async def agent() -> None:
        await litellm.acompletion(model="gpt-4o-mini", messages=MESSAGES, mock_response="x")
        if rec.pending_llm_calls():
            with pytest.raises(RuntimeError, match=r"await agent_trace.settle\(\)"):
                _ = rec.trajectory
        await rec.settle()
        assert rec.pending_llm_calls() == 0
        assert rec.trajectory.llm_calls[0].output_text == "x"

    asyncio.run(agent())


def test_calls_outside_a_recording_are_ignored(rec: Recorder) -> None:
    rec.stop()
    litellm.completion(model="gpt-4o-mini", messages=MESSAGES, mock_response="ignored")
    assert rec.trajectory.llm_calls == []


def _logger():
    from pytest_agentops.capture import litellm as litellm_capture

    litellm_capture.ensure_installed()
    return litellm_capture._logger_instance


def _success_kwargs(call_id: str) -> dict:
    return {"litellm_call_id": call_id, "model": "gpt-4o-mini", "response_cost": 0.25}


def test_completion_event_after_the_test_body_still_lands() -> None:
    """litellm may deliver the success event from a worker thread after the recorder stopped."""
    import threading

    logger = _logger()
    recorder = Recorder().start()
    logger.log_pre_api_call(
        "gpt-4o-mini", MESSAGES, {"litellm_call_id": "late-1", "litellm_params": {}}
    )
    recorder.stop()
    timer = threading.Timer(
        0.1, logger.log_success_event, args=(_success_kwargs("late-1"), None, None, None)
    )
    timer.start()
    (call,) = recorder.trajectory.llm_calls
    assert call.ok
    assert call.cost_usd == 0.25


def test_event_that_never_arrives_is_reported_not_lost() -> None:
    logger = _logger()
    recorder = Recorder().start()
    logger.log_pre_api_call(
        "gpt-4o-mini", MESSAGES, {"litellm_call_id": "lost-1", "litellm_params": {}}
    )
    recorder.stop()
    recorder.flush(timeout=0.05)
    (call,) = recorder.trajectory.llm_calls
    assert "did not report how this call ended within 0.05s" in call.error
    # ...and if it finally arrives, the same step is completed, not duplicated
    logger.log_success_event(_success_kwargs("lost-1"), None, None, None)
    (call,) = recorder.trajectory.llm_calls
    assert call.ok
    assert call.cost_usd == 0.25
