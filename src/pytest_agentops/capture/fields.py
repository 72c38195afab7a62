"""What producers hand to the recorder: JSON-able values, and the fields of an LLM call.

Every producer of LLM calls (litellm's callback, the wire capture, the manual
``agent_trace.llm_call``) describes a call with :func:`llm_fields`, so the recorder receives
one typed shape whoever saw the call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypedDict, cast

from pydantic_core import to_jsonable_python

from pytest_agentops.trajectory.model import RequestedToolCall


def jsonable(value: Any) -> Any:
    """A JSON-compatible copy of ``value`` (objects that JSON cannot hold become their repr)."""
    return to_jsonable_python(value, fallback=repr, serialize_unknown=True)


class LLMFields(TypedDict, total=False):
    """What is known about an LLM call (the fields of an ``LLMCall`` step, all optional)."""

    model: str
    provider: str
    input_messages: list[dict[str, Any]]
    output_message: dict[str, Any]
    requested_tool_calls: list[RequestedToolCall]
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_usd: float
    duration_ms: float
    error: str
    #: The provider's id of the response (pairs a wire copy with litellm's report).
    response_id: str


def llm_fields(
    *,
    model: str | None = None,
    provider: str | None = None,
    input_messages: list[dict[str, Any]] | None = None,
    output_message: dict[str, Any] | None = None,
    requested_tool_calls: Iterable[RequestedToolCall | Mapping[str, Any]] | None = None,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    cached_tokens: int | None = None,
    cost_usd: float | None = None,
    duration_ms: float | None = None,
    error: str | None = None,
    response_id: str | None = None,
) -> LLMFields:
    """The known fields of an LLM call: ``None`` means unknown and is left out, so a later
    report of the same call only fills in what it knows."""
    fields: dict[str, Any] = {
        "model": model,
        "provider": provider,
        "input_messages": input_messages,
        "output_message": output_message,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cached_tokens": cached_tokens,
        "cost_usd": cost_usd,
        "duration_ms": duration_ms,
        "error": error,
        "response_id": response_id,
    }
    if requested_tool_calls is not None:
        fields["requested_tool_calls"] = [
            c if isinstance(c, RequestedToolCall) else RequestedToolCall.model_validate(c)
            for c in requested_tool_calls
        ]
    return cast(LLMFields, {k: v for k, v in fields.items() if v is not None})
