"""Facts a trajectory implies but no producer reported, filled in the same way for live
recordings (``capture``) and imported traces (``importers``).

- :func:`link_tool_calls`: an executed tool call gets the id of the model tool call it answers;
- :func:`conversation_tool_calls`: tool results that the next LLM request carried become tool
  steps when no step answered them (``source="conversation"``);
- :func:`fill_tool_calls`: a tool step that came without arguments or result (some tracers
  record only the name and call id) gets them from the model's request and the next request;
- :func:`price`: the cost of an LLM call from the price table;
- :func:`derive_input` / :func:`derive_output`: the run's input and output from its LLM calls.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pytest_agentops.trajectory.openai_format import tool_outcome, tool_results
from pytest_agentops.trajectory.steps import LLMCall, RequestedToolCall, Step, ToolCall


def link_tool_calls(steps: list[Step]) -> None:
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


def conversation_tool_calls(steps: list[Step]) -> list[Step]:
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


def price(fields: dict[str, Any]) -> float | None:
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


def fill_tool_calls(steps: list[Step]) -> None:
    """Tool steps that came without arguments or result (a tracer that records only the
    tool's name and call id) get them from the model's request for the call and from the
    tool result the next model request carried."""
    lacking = [
        s
        for s in steps
        if isinstance(s, ToolCall) and s.call_id and (not s.arguments or s.result is None)
    ]
    if not lacking:
        return
    asked: dict[str, RequestedToolCall] = {}
    answered: dict[str, Any] = {}
    for step in steps:
        if isinstance(step, LLMCall):
            for request in step.requested_tool_calls:
                if request.id:
                    asked.setdefault(request.id, request)
            for call_id, message in tool_results(step.input_messages):
                answered.setdefault(call_id, message)
    for step in lacking:
        wanted = asked.get(step.call_id or "")
        if not step.arguments and wanted is not None:
            given = wanted.arguments
            step.arguments = given if isinstance(given, dict) else {"_raw": given}
        reply = answered.get(step.call_id or "")
        if step.result is None and step.error is None and reply is not None:
            step.result, step.error = tool_outcome(reply)


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
