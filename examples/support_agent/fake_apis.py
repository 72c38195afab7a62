"""The OpenAI Responses API and the Anthropic Messages API on top of ``FakeLLM``'s script.

A request in either API is read as the chat-completions request it amounts to (same
conversation, same tools offered), the scripted model answers it as a chat completion, and
the answer is written back in the API's own shape: JSON, or server-sent events as the API
streams them.  Standard library only, like ``fake_llm``.
"""

from __future__ import annotations

import json
from typing import Any

# The answers are written in each API's shape by the plugin's own code (standard library
# only), which replays promoted incidents the same way.
from pytest_agentops.cases.wire_answers import (  # noqa: F401  (re-exported for fake_llm)
    Event,
    chat_as_message,
    chat_as_response,
    message_events,
    response_events,
)


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
