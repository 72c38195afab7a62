"""What OpenTelemetry spans of an agent run mean: GenAI semantic conventions, OpenInference
and OpenLLMetry attributes -> trajectory steps.

- **GenAI semantic conventions** (``gen_ai.*``): ``gen_ai.operation.name`` says what a span is
  (``chat``, ``text_completion``, ``generate_content`` are model calls; ``execute_tool`` a tool
  call; ``invoke_agent``, ``create_agent`` agent spans).  Messages come from
  ``gen_ai.input.messages`` / ``gen_ai.output.messages`` / ``gen_ai.system_instructions``
  (the JSON "parts" form: ``text``, ``tool_call``, ``tool_call_response``), from the older
  indexed ``gen_ai.prompt.N.*`` / ``gen_ai.completion.N.*`` attributes, or from the message
  events (``gen_ai.user.message``, ``gen_ai.choice``, ...) as span events or log records.
  Model: ``gen_ai.response.model`` or ``gen_ai.request.model``; provider:
  ``gen_ai.provider.name`` or the older ``gen_ai.system``; tokens: ``gen_ai.usage.*``.  Tool:
  ``gen_ai.tool.name``, ``gen_ai.tool.call.id``, ``gen_ai.tool.call.arguments`` / ``result``.
- **OpenInference** (``openinference.span.kind`` LLM / TOOL / AGENT / CHAIN / ...):
  ``llm.model_name``, ``llm.provider`` / ``llm.system``, ``llm.input_messages.N.message.*``
  and ``llm.output_messages.N.message.*`` (tool calls under ``tool_calls.M.tool_call.*``),
  ``llm.token_count.*``, ``llm.cost.total``; tools: ``tool.name``, ``input.value`` (the
  arguments) and ``output.value`` (the result).
- **OpenLLMetry** (``traceloop.span.kind`` workflow / task / agent / tool): model calls carry
  GenAI attributes; decorated functions carry ``traceloop.entity.name`` /
  ``traceloop.entity.input`` (``{"args": [...], "kwargs": {...}}``) / ``traceloop.entity.output``.

A span's error is its status (``ERROR`` with its message, or ``error.type``).  Spans none of
these conventions describe (HTTP, database, ...) are not steps; they are counted in the
trajectory's metadata.
"""

from __future__ import annotations

import re
from typing import Any

from pytest_agentops.trajectory.openai_format import chat_tool_call

from .assemble import (
    Node,
    as_text,
    assemble,
    call_arguments,
    llm_step,
    parse_json_text,
    short_values,
    tool_step,
)
from .otlp import Span

_LLM_OPERATIONS = frozenset({"chat", "text_completion", "generate_content", "completion"})
_AGENT_OPERATIONS = frozenset({"invoke_agent", "create_agent", "invoke_workflow"})
_MESSAGE_EVENTS = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}


def trace_to_data(spans: list[Span], trace_id: str) -> dict[str, Any]:
    """The trajectory data of one trace's spans."""
    nodes = [_node(span) for span in spans]
    conventions = sorted({c for span in spans for c in _conventions(span)})
    root = min(
        (s for s in spans if not s.parent_id or s.parent_id not in {x.span_id for x in spans}),
        key=lambda s: s.start_ns or 0,
        default=None,
    )
    metadata: dict[str, Any] = {"trace_id": trace_id, "conventions": conventions}
    service = (root.resource if root else {}).get("service.name")
    if service:
        metadata["service"] = service
    name = None
    if root is not None:
        attrs = root.attributes
        name = attrs.get("gen_ai.agent.name") or attrs.get("traceloop.entity.name") or root.name
    return assemble(nodes, "otlp", id=trace_id, name=name or None, metadata=metadata)


def _conventions(span: Span) -> list[str]:
    attrs = span.attributes
    found = []
    if any(k.startswith("gen_ai.") for k in attrs) or span.logs:
        found.append("gen_ai")
    if "openinference.span.kind" in attrs:
        found.append("openinference")
    if "traceloop.span.kind" in attrs:
        found.append("openllmetry")
    return found


def _node(span: Span) -> Node:
    attrs = span.attributes
    node = Node(span.span_id, span.parent_id, span.start_ns, span.end_ns)
    operation = str(attrs.get("gen_ai.operation.name") or "").lower()
    oi_kind = str(attrs.get("openinference.span.kind") or "").upper()
    tl_kind = str(attrs.get("traceloop.span.kind") or "").lower()
    if oi_kind == "LLM":
        node.step = _openinference_llm(span)
    elif oi_kind == "TOOL":
        node.step = tool_step(
            attrs.get("tool.name") or span.name,
            arguments=attrs.get("input.value", ...),
            result=attrs.get("output.value", ...),
            error=span.error,
            call_id=attrs.get("tool_call.id") or attrs.get("tool.call_id"),
        )
    elif operation in _LLM_OPERATIONS or (
        not operation and not oi_kind and not tl_kind and _looks_like_llm(span)
    ):
        node.step = _genai_llm(span)
    elif operation == "execute_tool":
        node.step = tool_step(
            attrs.get("gen_ai.tool.name") or span.name.removeprefix("execute_tool ").strip(),
            arguments=attrs.get("gen_ai.tool.call.arguments", ...),
            result=attrs.get("gen_ai.tool.call.result", ...),
            error=span.error,
            call_id=attrs.get("gen_ai.tool.call.id"),
        )
    elif tl_kind == "tool":
        entity_input = parse_json_text(attrs.get("traceloop.entity.input"))
        node.step = tool_step(
            attrs.get("gen_ai.tool.name") or attrs.get("traceloop.entity.name") or span.name,
            arguments=call_arguments(entity_input) if "traceloop.entity.input" in attrs else ...,
            result=attrs.get("traceloop.entity.output", ...),
            error=span.error,
            call_id=attrs.get("gen_ai.tool.call.id"),
        )
    elif operation in _AGENT_OPERATIONS or oi_kind or tl_kind:
        node.step = {
            "kind": "span",
            "name": str(
                attrs.get("gen_ai.agent.name") or attrs.get("traceloop.entity.name") or span.name
            ),
            "attributes": short_values(attrs),
        }
        if span.error:
            node.step["error"] = span.error
        node.input, node.output = _agent_input_output(span)
    return node


def _looks_like_llm(span: Span) -> bool:
    attrs = span.attributes
    return ("gen_ai.system" in attrs or "gen_ai.provider.name" in attrs) and (
        "gen_ai.request.model" in attrs or "gen_ai.response.model" in attrs
    )


def _agent_input_output(span: Span) -> tuple[Any, Any]:
    attrs = span.attributes
    if "input.value" in attrs or "output.value" in attrs:  # OpenInference
        return (_value(attrs, "input"), _value(attrs, "output"))
    if "traceloop.entity.input" in attrs or "traceloop.entity.output" in attrs:
        entity_input = parse_json_text(attrs.get("traceloop.entity.input"))
        if isinstance(entity_input, dict) and set(entity_input) <= {"args", "kwargs"}:
            args = entity_input.get("args") or []
            kwargs = entity_input.get("kwargs") or {}
            entity_input = args[0] if len(args) == 1 and not kwargs else entity_input
        return (entity_input, parse_json_text(attrs.get("traceloop.entity.output")))
    inputs = _parts_messages(attrs.get("gen_ai.input.messages"))
    outputs = _parts_messages(attrs.get("gen_ai.output.messages"))
    users = [m.get("content") for m in inputs if m.get("role") == "user"]
    answer = [m.get("content") for m in outputs if m.get("content")]
    return (users[-1] if users else None, answer[-1] if answer else None)


def _value(attrs: dict[str, Any], which: str) -> Any:
    value = attrs.get(f"{which}.value")
    if attrs.get(f"{which}.mime_type") == "application/json":
        return parse_json_text(value)
    return value


# ---- model calls -------------------------------------------------------------------------------


def _genai_llm(span: Span) -> dict[str, Any]:
    attrs = span.attributes
    inputs = _parts_messages(attrs.get("gen_ai.input.messages"))
    outputs = _parts_messages(attrs.get("gen_ai.output.messages"))
    instructions = _parts_messages(
        [{"role": "system", "parts": parse_json_text(attrs.get("gen_ai.system_instructions"))}]
        if "gen_ai.system_instructions" in attrs
        else None
    )
    if not inputs and not outputs:
        inputs = _indexed_messages(attrs, "gen_ai.prompt.")
        outputs = _indexed_messages(attrs, "gen_ai.completion.")
    if not inputs and not outputs:
        inputs, outputs = _event_messages(span)
    return llm_step(
        model=attrs.get("gen_ai.response.model") or attrs.get("gen_ai.request.model"),
        provider=attrs.get("gen_ai.provider.name") or attrs.get("gen_ai.system"),
        input_messages=instructions + inputs,
        output_message=outputs[0] if outputs else None,
        input_tokens=_first(attrs, "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"),
        output_tokens=_first(attrs, "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"),
        cached_tokens=_first(
            attrs, "gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens"
        ),
        cost_usd=_first(attrs, "gen_ai.usage.cost", "llm.cost.total"),
        error=span.error,
        response_id=attrs.get("gen_ai.response.id"),
    )


def _openinference_llm(span: Span) -> dict[str, Any]:
    attrs = span.attributes
    response_id = None
    if attrs.get("output.mime_type") == "application/json":
        output = parse_json_text(attrs.get("output.value"))
        if isinstance(output, dict):
            response_id = output.get("id")
    outputs = _openinference_messages(attrs, "llm.output_messages.")
    return llm_step(
        model=attrs.get("llm.model_name"),
        provider=attrs.get("llm.provider") or attrs.get("llm.system"),
        input_messages=_openinference_messages(attrs, "llm.input_messages."),
        output_message=outputs[0] if outputs else None,
        input_tokens=attrs.get("llm.token_count.prompt"),
        output_tokens=attrs.get("llm.token_count.completion"),
        cached_tokens=attrs.get("llm.token_count.prompt_details.cache_read"),
        cost_usd=attrs.get("llm.cost.total"),
        error=span.error,
        response_id=response_id,
    )


def _first(attrs: dict[str, Any], *names: str) -> Any:
    for name in names:
        if attrs.get(name) is not None:
            return attrs[name]
    return None


def _parts_messages(value: Any) -> list[dict[str, Any]]:
    """GenAI "parts" messages (``[{role, parts: [...]}]``, JSON text or structured) as chat
    messages; a ``tool_call_response`` part becomes a ``role: tool`` message."""
    messages = parse_json_text(value)
    if not isinstance(messages, list):
        return []
    out: list[dict[str, Any]] = []
    for message in messages:
        if not isinstance(message, dict):
            continue
        role = str(message.get("role") or "user")
        parts = message.get("parts")
        if not isinstance(parts, list):
            content = message.get("content")
            out.append(
                {"role": role, "content": content if isinstance(content, str) else as_text(content)}
            )
            continue
        texts: list[str] = []
        calls: list[dict[str, Any]] = []
        other: list[Any] = []
        for part in parts:
            if not isinstance(part, dict):
                continue
            kind = part.get("type")
            if kind == "text" and isinstance(part.get("content"), str):
                texts.append(part["content"])
            elif kind == "tool_call":
                calls.append(
                    chat_tool_call(part.get("id"), part.get("name"), part.get("arguments"))
                )
            elif kind == "tool_call_response":
                out.append(
                    {
                        "role": "tool",
                        "tool_call_id": part.get("id"),
                        "content": as_text(part.get("response")),
                    }
                )
            else:
                other.append(part)
        if texts or calls or other or not parts:
            chat: dict[str, Any] = {"role": role, "content": "".join(texts) if texts else None}
            if other and not texts:
                chat["content"] = other
            if calls:
                chat["tool_calls"] = calls
            out.append(chat)
    return out


_INDEX = re.compile(r"^(\d+)\.(.+)$")


def _indexed(attrs: dict[str, Any], prefix: str) -> dict[int, dict[str, Any]]:
    """``prefix.N.rest`` attributes as ``{N: {rest: value}}``."""
    out: dict[int, dict[str, Any]] = {}
    for key, value in attrs.items():
        if key.startswith(prefix):
            match = _INDEX.match(key[len(prefix) :])
            if match:
                out.setdefault(int(match.group(1)), {})[match.group(2)] = value
    return dict(sorted(out.items()))


def _indexed_messages(attrs: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    """The older flattened form: ``gen_ai.prompt.0.role``, ``.content``,
    ``.tool_calls.0.name|arguments|id``, ``.tool_call_id``."""
    messages = []
    for fields in _indexed(attrs, prefix).values():
        message: dict[str, Any] = {"role": str(fields.get("role") or "user")}
        message["content"] = fields.get("content")
        calls = _indexed(fields, "tool_calls.")
        if calls:
            message["tool_calls"] = [
                chat_tool_call(c.get("id"), c.get("name"), c.get("arguments"))
                for c in calls.values()
            ]
        if fields.get("tool_call_id"):
            message["tool_call_id"] = fields["tool_call_id"]
        messages.append(message)
    return messages


def _openinference_messages(attrs: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    messages = []
    for fields in _indexed(attrs, prefix).values():
        message: dict[str, Any] = {"role": str(fields.get("message.role") or "user")}
        content = fields.get("message.content")
        if content is None:
            parts = _indexed(fields, "message.contents.")
            texts = [p.get("message_content.text") for p in parts.values()]
            content = "".join(t for t in texts if isinstance(t, str)) or None
        message["content"] = content
        calls = _indexed(fields, "message.tool_calls.")
        if calls:
            message["tool_calls"] = [
                chat_tool_call(
                    c.get("tool_call.id"),
                    c.get("tool_call.function.name"),
                    c.get("tool_call.function.arguments"),
                )
                for c in calls.values()
            ]
        if fields.get("message.tool_call_id"):
            message["tool_call_id"] = fields["message.tool_call_id"]
        messages.append(message)
    return messages


def _event_messages(span: Span) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Messages carried by GenAI events: span events (attributes, ``gen_ai.event.content``
    JSON) and log records (a structured body)."""
    events: list[tuple[str, Any]] = [(name, body) for name, _, body in span.logs]
    for name, _, attrs in span.events:
        body: Any = attrs
        if "gen_ai.event.content" in attrs:
            body = parse_json_text(attrs["gen_ai.event.content"])
        events.append((name, body))
    inputs: list[dict[str, Any]] = []
    outputs: list[dict[str, Any]] = []
    for name, body in events:
        fields = body if isinstance(body, dict) else {"content": body}
        if name in _MESSAGE_EVENTS:
            inputs.append(_event_message(_MESSAGE_EVENTS[name], fields))
        elif name == "gen_ai.choice":
            message = fields.get("message")
            message = message if isinstance(message, dict) else fields
            outputs.append(_event_message(str(message.get("role") or "assistant"), message))
    return inputs, outputs


def _event_message(role: str, fields: dict[str, Any]) -> dict[str, Any]:
    content = fields.get("content")
    message: dict[str, Any] = {
        "role": role,
        "content": content if isinstance(content, (str, type(None))) else as_text(content),
    }
    calls = fields.get("tool_calls")
    if isinstance(calls, list) and calls:
        out = []
        for call in calls:
            if not isinstance(call, dict):
                continue
            function = call["function"] if isinstance(call.get("function"), dict) else call
            out.append(
                chat_tool_call(call.get("id"), function.get("name"), function.get("arguments"))
            )
        message["tool_calls"] = out
    if role == "tool" and fields.get("id"):
        message["tool_call_id"] = fields["id"]
    return message
