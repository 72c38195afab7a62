"""OpenAI chat-completions messages -> Trajectory.

Each assistant message becomes an ``llm`` step (its input is the conversation before it); each
``role: tool`` (or legacy ``role: function``) message becomes a ``tool`` step whose name and
arguments come from the assistant tool call it answers.  A tool result counts as an error when
the message says so (``is_error: true`` or ``status: "error"``), when its content is a JSON object
with a non-empty top-level ``error``, or when its text starts with ``Error`` / ``Exception``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pytest_agentops.models import LLMCall, RequestedToolCall, ToolCall, Trajectory

_ERROR_PREFIX = re.compile(r"^\s*(error|exception)\b", re.IGNORECASE)


def text_of(content: Any) -> Any:
    """The text of a message content (string, or a list of content parts)."""
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, dict) and "text" in p]
        return "".join(parts) if parts else content
    return content


def parse_arguments(raw: Any) -> dict[str, Any] | str:
    if isinstance(raw, dict):
        return raw
    if raw is None or raw == "":
        return {}
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        return str(raw)
    return value if isinstance(value, dict) else str(raw)


def requested_calls(message: dict[str, Any]) -> list[RequestedToolCall]:
    calls = []
    for tc in message.get("tool_calls") or []:
        fn = tc.get("function") or {}
        calls.append(
            RequestedToolCall(
                id=tc.get("id"),
                name=str(fn.get("name", "")),
                arguments=parse_arguments(fn.get("arguments")),
            )
        )
    legacy = message.get("function_call")
    if legacy:
        calls.append(
            RequestedToolCall(
                id=None,
                name=str(legacy.get("name", "")),
                arguments=parse_arguments(legacy.get("arguments")),
            )
        )
    return calls


def _result_and_error(message: dict[str, Any]) -> tuple[Any, str | None]:
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


def trajectory_from_openai_messages(
    messages: list[dict[str, Any]],
    *,
    model: str = "unknown",
    name: str | None = None,
    source: str = "<messages>",
) -> Trajectory:
    from pytest_agentops.errors import TrajectoryLoadError

    steps: list[LLMCall | ToolCall] = []
    pending: dict[str, RequestedToolCall] = {}
    legacy_pending: list[RequestedToolCall] = []
    first_user: Any = None
    final_output: Any = None
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or "role" not in message:
            raise TrajectoryLoadError(
                f"{source}: message [{index}] is not a chat message: expected an object with "
                f"`role` and `content`, got {message!r:.80}"
            )
        role = message["role"]
        if role == "user" and first_user is None:
            first_user = text_of(message.get("content"))
        if role == "assistant":
            calls = requested_calls(message)
            llm = LLMCall(
                model=str(message.get("model") or model),
                input_messages=[dict(m) for m in messages[:index]],
                output_message=dict(message),
                requested_tool_calls=calls,
            )
            steps.append(llm)
            for call in calls:
                if call.id is not None:
                    pending[call.id] = call
                else:
                    legacy_pending.append(call)
            if not calls and message.get("content"):
                final_output = text_of(message.get("content"))
        elif role in ("tool", "function"):
            call_id = message.get("tool_call_id")
            requested = pending.pop(call_id, None) if call_id else None
            if requested is None and role == "function" and legacy_pending:
                requested = legacy_pending.pop(0)
            tool_name = message.get("name") or (requested.name if requested else None)
            if not tool_name:
                raise TrajectoryLoadError(
                    f"{source}: message [{index}] is a tool result for tool_call_id "
                    f"{call_id!r}, but no earlier assistant message requested that call and "
                    "the message has no `name`"
                )
            args = requested.arguments if requested else {}
            result, error = _result_and_error(message)
            steps.append(
                ToolCall(
                    name=str(tool_name),
                    arguments=args if isinstance(args, dict) else {"_raw": args},
                    result=result,
                    error=error,
                    call_id=call_id,
                )
            )
    return Trajectory(
        name=name,
        input=first_user,
        output=final_output,
        steps=list(steps),
        metadata={"source_format": "openai-messages"},
    )
