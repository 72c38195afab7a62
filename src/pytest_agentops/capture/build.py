"""Recorded steps -> the steps of a :class:`~pytest_agentops.Trajectory`.

The recorder keeps plain records while the agent runs; reading the trajectory turns them into
pydantic steps here: LLM calls seen both by litellm and on the wire are kept once, executed
tool calls are linked to the model tool calls they answer, tool calls that no ``@tool``
observed are read from the conversation (:func:`_conversation_tool_calls`), and the run's
input and output are derived from its LLM calls when the test did not set them.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from pytest_agentops.trajectory.model import (
    LLMCall,
    MessageStep,
    RequestedToolCall,
    SpanStep,
    Step,
    ToolCall,
)
from pytest_agentops.trajectory.openai_format import tool_outcome, tool_results

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


def build_steps(records: list[StepRecord]) -> list[Step]:
    """The trajectory steps of ``records`` (in recorded order, duplicates dropped)."""
    steps: list[Step] = []
    dropped, merged = _deduplicate(records)
    for rec in records:
        if rec.id in dropped:
            continue
        known = merged.get(rec.id)
        if known is None:
            known = rec.fields
            if rec.kind == "llm" and rec.done and "cost_usd" not in known:
                known["cost_usd"] = _price(known)  # once: kept on the record
        elif "cost_usd" not in known:
            known["cost_usd"] = _price(known)
        fields = {k: v for k, v in known.items() if v is not None}
        if not rec.done and "duration_ms" not in fields:
            fields["error"] = fields.get("error") or "still running when the trajectory was read"
        steps.append(
            _KINDS[rec.kind](
                id=rec.id, parent_id=rec.parent_id, started_at=wall(rec.wall0), **fields
            )
        )
    _link_tool_calls(steps)
    return _conversation_tool_calls(steps)


def _conversation_tool_calls(steps: list[Step]) -> list[Step]:
    """``steps`` with a ``ToolCall`` for each tool result an LLM request carried that answers
    a call an earlier recorded response asked for, unless a step already answered it.

    Such a call is placed just before the LLM call that carried its result, with the name and
    arguments the model asked for, the result (or error) the message reports, the requesting
    call's parent, and the time between the two LLM calls; ``source`` says where it came from.
    Results of calls the run asked for last, which no further LLM call carried, are not known.
    """
    answered = {s.call_id for s in steps if isinstance(s, ToolCall) and s.call_id}
    asked: dict[str, tuple[LLMCall, RequestedToolCall]] = {}
    out: list[Step] = []
    for step in steps:
        if isinstance(step, LLMCall):
            if asked:
                for number, (call_id, message) in enumerate(
                    (r for r in tool_results(step.input_messages) if r[0] in asked), start=1
                ):
                    if call_id in answered:
                        continue
                    answered.add(call_id)
                    out.append(_read_tool_call(step, number, *asked[call_id], message))
            for request in step.requested_tool_calls:
                if request.id:
                    asked[request.id] = (step, request)
        out.append(step)
    return out


def _read_tool_call(
    carrier: LLMCall, number: int, asker: LLMCall, request: RequestedToolCall, message: Any
) -> ToolCall:
    result, error = tool_outcome(message)
    arguments = request.arguments
    start = end = None
    if asker.started_at is not None:
        start = asker.started_at + timedelta(milliseconds=asker.duration_ms or 0.0)
    if carrier.started_at is not None:
        end = carrier.started_at
    return ToolCall(
        id=f"{carrier.id}.{number}",
        parent_id=asker.parent_id,
        started_at=start,
        duration_ms=max((end - start).total_seconds() * 1000, 0.0) if start and end else None,
        name=request.name,
        arguments=arguments if isinstance(arguments, dict) else {"_raw": arguments},
        result=result,
        error=error,
        call_id=request.id,
        source="conversation",
    )


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


def _price(fields: dict[str, Any]) -> float | None:
    """The cost of an LLM call by the price table (``None``: no tokens, or not priced)."""
    if not (fields.get("input_tokens") or fields.get("output_tokens")):
        return None
    from .prices import cost_usd

    return cost_usd(
        str(fields.get("model") or ""),
        int(fields.get("input_tokens") or 0),
        int(fields.get("output_tokens") or 0),
        fields.get("provider"),
    )


def _link_tool_calls(steps: list[Step]) -> None:
    """Give executed tool calls the id of the model tool call they answer, when unambiguous.

    A tool execution answers the most recent LLM response that requested a call with the same
    name (and, preferably, the same arguments) that no earlier execution claimed.
    """
    open_requests: list[RequestedToolCall] = []
    for step in steps:
        if isinstance(step, LLMCall) and step.requested_tool_calls:
            open_requests = list(step.requested_tool_calls)
        elif isinstance(step, ToolCall) and step.call_id is None and open_requests:
            same_name = [r for r in open_requests if r.name == step.name]
            exact = [r for r in same_name if r.arguments == step.arguments]
            candidates = exact or same_name
            if candidates:
                chosen = candidates[0]
                open_requests.remove(chosen)
                step.call_id = chosen.id


def derive_input(steps: list[Step]) -> Any:
    for step in steps:
        if isinstance(step, LLMCall):
            users = [m for m in step.input_messages if m.get("role") == "user"]
            return users[-1].get("content") if users else None
    return None


def derive_output(steps: list[Step]) -> Any:
    for step in reversed(steps):
        if isinstance(step, LLMCall) and step.ok and not step.requested_tool_calls:
            return step.output_text
    return None
