"""A model's answer written as each LLM API sends it: OpenAI chat completions (JSON, or
``chat.completion.chunk`` server-sent events), the OpenAI Responses API (a ``response``
object, or its events) and the Anthropic Messages API (a ``message``, or its events).

Everything starts from a chat completion (``choices[0].message`` with ``content`` and
``tool_calls``, and ``usage``).  The regression cases replay an incident's model answers this
way (:mod:`.replay`), and the example's scripted model server answers with the same code.
Standard library only.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

Event = tuple[str, dict[str, Any]]  # (event name, data)


def _pieces(text: str) -> list[str]:
    return re.findall(r"\S+\s*", text) or [text]


# ---- OpenAI chat completions --------------------------------------------------------------


def chat_chunks(response: dict[str, Any], include_usage: bool) -> Iterator[dict[str, Any]]:
    """Split a completion into ``chat.completion.chunk`` objects, as OpenAI streams them."""
    head = {k: response[k] for k in ("id", "created", "model", "system_fingerprint")}
    head["object"] = "chat.completion.chunk"
    choice = response["choices"][0]
    message = choice["message"]

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        data = {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}
        if include_usage:
            data["usage"] = None
        return data

    yield chunk({"role": "assistant", "content": "" if message["content"] is not None else None})
    for piece in _pieces(message["content"] or ""):
        yield chunk({"content": piece})
    for index, tool_call in enumerate(message.get("tool_calls", [])):
        arguments = tool_call["function"]["arguments"]
        start = {**tool_call, "function": {"name": tool_call["function"]["name"], "arguments": ""}}
        yield chunk({"tool_calls": [{"index": index, **start}]})
        half = len(arguments) // 2
        for part in (arguments[:half], arguments[half:]):
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": part}}]})
    yield chunk({}, choice["finish_reason"])
    if include_usage:
        yield {**head, "choices": [], "usage": response["usage"]}


def chat_events(chunks: Iterator[dict[str, Any]]) -> bytes:
    """Chat-completion chunks as the server-sent events body, ``[DONE]`` last."""
    body = "".join(f"data: {json.dumps(chunk)}\n\n" for chunk in chunks)
    return (body + "data: [DONE]\n\n").encode()


def named_events(events: Iterator[Event]) -> bytes:
    """Responses or Messages API events as the server-sent events body."""
    return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events).encode()


# ---- OpenAI Responses ----------------------------------------------------------------------


def chat_as_response(completion: dict[str, Any]) -> dict[str, Any]:
    """A chat completion as the Responses API's response object."""
    message = completion["choices"][0]["message"]
    output: list[dict[str, Any]] = []
    if message.get("content"):
        output.append(
            {
                "type": "message",
                "id": "msg_" + completion["id"][-24:],
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": message["content"], "annotations": []}],
            }
        )
    for call in message.get("tool_calls") or []:
        output.append(
            {
                "type": "function_call",
                "id": "fc_" + call["id"],
                "call_id": call["id"],
                "name": call["function"]["name"],
                "arguments": call["function"]["arguments"],
                "status": "completed",
            }
        )
    usage = completion["usage"]
    return {
        "id": "resp_" + completion["id"][-24:],
        "object": "response",
        "created_at": int(time.time()),
        "status": "completed",
        "model": completion["model"],
        "output": output,
        "usage": {
            "input_tokens": usage["prompt_tokens"],
            "output_tokens": usage["completion_tokens"],
            "total_tokens": usage["total_tokens"],
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        },
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "text": {"format": {"type": "text"}},
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "metadata": {},
        "previous_response_id": None,
        "reasoning": None,
        "temperature": None,
        "top_p": None,
        "truncation": "disabled",
    }


def response_events(response: dict[str, Any]) -> Iterator[Event]:
    """A Responses API response as the server-sent events that stream it."""
    number = iter(range(10_000))

    def event(kind: str, **data: Any) -> Event:
        return kind, {"type": kind, "sequence_number": next(number), **data}

    yield event("response.created", response={**response, "status": "in_progress", "output": []})
    for index, item in enumerate(response["output"]):
        if item["type"] == "message":
            text = item["content"][0]["text"]
            yield event(
                "response.output_item.added",
                output_index=index,
                item={**item, "status": "in_progress", "content": []},
            )
            part = {"type": "output_text", "text": "", "annotations": []}
            where = {"item_id": item["id"], "output_index": index, "content_index": 0}
            yield event("response.content_part.added", **where, part=part)
            for piece in _pieces(text):
                yield event("response.output_text.delta", **where, delta=piece, logprobs=[])
            yield event("response.output_text.done", **where, text=text, logprobs=[])
            yield event("response.content_part.done", **where, part={**part, "text": text})
        else:
            yield event(
                "response.output_item.added",
                output_index=index,
                item={**item, "status": "in_progress", "arguments": ""},
            )
            where = {"item_id": item["id"], "output_index": index}
            yield event("response.function_call_arguments.delta", **where, delta=item["arguments"])
            yield event(
                "response.function_call_arguments.done", **where, arguments=item["arguments"]
            )
        yield event("response.output_item.done", output_index=index, item=item)
    yield event("response.completed", response=response)


# ---- Anthropic Messages --------------------------------------------------------------------


def chat_as_message(completion: dict[str, Any]) -> dict[str, Any]:
    """A chat completion as the Messages API's response object."""
    message = completion["choices"][0]["message"]
    content: list[dict[str, Any]] = []
    if message.get("content"):
        content.append({"type": "text", "text": message["content"]})
    for call in message.get("tool_calls") or []:
        content.append(
            {
                "type": "tool_use",
                "id": "toolu_" + call["id"],
                "name": call["function"]["name"],
                "input": json.loads(call["function"]["arguments"]),
            }
        )
    usage = completion["usage"]
    return {
        "id": "msg_" + completion["id"][-24:],
        "type": "message",
        "role": "assistant",
        "model": completion["model"],
        "content": content,
        "stop_reason": "tool_use" if message.get("tool_calls") else "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": usage["prompt_tokens"],
            "output_tokens": usage["completion_tokens"],
        },
    }


def message_events(message: dict[str, Any]) -> Iterator[Event]:
    """A Messages API response as the server-sent events that stream it."""
    start = {**message, "content": [], "stop_reason": None}
    start["usage"] = {"input_tokens": message["usage"]["input_tokens"], "output_tokens": 1}
    yield "message_start", {"type": "message_start", "message": start}
    for index, block in enumerate(message["content"]):
        first: dict[str, Any]
        if block["type"] == "text":
            first = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": piece} for piece in _pieces(block["text"])]
        else:
            first = {**block, "input": {}}
            raw = json.dumps(block["input"])
            half = len(raw) // 2
            deltas = [
                {"type": "input_json_delta", "partial_json": p} for p in (raw[:half], raw[half:])
            ]
        yield (
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": first},
        )
        for delta in deltas:
            yield (
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": delta},
            )
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
    yield (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
            "usage": {"output_tokens": message["usage"]["output_tokens"]},
        },
    )
    yield "message_stop", {"type": "message_stop"}
