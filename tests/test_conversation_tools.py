"""Tool calls with no instrumentation: read from the tool results that the next LLM request
carries (OpenAI chat ``role: tool``, Responses ``function_call_output``, Anthropic
``tool_result`` blocks), unless a ``@tool`` step already answered the call."""

from __future__ import annotations

from typing import Any

import pytest

from fake_model import use_fake_model
from pytest_agentops import ToolCall, assert_tool_calls, tool
from pytest_agentops.capture.fields import llm_fields
from pytest_agentops.capture.recorder import Recorder

ASK = {"role": "user", "content": "Weather in Paris and Oslo?"}
CALLS = [
    {"id": f"c{i}", "type": "function", "function": {"name": "weather", "arguments": args}}
    for i, args in ((1, '{"city": "Paris"}'), (2, '{"city": "Oslo"}'))
]
ASKS_TOOLS = {"role": "assistant", "content": None, "tool_calls": CALLS}


def _llm(
    recorder: Recorder, messages: list[dict[str, Any]], reply: dict[str, Any], at: float
) -> None:
    recorder.wire_llm_call(
        llm_fields(
            model="gpt-4o-mini",
            provider="openai",
            input_messages=messages,
            output_message=reply,
            requested_tool_calls=[
                {"id": c["id"], "name": c["function"]["name"], "arguments": {"city": city}}
                for c, city in zip(reply.get("tool_calls") or [], ["Paris", "Oslo"], strict=False)
            ],
            input_tokens=10,
            output_tokens=5,
        ),
        at,
        1000.0,  # each call takes a second
    )


def _results(*messages: dict[str, Any]) -> list[dict[str, Any]]:
    return [ASK, ASKS_TOOLS, *messages]


def test_tool_results_in_the_next_request_become_tool_steps() -> None:
    recorder = Recorder()
    _llm(recorder, [ASK], ASKS_TOOLS, at=100.0)
    carried = _results(
        {"role": "tool", "tool_call_id": "c1", "content": '{"temp": 21}'},
        {"role": "tool", "tool_call_id": "c2", "content": "Error: no station in Oslo"},
    )
    _llm(recorder, carried, {"role": "assistant", "content": "Paris: 21."}, at=104.0)
    traj = recorder.trajectory
    assert [s.kind for s in traj.steps] == ["llm", "tool", "tool", "llm"]
    paris, oslo = traj.tool_calls
    assert (paris.name, paris.arguments, paris.result, paris.ok) == (
        "weather",
        {"city": "Paris"},
        {"temp": 21},
        True,
    )
    assert oslo.error == "Error: no station in Oslo"
    assert [paris.call_id, oslo.call_id] == ["c1", "c2"]
    assert paris.source == oslo.source == "conversation"
    # timed between the call that asked for them and the call that carried the results
    assert paris.started_at is not None
    assert paris.started_at.timestamp() == pytest.approx(101.0)
    assert paris.duration_ms == pytest.approx(3000.0)
    assert traj.tool_names == ["weather", "weather"]
    assert_tool_calls(recorder, ["weather", "weather"])  # parallel calls: one group


def test_a_tool_step_answering_the_call_is_not_duplicated() -> None:
    @tool
    def weather(city: str) -> dict[str, Any]:
        return {"temp": 21}

    with Recorder() as recorder:
        _llm(recorder, [ASK], ASKS_TOOLS, at=100.0)
        weather("Paris")  # decorated: exact timing; Oslo is not
        carried = _results(
            {"role": "tool", "tool_call_id": "c1", "content": '{"temp": 21}'},
            {"role": "tool", "tool_call_id": "c2", "content": '{"temp": 5}'},
        )
        _llm(recorder, carried, {"role": "assistant", "content": "ok"}, at=104.0)
    paris, oslo = recorder.trajectory.tool_calls
    assert (paris.call_id, paris.source) == ("c1", None)
    assert (oslo.call_id, oslo.source, oslo.result) == ("c2", "conversation", {"temp": 5})


def test_anthropic_tool_result_blocks_and_errors() -> None:
    recorder = Recorder()
    _llm(recorder, [ASK], ASKS_TOOLS, at=100.0)
    text = [{"type": "text", "text": "21"}]
    blocks = {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "c1", "content": text},
            {"type": "tool_result", "tool_use_id": "c2", "content": "no station", "is_error": True},
        ],
    }
    _llm(recorder, _results(blocks), {"role": "assistant", "content": "ok"}, at=104.0)
    paris, oslo = recorder.trajectory.tool_calls
    assert (paris.result, paris.ok) == (21, True)
    assert (oslo.error, oslo.ok) == ("no station", False)


def test_results_of_calls_no_recorded_response_asked_for_are_history() -> None:
    recorder = Recorder()
    history = _results({"role": "tool", "tool_call_id": "c1", "content": "21"})
    _llm(recorder, history, {"role": "assistant", "content": "It is 21."}, at=100.0)
    assert recorder.trajectory.tool_calls == []


def test_results_that_never_reach_another_llm_call_stay_requested_only() -> None:
    recorder = Recorder()
    _llm(recorder, [ASK], ASKS_TOOLS, at=100.0)
    traj = recorder.trajectory
    assert traj.tool_calls == []
    assert [r.name for r in traj.llm_calls[0].requested_tool_calls] == ["weather", "weather"]


def test_each_result_becomes_one_step_though_every_later_request_repeats_it() -> None:
    recorder = Recorder()
    _llm(recorder, [ASK], ASKS_TOOLS, at=100.0)
    first = _results(
        {"role": "tool", "tool_call_id": "c1", "content": "21"},
        {"role": "tool", "tool_call_id": "c2", "content": "5"},
    )
    _llm(recorder, first, {"role": "assistant", "content": "Paris 21, Oslo 5."}, at=104.0)
    again = [*first, {"role": "assistant", "content": "Paris 21, Oslo 5."}, ASK]
    _llm(recorder, again, {"role": "assistant", "content": "Still the same."}, at=108.0)
    assert len(recorder.trajectory.tool_calls) == 2


RAW_AGENT = """
import json
import openai
from pytest_agentops import assert_tool_calls, call
from support_agent.store import SupportStore
from support_agent.tools import TOOL_SCHEMAS, SupportTools
from support_agent.agent import SYSTEM_PROMPT

def run_agent(base_url, question):
    # A hand-written loop on the raw openai SDK, tools with no @tool: nothing instrumented.
    client = openai.OpenAI(base_url=base_url, api_key="sk-test")
    tools = SupportTools(SupportStore.demo())
    messages = [
        {"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": question}
    ]
    for _ in range(8):
        reply = client.chat.completions.create(
            model="gpt-4o-mini", messages=messages, tools=TOOL_SCHEMAS
        )
        message = reply.choices[0].message
        messages.append(message.model_dump(exclude_none=True))
        if not message.tool_calls:
            return message.content
        for c in message.tool_calls:
            plain = getattr(SupportTools, c.function.name).__wrapped__  # the function, undecorated
            try:
                content = json.dumps(plain(tools, **json.loads(c.function.arguments)))
            except Exception as exc:
                content = json.dumps({"error": str(exc)})
            messages.append({"role": "tool", "tool_call_id": c.id, "content": content})

def test_status(agent_trace, base_url):
    run_agent(base_url, "Hi, I'm customer C1001 (ada@example.com). Where is ORD-1002?")
    traj = agent_trace.trajectory
    assert traj.tool_names == ["verify_identity", "lookup_order"]
    assert all(step.source == "conversation" for step in traj.tool_calls)
    assert_tool_calls(agent_trace, [
        call("verify_identity", customer_id="C1001", email="ada@example.com"),
        call("lookup_order", order_id="ORD-1002"),
    ])
    assert traj.tool_calls[1].result["order_id"] == "ORD-1002"
"""


def test_an_undecorated_raw_sdk_agent_is_asserted_on_recorded_and_replayed(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_fake_model(pytester, monkeypatch)
    pytester.makepyfile(test_raw=RAW_AGENT)
    pytester.runpytest("--agentops-record=once").assert_outcomes(passed=1)
    pytester.runpytest().assert_outcomes(passed=1)  # replayed offline


def test_tool_call_source_is_part_of_the_model() -> None:
    assert ToolCall(name="t", source="conversation").source == "conversation"
    assert ToolCall(name="t").source is None
