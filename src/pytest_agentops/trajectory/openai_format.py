"""The OpenAI chat-completions message format, as every capability reads it.

Messages are ``{"role", "content", "tool_calls"?, "tool_call_id"?}`` dicts; this module reads
their text, the tool calls an assistant message requests and the outcome a tool message
reports, and turns Anthropic messages (content blocks) into this form
(:func:`from_anthropic`).  Plain dicts in, plain dicts out (standard library only): the
recorder, the wire capture, the importers and the policy detectors all read messages
through it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

_ERROR_PREFIX = re.compile(r"^\s*(error|exception)\b", re.IGNORECASE)


def text_of(content: Any) -> Any:
    """The text of a message content (string, or a list of content parts); other content as
    it is."""
    if isinstance(content, list):
        parts = [
            p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        ]
        return "".join(parts) if parts else content
    return content


def message_text(message: dict[str, Any] | None) -> str:
    """All the text of a message, for scanning: string content, or its text parts one per
    line ("" when it has none)."""
    content = (message or {}).get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [part.get("text") if isinstance(part, dict) else part for part in content]
        return "\n".join(part for part in parts if isinstance(part, str))
    return ""


def parse_arguments(raw: Any) -> dict[str, Any] | str:
    """A tool call's arguments: the JSON object, or the raw text when it is not one."""
    if isinstance(raw, dict):
        return raw
    if raw is None or raw == "":
        return {}
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        return str(raw)
    return value if isinstance(value, dict) else str(raw)


def requested_calls(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The tool calls an assistant message requests, as ``{"id", "name", "arguments"}``
    (``tool_calls``, and the legacy ``function_call``)."""
    calls = []
    for tc in message.get("tool_calls") or []:
        fn = tc.get("function") or {}
        calls.append(
            {
                "id": tc.get("id"),
                "name": str(fn.get("name", "")),
                "arguments": parse_arguments(fn.get("arguments")),
            }
        )
    legacy = message.get("function_call")
    if legacy:
        calls.append(
            {
                "id": None,
                "name": str(legacy.get("name", "")),
                "arguments": parse_arguments(legacy.get("arguments")),
            }
        )
    return calls


def tool_outcome(message: dict[str, Any]) -> tuple[Any, str | None]:
    """A tool message's result (JSON content parsed) and error, if it reports one.

    An error is reported by ``is_error: true`` or ``status: "error"``, by content that is a
    JSON object with a non-empty ``error``, or by text starting with ``Error``/``Exception``.
    """
    content = text_of(message.get("content"))
    result: Any = content
    if isinstance(content, str):
        try:
            result = json.loads(content)
        except ValueError:
            result = content
    flagged = message.get("is_error") is True or message.get("status") == "error"
    if isinstance(result, dict) and result.get("error"):
        err = result["error"]
        return result, err if isinstance(err, str) else json.dumps(err, sort_keys=True)
    if isinstance(content, str) and _ERROR_PREFIX.match(content):
        return result, content.strip()
    if flagged:
        return result, content if isinstance(content, str) and content else "tool reported an error"
    return result, None


def tool_results(messages: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(tool call id, tool message)`` of each tool result in a conversation: chat
    ``role: tool`` messages, and Anthropic ``tool_result`` blocks (as tool messages)."""
    for message in messages:
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        if role == "tool" and message.get("tool_call_id"):
            yield str(message["tool_call_id"]), message
        elif role == "user" and isinstance(message.get("content"), list):
            for block in message["content"]:
                if (
                    isinstance(block, dict)
                    and block.get("type") == "tool_result"
                    and block.get("tool_use_id")
                ):
                    yield (
                        str(block["tool_use_id"]),
                        {
                            "role": "tool",
                            "content": block.get("content"),
                            "is_error": bool(block.get("is_error")),
                        },
                    )


# ---- Anthropic messages ----------------------------------------------------------------------

#: Content block types that only Anthropic messages have.
ANTHROPIC_BLOCKS = frozenset(
    {"tool_use", "tool_result", "thinking", "redacted_thinking", "server_tool_use"}
)


def anthropic_blocks(message: Any) -> list[str]:
    """The Anthropic-only block types in a message's content (empty for a chat message)."""
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, list):
        return []
    return [
        str(b.get("type"))
        for b in content
        if isinstance(b, dict) and isinstance(b.get("type"), str) and b["type"] in ANTHROPIC_BLOCKS
    ]


def chat_tool_call(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    """A chat-completions ``tool_calls`` entry (arguments as JSON text)."""
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments or {})
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": raw}}


def anthropic_text(content: Any) -> Any:
    """Content made only of text blocks, as one string; other content as it is."""
    if isinstance(content, list):
        texts = [b.get("text") for b in content if isinstance(b, dict) and b.get("type") == "text"]
        if len(texts) == len(content) and all(isinstance(t, (str, type(None))) for t in texts):
            return "".join(t or "" for t in texts)
    return content


def from_anthropic(messages: list[Any], system: Any = None) -> list[dict[str, Any]]:
    """Anthropic messages (and ``system``) as chat-completions messages: ``tool_use`` blocks
    become ``tool_calls``, each ``tool_result`` block a ``role: tool`` message (``is_error``
    kept)."""
    out: list[dict[str, Any]] = []
    if system:
        out.append({"role": "system", "content": anthropic_text(system)})
    for message in messages:
        if isinstance(message, dict):
            out.extend(_from_anthropic_message(message))
    return out


def _from_anthropic_message(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content")
    role = message.get("role", "user")
    if not isinstance(content, list):
        return [{"role": role, "content": content}]
    blocks = [b for b in content if isinstance(b, dict)]
    results = [b for b in blocks if b.get("type") == "tool_result"]
    if role == "user" and results:
        out = [_tool_message(b) for b in results]
        rest = [b for b in content if not (isinstance(b, dict) and b.get("type") == "tool_result")]
        if rest:
            out.append({"role": "user", "content": anthropic_text(rest)})
        return out
    uses = [b for b in blocks if b.get("type") == "tool_use"]
    if not uses:
        return [{"role": role, "content": anthropic_text(content)}]
    text = "".join(str(b.get("text", "")) for b in blocks if b.get("type") == "text")
    calls = [chat_tool_call(b.get("id"), b.get("name"), b.get("input")) for b in uses]
    return [{"role": role, "content": text or None, "tool_calls": calls}]


def _tool_message(block: dict[str, Any]) -> dict[str, Any]:
    message = {
        "role": "tool",
        "tool_call_id": block.get("tool_use_id"),
        "content": anthropic_text(block.get("content")),
    }
    if block.get("is_error"):
        message["is_error"] = True
    return message
