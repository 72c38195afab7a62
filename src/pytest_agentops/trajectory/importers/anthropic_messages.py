"""Anthropic messages (content blocks) -> trajectory data.

A trace is a list of messages, or an object with ``messages`` (and optionally ``system`` and
``model``, as in a Messages API request).  ``tool_use`` blocks are the calls the model asked
for; each ``tool_result`` block (``is_error`` kept) is a tool step with the name and arguments
of the call it answers.  The messages are read through their chat-completions form.
"""

from __future__ import annotations

from typing import Any

from pytest_agentops.errors import TrajectoryLoadError
from pytest_agentops.trajectory.openai_format import from_anthropic

from .openai_messages import trajectory_from_openai_messages


def trajectory_from_anthropic_messages(data: Any, *, source: str = "<messages>") -> dict[str, Any]:
    """The trajectory of an Anthropic conversation, as data for ``Trajectory.model_validate``."""
    messages = data.get("messages") if isinstance(data, dict) else data
    if not isinstance(messages, list):
        raise TrajectoryLoadError(f"{source}: field `messages`: expected a list of messages")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or "role" not in message:
            raise TrajectoryLoadError(
                f"{source}: message [{index}] is not an Anthropic message: expected an object "
                f"with `role` and `content`, got {message!r:.80}"
            )
    system = data.get("system") if isinstance(data, dict) else None
    model = str(data.get("model") or "unknown") if isinstance(data, dict) else "unknown"
    out = trajectory_from_openai_messages(
        from_anthropic(messages, system), model=model, source=source
    )
    out["metadata"] = {"source_format": "anthropic-messages"}
    return out
