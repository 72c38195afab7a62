"""Recorded steps -> the steps of a :class:`~pytest_agentops.Trajectory`.

The recorder keeps plain records while the agent runs; reading the trajectory turns them into
pydantic steps here: LLM calls seen both by litellm and on the wire are kept once, executed
tool calls are linked to the model tool calls they answer, tool calls that no ``@tool``
observed are read from the conversation (:func:`_conversation_tool_calls`), and the run's
input and output are derived from its LLM calls when the test did not set them.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from pytest_agentops._util import canonical_json
from pytest_agentops.trajectory.derive import (
    conversation_tool_calls,
    fill_tool_calls,
    link_tool_calls,
    price,
)
from pytest_agentops.trajectory.model import (
    LLMCall,
    MessageStep,
    SpanStep,
    Step,
    ToolCall,
)

if TYPE_CHECKING:
    from .recorder import StepRecord

#: How an LLM call's error starts when litellm never reported how the call ended.
LATE = "litellm did not report how this call ended"

_KINDS: dict[str, Any] = {
    "tool": ToolCall,
    "llm": LLMCall,
    "message": MessageStep,
    "span": SpanStep,
}


def wall(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, tz=timezone.utc) if ts is not None else None


def build_steps(records: list[StepRecord], otel: list[StepRecord] | None = None) -> list[Step]:
    """The trajectory steps of ``records`` (in recorded order, duplicates dropped), with the
    steps read from OpenTelemetry spans (``otel``) placed by start time unless another
    producer recorded the same call."""
    if otel:
        records = _with_otel(records, otel)
    steps: list[Step] = []
    dropped, merged = _deduplicate(records)
    for rec in records:
        if rec.id in dropped:
            continue
        known = merged.get(rec.id)
        if known is None:
            known = rec.fields
            if rec.kind == "llm" and rec.done and "cost_usd" not in known:
                known["cost_usd"] = price(known)  # once: kept on the record
        elif "cost_usd" not in known:
            known["cost_usd"] = price(known)
        fields = {k: v for k, v in known.items() if v is not None}
        if not rec.done and "duration_ms" not in fields:
            fields["error"] = fields.get("error") or "still running when the trajectory was read"
        steps.append(
            _KINDS[rec.kind](
                id=rec.id, parent_id=rec.parent_id, started_at=wall(rec.wall0), **fields
            )
        )
    link_tool_calls(steps)
    steps = conversation_tool_calls(steps)
    if otel:
        fill_tool_calls(steps)
    return steps


def _with_otel(records: list[StepRecord], otel: list[StepRecord]) -> list[StepRecord]:
    """``records`` and the span-read ones that no other producer recorded, by start time."""
    llm_ids = {r.fields.get("response_id") for r in records if r.kind == "llm"} - {None}
    conversations = [
        _conversation(r.fields.get("input_messages"))
        for r in records
        if r.kind == "llm" and r.fields.get("input_messages")
    ]
    tool_ids = {r.fields.get("call_id") for r in records if r.kind == "tool"} - {None}
    tool_calls = [
        (r.fields.get("name"), canonical_json(r.fields.get("arguments")))
        for r in records
        if r.kind == "tool"
    ]
    kept = []
    for rec in otel:
        fields = rec.fields
        if rec.kind == "llm":
            conversation = _conversation(fields.get("input_messages"))
            if fields.get("response_id") in llm_ids or (
                conversation and conversation in conversations
            ):
                continue
        else:
            if fields.get("call_id") in tool_ids:
                continue
            key = (fields.get("name"), canonical_json(fields.get("arguments")))
            if "arguments" in fields and key in tool_calls:
                tool_calls.remove(key)
                continue
        kept.append(rec)
    merged = list(records)
    for rec in sorted(kept, key=lambda r: r.wall0):
        at = next((i for i, r in enumerate(merged) if r.wall0 > rec.wall0), len(merged))
        merged.insert(at, rec)
    return merged


def _deduplicate(records: list[StepRecord]) -> tuple[set[str], dict[str, dict[str, Any]]]:
    """LLM calls seen both by litellm and on the wire are kept once, as litellm reported them.

    Pairs are made by the provider's response id, then by identical input messages.  When
    litellm never delivered its completion event (see ``recorder.ASYNC_LOST``), the wire's
    copy fills it in.  Returns the ids of the wire records to drop and the merged fields by
    record id.
    """
    wire = [r for r in records if r.origin == "wire"]
    if not wire:
        return set(), {}
    own = [r for r in records if r.kind == "llm" and r.origin is None]
    dropped: set[str] = set()
    merged: dict[str, dict[str, Any]] = {}
    paired: set[str] = set()

    def pair(http: StepRecord, rec: StepRecord) -> None:
        paired.add(rec.id)
        dropped.add(http.id)
        if not rec.done or str(rec.fields.get("error") or "").startswith(LATE):
            # What litellm saw (its copy of the request) stays; the wire adds what litellm
            # never reported, so the step reads the same as when litellm did report it.
            fields = {k: v for k, v in http.fields.items() if v is not None and k != "cost_usd"}
            fields.update((k, v) for k, v in rec.fields.items() if k != "error")
            if "error" in http.fields:
                fields["error"] = http.fields["error"]
            merged[rec.id] = fields

    by_id: dict[str, list[StepRecord]] = {}
    for rec in own:
        response_id = rec.fields.get("response_id")
        if response_id:
            by_id.setdefault(response_id, []).append(rec)
    rest = []
    for http in wire:
        candidates = by_id.get(http.fields.get("response_id") or "", [])
        match = next((r for r in candidates if r.id not in paired), None)
        if match is not None:
            pair(http, match)
        else:
            rest.append(http)
    for http in rest:
        messages = _conversation(http.fields.get("input_messages"))
        match = next(
            (
                r
                for r in own
                if r.id not in paired
                and (not r.fields.get("response_id") or not r.done)
                and _conversation(r.fields.get("input_messages")) == messages
            ),
            None,
        )
        if match is not None:
            pair(http, match)
    return dropped, merged


def _conversation(messages: Any) -> list[tuple[str, str, tuple[str, ...]]]:
    """Messages as (role, text, tool call ids): litellm's copy of a request and the one on
    the wire differ in details (``content: None`` dropped, extra keys) but not in these."""
    out = []
    for message in messages if isinstance(messages, list) else []:
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        text = content if isinstance(content, str) else json.dumps(content, sort_keys=True)
        calls = tuple(
            str(c.get("id")) for c in message.get("tool_calls") or [] if isinstance(c, dict)
        )
        out.append((str(message.get("role")), "" if content is None else text, calls))
    return out
