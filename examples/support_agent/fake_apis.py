"""The OpenAI Responses API and the Anthropic Messages API on top of ``FakeLLM``'s script.

A request in either API is read as the chat-completions request it amounts to (same
conversation, same tools offered), the scripted model answers it as a chat completion, and
the answer is written back in the API's own shape: JSON, or server-sent events as the API
streams them.  Standard library only, like ``fake_llm``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

Event = tuple[str, dict[str, Any]]  # (event name, data)


class BadRequest(Exception):
    """The request is not something this server understands (answered with HTTP 400)."""


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") in ("text", "input_text", "output_text")
        )
    return content if isinstance(content, str) else ""


def _pieces(text: str) -> list[str]:
    return re.findall(r"\S+\s*", text) or [text]


# ---- OpenAI Responses ----------------------------------------------------------------------


def responses_as_chat(body: dict[str, Any]) -> dict[str, Any]:
    """A Responses API request (``instructions``, ``input`` items, ``tools``) as chat."""
    messages: list[dict[str, Any]] = []
    if body.get("instructions"):
        messages.append({"role": "system", "content": str(body["instructions"])})
    items = body.get("input")
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    if not isinstance(items, list):
        raise BadRequest("'input' must be a string or a list of items")
    for item in items:
        if not isinstance(item, dict):
            raise BadRequest("each 'input' item must be an object")
        kind = item.get("type", "message")
        if kind == "message":
            messages.append(
                {"role": item.get("role", "user"), "content": _text(item.get("content"))}
            )
        elif kind == "function_call":
            call = {
                "id": item.get("call_id"),
                "type": "function",
                "function": {"name": item.get("name"), "arguments": item.get("arguments") or "{}"},
            }
            last = messages[-1] if messages else None
            if last and last["role"] == "assistant" and last.get("tool_calls"):
                last["tool_calls"].append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            output = item.get("output")
            content = output if isinstance(output, str) else json.dumps(output)
            messages.append(
                {"role": "tool", "tool_call_id": item.get("call_id"), "content": content}
            )
        # reasoning and other items carry nothing the script reads
    tools = [
        {"type": "function", "function": {"name": t.get("name")}}
        for t in body.get("tools") or []
        if isinstance(t, dict) and t.get("type") == "function"
    ]
    return {"model": body.get("model"), "messages": messages, "tools": tools}


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


def messages_as_chat(body: dict[str, Any]) -> dict[str, Any]:
    """An Anthropic Messages request (``system``, content blocks, ``tools``) as chat."""
    messages: list[dict[str, Any]] = []
    if body.get("system"):
        messages.append({"role": "system", "content": _text(body["system"]) or body["system"]})
    for message in body.get("messages") or []:
        if not isinstance(message, dict):
            raise BadRequest("each message must be an object")
        role, content = message.get("role"), message.get("content")
        if not isinstance(content, list):
            messages.append({"role": role, "content": content})
            continue
        uses = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_use"]
        results = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
        for block in results:
            output = block.get("content")
            text = output if isinstance(output, str) else _text(output)
            messages.append(
                {"role": "tool", "tool_call_id": block.get("tool_use_id"), "content": text}
            )
        if uses:
            calls = [
                {
                    "id": b.get("id"),
                    "type": "function",
                    "function": {
                        "name": b.get("name"),
                        "arguments": json.dumps(b.get("input") or {}),
                    },
                }
                for b in uses
            ]
            messages.append({"role": role, "content": _text(content) or None, "tool_calls": calls})
        elif not results:
            messages.append({"role": role, "content": _text(content)})
    tools = [
        {"type": "function", "function": {"name": t.get("name")}}
        for t in body.get("tools") or []
        if isinstance(t, dict)
    ]
    return {"model": body.get("model"), "messages": messages, "tools": tools}


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


def anthropic_error(message: str, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


__all__ = [
    "BadRequest",
    "anthropic_error",
    "chat_as_message",
    "chat_as_response",
    "message_events",
    "messages_as_chat",
    "response_events",
    "responses_as_chat",
]
