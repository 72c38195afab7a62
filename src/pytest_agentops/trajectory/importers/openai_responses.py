"""OpenAI Responses API items -> trajectory data.

A trace is a list of items, or an object with ``input`` and/or ``output`` item lists (a
request with its response, or a ``response`` object, whose ``model``, ``id`` and ``usage`` are
kept on the last model call).  ``message`` items (text in ``input_text`` / ``output_text``
parts, or a plain ``content`` string), ``function_call`` items (the calls the model asked
for; consecutive ones are one model turn) and ``function_call_output`` items (the tool
results) are read through their chat-completions form; ``reasoning`` and other items are
skipped.
"""

from __future__ import annotations

from typing import Any

from pytest_agentops.errors import TrajectoryLoadError
from pytest_agentops.trajectory.openai_format import chat_tool_call

from .openai_messages import trajectory_from_openai_messages

_ITEMS = frozenset({"message", "function_call", "function_call_output", "reasoning"})


def _items(data: Any) -> list[Any] | None:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        items: list[Any] = []
        for key in ("input", "output"):
            value = data.get(key)
            if isinstance(value, str) and key == "input":
                items.append({"role": "user", "content": value})
            elif isinstance(value, list):
                items.extend(value)
        return items
    return None


def is_responses(data: Any) -> bool:
    if isinstance(data, dict) and "messages" in data:
        return False
    if isinstance(data, dict) and not any(
        isinstance(data.get(k), list) for k in ("input", "output")
    ):
        return False
    items = _items(data) or []
    return any(
        isinstance(item, dict)
        and (
            item.get("type") in ("function_call", "function_call_output", "reasoning")
            or (
                item.get("type") == "message"
                and isinstance(item.get("content"), list)
                and any(
                    isinstance(p, dict) and p.get("type") in ("input_text", "output_text")
                    for p in item["content"]
                )
            )
        )
        for item in items
    )


def _text(content: Any) -> Any:
    if isinstance(content, list):
        texts: list[str] = [
            p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        ]
        return "".join(texts) if texts else content
    return content


def trajectory_from_responses(data: Any, *, source: str = "<responses>") -> dict[str, Any]:
    items = _items(data)
    if items is None:
        raise TrajectoryLoadError(
            f"{source}: expected a list of Responses items, or an object with `input`/`output`"
        )
    messages: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise TrajectoryLoadError(
                f"{source}: item [{index}] is not a Responses item: expected an object with "
                f"`type`, got {item!r:.60}"
            )
        kind = item.get("type", "message" if "role" in item else None)
        if not isinstance(kind, (str, type(None))):
            raise TrajectoryLoadError(
                f"{source}: item [{index}]: field `type` must be a string such as "
                f"'message' or 'function_call', got {kind!r:.60}"
            )
        if kind == "message":
            messages.append(
                {"role": str(item.get("role") or "user"), "content": _text(item.get("content"))}
            )
        elif kind == "function_call":
            call = chat_tool_call(
                item.get("call_id") or item.get("id"), item.get("name"), item.get("arguments")
            )
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant" and "tool_calls" in last:
                last["tool_calls"].append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            output = item.get("output")
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": item.get("call_id"),
                    "content": _text(output) if not isinstance(output, dict) else output,
                }
            )
        elif kind not in _ITEMS:
            continue
    model = str(data.get("model") or "unknown") if isinstance(data, dict) else "unknown"
    out = trajectory_from_openai_messages(messages, model=model, source=source)
    if isinstance(data, dict):
        last = next((s for s in reversed(out["steps"]) if s["kind"] == "llm"), None)
        usage = data.get("usage")
        if last is not None and isinstance(usage, dict):
            for ours, theirs in (
                ("input_tokens", "input_tokens"),
                ("output_tokens", "output_tokens"),
            ):
                value = usage.get(theirs)
                if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                    last[ours] = value
        if last is not None and isinstance(data.get("id"), str):
            last["response_id"] = data["id"]
    out["metadata"] = {"source_format": "openai-responses"}
    return out
