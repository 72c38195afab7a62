"""What producers hand to the recorder: JSON-able values, and the fields of an LLM call.

Every producer of LLM calls (litellm's callback, the wire capture, the manual
``agent_trace.llm_call``) describes a call with :func:`llm_fields`, so the recorder receives
one typed shape whoever saw the call.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, TypedDict, cast

from pydantic_core import to_jsonable_python

from pytest_agentops.trajectory.model import RequestedToolCall


def jsonable(value: Any) -> Any:
    """A JSON-compatible copy of ``value``: objects JSON cannot hold become their repr, and
    nothing raises (cycles, absurd depth and a ``__repr__`` that fails are written as such)."""
    try:
        return to_jsonable_python(value, fallback=repr, serialize_unknown=True)
    except Exception:  # "Circular reference detected", "Maximum serialization depth", ...
        return _walk(value, 0, set())


def jsonable_arguments(arguments: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """:func:`jsonable` of each argument, and the type names of those that are not data
    (objects only their repr could stand for: e.g. a session or a framework's context)."""
    out: dict[str, Any] = {}
    loose: dict[str, str] = {}
    for name, value in arguments.items():
        seen: list[str] = []

        def note(obj: Any, seen: list[str] = seen) -> str:
            seen.append(type(obj).__name__)
            return _repr(obj)

        try:
            out[name] = to_jsonable_python(value, fallback=note, serialize_unknown=True)
        except Exception:
            out[name] = _walk(value, 0, set())
            seen.append(type(value).__name__)
        if seen:
            loose[name] = seen[0] if seen[0] != "object" else type(value).__name__
    return out, loose


_MAX_DEPTH = 200


def _walk(value: Any, depth: int, path: set[int]) -> Any:
    """:func:`jsonable` by hand, for what pydantic-core refused: cycles become ``"<cycle>"``,
    values deeper than 200 levels ``"<too deep>"``."""
    if value is None or type(value) in (str, int, float, bool):
        return value
    if id(value) in path:
        return "<cycle>"
    if depth >= _MAX_DEPTH:
        return "<too deep>"
    if isinstance(value, dict):
        path.add(id(value))
        out = {str(k): _walk(v, depth + 1, path) for k, v in list(value.items())}
        path.discard(id(value))
        return out
    if isinstance(value, (list, tuple, set, frozenset)):
        path.add(id(value))
        items = [_walk(v, depth + 1, path) for v in list(value)]
        path.discard(id(value))
        return items
    try:
        return to_jsonable_python(value, fallback=_repr, serialize_unknown=True)
    except Exception:
        return _repr(value)


def _repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception:
        return f"<{type(value).__qualname__} object>"


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
    report of the same call only fills in what it knows.  Numbers no call can have (negative
    token counts, a NaN, infinite or negative cost or duration: a broken provider or proxy)
    are unknown too, never a crash inside the agent's call."""
    if input_tokens is not None and input_tokens < 0:
        input_tokens = None
    if output_tokens is not None and output_tokens < 0:
        output_tokens = None
    if cached_tokens is not None and cached_tokens < 0:
        cached_tokens = None
    if cost_usd is not None and not 0 <= cost_usd < math.inf:
        cost_usd = None
    if duration_ms is not None and not 0 <= duration_ms < math.inf:
        duration_ms = None
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
