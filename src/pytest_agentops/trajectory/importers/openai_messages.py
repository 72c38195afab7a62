"""OpenAI chat-completions messages -> trajectory data.

Each assistant message becomes an ``llm`` step (its input is the conversation before it); each
``role: tool`` (or legacy ``role: function``) message becomes a ``tool`` step whose name and
arguments come from the assistant tool call it answers.  A tool result counts as an error when
the message says so (``is_error: true`` or ``status: "error"``), when its content is a JSON object
with a non-empty top-level ``error``, or when its text starts with ``Error`` / ``Exception``.
"""

from __future__ import annotations

from typing import Any

from pytest_agentops.errors import TrajectoryLoadError
from pytest_agentops.trajectory.openai_format import (
    anthropic_blocks,
    requested_calls,
    text_of,
    tool_outcome,
)


def trajectory_from_openai_messages(
    messages: list[dict[str, Any]],
    *,
    model: str = "unknown",
    name: str | None = None,
    source: str = "<messages>",
) -> dict[str, Any]:
    """The trajectory of a conversation, as data for ``Trajectory.model_validate``."""
    steps: list[dict[str, Any]] = []
    pending: dict[str, dict[str, Any]] = {}
    legacy_pending: list[dict[str, Any]] = []
    first_user: Any = None
    final_output: Any = None
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or "role" not in message:
            raise TrajectoryLoadError(_not_a_message(source, index, message))
        calls = message.get("tool_calls")
        if calls is not None and not (
            isinstance(calls, list)
            and all(
                isinstance(c, dict)
                and isinstance(c.get("function"), dict)
                and isinstance(c.get("id"), (str, type(None)))
                for c in calls
            )
        ):
            raise TrajectoryLoadError(
                f"{source}: message [{index}]: field `tool_calls` must be a list of "
                '{"id", "type": "function", "function": {"name", "arguments"}} objects, '
                f"got {calls!r:.80}"
            )
        foreign = anthropic_blocks(message)
        if foreign:
            raise TrajectoryLoadError(
                f"{source}: message [{index}] has content blocks of type {foreign[0]!r}: this "
                "is an Anthropic messages trace, not OpenAI chat messages; load it with "
                "format='anthropic' (or 'auto')"
            )
        role = message["role"]
        if role == "user" and first_user is None:
            first_user = text_of(message.get("content"))
        if role == "assistant":
            calls = requested_calls(message)
            steps.append(
                {
                    "kind": "llm",
                    "model": str(message.get("model") or model),
                    "input_messages": [dict(m) for m in messages[:index]],
                    "output_message": dict(message),
                    "requested_tool_calls": calls,
                }
            )
            for call in calls:
                if call["id"] is not None:
                    pending[call["id"]] = call
                else:
                    legacy_pending.append(call)
            if not calls and message.get("content"):
                final_output = text_of(message.get("content"))
        elif role in ("tool", "function"):
            call_id = message.get("tool_call_id")
            if not isinstance(call_id, (str, type(None))):
                raise TrajectoryLoadError(
                    f"{source}: message [{index}]: field `tool_call_id` must be the id string "
                    f"of the call it answers, got {call_id!r:.80}"
                )
            requested = pending.pop(call_id, None) if call_id else None
            if requested is None and role == "function" and legacy_pending:
                requested = legacy_pending.pop(0)
            tool_name = message.get("name") or (requested["name"] if requested else None)
            if not tool_name:
                raise TrajectoryLoadError(
                    f"{source}: message [{index}] is a tool result for tool_call_id "
                    f"{call_id!r}, but no earlier assistant message requested that call and "
                    "the message has no `name`"
                )
            args = requested["arguments"] if requested else {}
            result, error = tool_outcome(message)
            steps.append(
                {
                    "kind": "tool",
                    "name": str(tool_name),
                    "arguments": args if isinstance(args, dict) else {"_raw": args},
                    "result": result,
                    "error": error,
                    "call_id": call_id,
                }
            )
    return {
        "name": name,
        "input": first_user,
        "output": final_output,
        "steps": steps,
        "metadata": {"source_format": "openai-messages"},
    }


#: ``type`` values of OpenAI Responses API items (``input``/``output`` lists).
_RESPONSES_ITEMS = frozenset(
    {"message", "function_call", "function_call_output", "reasoning", "web_search_call"}
)


def _not_a_message(source: str, index: int, message: Any) -> str:
    if isinstance(message, dict) and message.get("type") in _RESPONSES_ITEMS:
        return (
            f"{source}: message [{index}] is an OpenAI Responses item (type "
            f"{message['type']!r}), not a chat message: load it with "
            "format='openai-responses' (or 'auto')"
        )
    return (
        f"{source}: message [{index}] is not a chat message: expected an object with `role` "
        f"and `content`, got {message!r:.80}"
    )
