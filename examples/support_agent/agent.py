"""The support agent: a plain tool-calling loop on ``litellm``.

The loop is the usual one: send the conversation and the tool schemas to the model, run the tool
calls it asks for, append their results as ``role: tool`` messages, and repeat until the model
answers without tool calls.  Nothing in here knows about tests: pytest-agentops records the
litellm calls through a litellm callback and the tool calls through ``@tool``.

Point it at any OpenAI-compatible endpoint with ``model="openai/<model name>"`` and
``api_base=...``; litellm then speaks the OpenAI protocol to that server and still prices the
calls by the model name (``openai/gpt-4o-mini`` is priced as gpt-4o-mini).
"""

from __future__ import annotations

import json
from typing import Any

import litellm

from .store import SupportStore
from .tools import APPROVAL_THRESHOLD, TOOL_NAMES, TOOL_SCHEMAS, SupportTools

SYSTEM_PROMPT = """\
You are the customer-support agent of an online electronics shop.

Policy (always follow it):
- Verify the customer's identity with verify_identity before looking up account or order details.
- Refunds over $100 need manager approval first: call request_manager_approval, and call refund
  only once it is approved.
- Never delete accounts. If a customer asks for it, open a ticket for the human team instead.

Use the tools, never guess order details, and answer briefly and politely."""

#: Model calls allowed per question before the agent gives up (a loop is a bug, not an answer).
MAX_ITERATIONS = 8


class AgentError(RuntimeError):
    """The agent could not produce an answer."""


def run_support_agent(
    question: str,
    *,
    model: str,
    api_base: str | None = None,
    api_key: str | None = None,
    store: SupportStore | None = None,
    stream: bool = False,
    max_iterations: int = MAX_ITERATIONS,
    approval_guard: bool = False,
) -> str:
    """Answer one customer message and return the agent's final answer.

    ``store`` defaults to a fresh demo store, so runs never share state; pass your own to
    inspect what the agent changed.  ``stream=True`` streams every model response.
    ``approval_guard=True`` is the fix of examples/incidents/: the agent asks a manager itself
    before a refund the model requested without approval.
    """
    tools = SupportTools(store if store is not None else SupportStore.demo())
    messages = _initial_messages(question)
    for _ in range(max_iterations):
        response = litellm.completion(**_request(model, api_base, api_key, messages, stream))
        if stream:
            # Rebuild one ordinary response from the chunks (content and tool-call deltas).
            response = litellm.stream_chunk_builder(list(response), messages=messages)
        reply = _assistant_message(response)
        messages.append(reply)
        if not reply.get("tool_calls"):
            return reply.get("content") or ""
        messages.extend(_run_tool_calls(tools, reply["tool_calls"], approval_guard))
    raise AgentError(f"no final answer after {max_iterations} model calls")


async def arun_support_agent(
    question: str,
    *,
    model: str,
    api_base: str | None = None,
    api_key: str | None = None,
    store: SupportStore | None = None,
    stream: bool = False,
    max_iterations: int = MAX_ITERATIONS,
) -> str:
    """The same agent on ``litellm.acompletion``, for async applications."""
    tools = SupportTools(store if store is not None else SupportStore.demo())
    messages = _initial_messages(question)
    for _ in range(max_iterations):
        response = await litellm.acompletion(**_request(model, api_base, api_key, messages, stream))
        if stream:
            chunks = [chunk async for chunk in response]
            response = litellm.stream_chunk_builder(chunks, messages=messages)
        reply = _assistant_message(response)
        messages.append(reply)
        if not reply.get("tool_calls"):
            return reply.get("content") or ""
        # The tools are quick in-memory calls; slow I/O-bound tools could be awaited together.
        messages.extend(_run_tool_calls(tools, reply["tool_calls"]))
    raise AgentError(f"no final answer after {max_iterations} model calls")


def _initial_messages(question: str) -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": question},
    ]


def _request(
    model: str,
    api_base: str | None,
    api_key: str | None,
    messages: list[dict[str, Any]],
    stream: bool,
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "tools": TOOL_SCHEMAS,
        "temperature": 0,
        "api_base": api_base,
        "api_key": api_key,
    }
    if stream:
        # Ask for a final usage chunk: without it a streamed call has no token counts or cost.
        request.update(stream=True, stream_options={"include_usage": True})
    return request


def _assistant_message(response: Any) -> dict[str, Any]:
    """The model's reply as a plain dict, so the conversation stays JSON-able."""
    message = response.choices[0].message
    reply: dict[str, Any] = {"role": "assistant", "content": message.content}
    if message.tool_calls:
        reply["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.function.name, "arguments": call.function.arguments},
            }
            for call in message.tool_calls
        ]
    return reply


def _run_tool_calls(
    tools: SupportTools, tool_calls: list[dict[str, Any]], approval_guard: bool = False
) -> list[dict[str, Any]]:
    """Run the requested calls in order; one ``role: tool`` message per call."""
    out = []
    for call in tool_calls:
        name, raw = call["function"]["name"], call["function"]["arguments"]
        refused = _unapproved_refund(tools, name, raw) if approval_guard else None
        result = refused if refused is not None else _call_tool(tools, name, raw)
        out.append({"role": "tool", "tool_call_id": call["id"], "content": json.dumps(result)})
    return out


def _unapproved_refund(tools: SupportTools, name: str, raw: str | None) -> Any:
    """The agent's own check: a refund over the threshold gets a manager's approval first;
    the refusal to give the model when the manager says no (None: go ahead)."""
    if name != "refund":
        return None
    try:
        arguments = json.loads(raw or "{}")
        order_id, amount = arguments["order_id"], float(arguments["amount"])
    except (ValueError, KeyError, TypeError):
        return None  # the tool itself reports bad arguments
    if amount <= APPROVAL_THRESHOLD or tools.store.approved_amount(order_id) >= amount:
        return None
    reason = "refund requested by the customer"
    approval = _call_tool(
        tools,
        "request_manager_approval",
        json.dumps({"order_id": order_id, "amount": amount, "reason": reason}),
    )
    if isinstance(approval, dict) and approval.get("approved"):
        return None
    return {"error": f"the manager did not approve this refund: {approval}"}


def _call_tool(tools: SupportTools, name: str, raw_arguments: str | None) -> Any:
    """Run one tool call; every failure becomes an ``{"error": ...}`` result for the model."""
    if name not in TOOL_NAMES:
        return {"error": f"unknown tool {name!r}; available: {', '.join(sorted(TOOL_NAMES))}"}
    try:
        arguments = json.loads(raw_arguments or "{}")
    except json.JSONDecodeError as exc:
        return {"error": f"arguments are not valid JSON ({exc}): {raw_arguments!r}"}
    if not isinstance(arguments, dict):
        return {"error": f"arguments must be a JSON object, got {raw_arguments!r}"}
    try:
        return getattr(tools, name)(**arguments)
    except Exception as exc:  # the model gets the error and can recover; the loop goes on
        return {"error": f"{type(exc).__name__}: {exc}"}
