"""OpenAI Agents SDK traces (``openai-agents``) -> trajectory data.

Three shapes are read (and detected by :mod:`.registry`):

- ``{"trace": trace.export(), "spans": [span.export(), ...]}``, what a ``TracingProcessor``
  keeps;
- ``{"data": [trace, span, ...]}``, the body ``BackendSpanExporter`` POSTs to the traces
  ingest endpoint (items ``{"object": "trace"}`` and ``{"object": "trace.span"}``; several
  traces may share one body);
- a list of such items (or of such bodies).

One trajectory per trace id: a span whose trace object is missing still groups by its
``trace_id``.  Spans arrive children-first (in end order); they are put in start order.

What each span becomes (``span_data.type``):

========================  =====================================================================
``generation``            LLM step: ``model``, ``input`` (chat messages), ``output`` (assistant
                          message dicts, merged into one), ``usage`` (``input_tokens`` /
                          ``output_tokens``, or ``prompt_tokens`` / ``completion_tokens``, or
                          the exporter's ``{input_tokens, output_tokens, details}``)
``response``              LLM step (Responses API) with ``response_id`` and the usage; the SDK
                          exports no content and no model (``unknown`` unless present)
``function``              tool step: ``name``, ``input`` (JSON arguments), ``output`` (the
                          result, JSON or a Python repr), the span's ``error``; the call id is
                          the matching tool call of the model response before it
``handoff``               tool step named after the transfer tool the model called
                          (``transfer_to_<agent>``): arguments of that call, result
                          ``{"assistant": "<to agent>"}`` (what the SDK told the model)
``agent``                 span step named after the agent (``tools``, ``handoffs``,
                          ``output_type``)
``guardrail``             span step named after the guardrail, ``triggered``; a triggered
                          tripwire is the step's error
``custom``                span step (``data``'s short values); the SDK's own ``task`` and
                          ``turn`` spans are not steps (they repeat the agent spans' usage)
others                    span steps (``mcp_tools``, ``transcription``, ``speech``, ...)
========================  =====================================================================

Handoffs are tool steps, not spans, because that is what the model did: it called the tool
``transfer_to_refund_agent`` (the call is in the model response, and in a chat-completions
trace the SDK's answer ``{"assistant": "Refund agent"}`` is in the next request).  As a tool
step the handoff can be asserted like any call (``assert_tool_calls``, policy rules such as
``require_before``), and it answers that requested call, so the conversation does not add a
second copy of it.  Its parent is the agent that handed off.

Every problem raises :class:`~pytest_agentops.errors.TrajectoryLoadError` naming the source,
the item (index and span id), the field and what was expected.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pytest_agentops.errors import TrajectoryLoadError
from pytest_agentops.trajectory.openai_format import chat_tool_call

from .assemble import (
    ATTRIBUTE_LIMIT,
    Node,
    as_text,
    assemble,
    literal_text,
    llm_step,
    nanoseconds,
    parse_json_text,
    problem,
    short,
    short_values,
    tool_step,
)

SOURCE_FORMAT = "openai-agents"
#: ``custom`` spans the SDK makes for its own run loop (0.24+): not steps.
_SDK_SPANS = frozenset({"task", "turn"})


@dataclass(slots=True)
class _Span:
    where: str
    id: str
    trace_id: str | None
    parent_id: str | None
    start_ns: int | None
    end_ns: int | None
    type: str
    data: dict[str, Any]
    error: str | None

    def fail(self, source: str, field: str, expected: str, got: Any) -> TrajectoryLoadError:
        return problem(source, f"{self.where} (span {self.id})", field, expected, got)


# ---- reading the items -----------------------------------------------------------------------


def trajectories_from_openai_agents(
    data: Any, *, source: str = "<openai-agents>"
) -> list[dict[str, Any]]:
    """The trajectory data of each trace in an Agents SDK export (see the module docstring)."""
    traces: dict[str, dict[str, Any]] = {}
    spans: dict[str, dict[str, _Span]] = {}
    raw: dict[tuple[str, str], Any] = {}
    order: list[str] = []
    items = _items(data, source)
    for where, item, hint in items:
        kind = _kind(item, hint, where, source)
        if kind == "trace":
            trace_id = _trace_id(item, where, source)
            if trace_id not in traces:
                traces[trace_id] = item
            if trace_id not in order:
                order.append(trace_id)
    for where, item, hint in items:
        if _kind(item, hint, where, source) != "span":
            continue
        span = _span(item, where, source)
        if span.trace_id is None:
            if len(traces) != 1:
                raise problem(
                    source,
                    f"{where} (span {span.id})",
                    "trace_id",
                    "the id of the span's trace",
                    item.get("trace_id"),
                )
            span.trace_id = next(iter(traces))
        trace_id = span.trace_id
        if trace_id not in order:
            order.append(trace_id)
        group = spans.setdefault(trace_id, {})
        if span.id in group:
            if raw[trace_id, span.id] != item:
                raise TrajectoryLoadError(
                    f"{source}: {where}: span id {span.id!r} is used by two different spans "
                    f"({group[span.id].where} and {where}): expected one span per id"
                )
            continue
        group[span.id] = span
        raw[trace_id, span.id] = item
    if not order:
        raise TrajectoryLoadError(
            f"{source}: an OpenAI Agents SDK export with no trace and no span in it"
        )
    return [
        _trajectory(trace_id, traces.get(trace_id), list(spans.get(trace_id, {}).values()), source)
        for trace_id in order
    ]


def _items(data: Any, source: str) -> list[tuple[str, Any, str | None]]:
    """``(where, item, "trace" | "span" | None)`` of every item of the export."""
    if isinstance(data, dict) and "data" not in data and ("trace" in data or "spans" in data):
        out: list[tuple[str, Any, str | None]] = []
        if data.get("trace") is not None:
            out.append(("trace", data["trace"], "trace"))
        spans = data.get("spans")
        if spans is None:
            spans = []
        if not isinstance(spans, list):
            raise problem(source, "(top level)", "spans", "a list of spans", spans)
        out += [(f"spans[{i}]", span, "span") for i, span in enumerate(spans)]
        return out
    if isinstance(data, dict) and "data" in data:
        body = data["data"]
        if not isinstance(body, list):
            raise problem(source, "(top level)", "data", "a list of traces and spans", body)
        return [(f"data[{i}]", item, None) for i, item in enumerate(body)]
    if isinstance(data, list):
        out = []
        for i, item in enumerate(data):
            if isinstance(item, dict) and "object" not in item and "data" in item:
                if not isinstance(item["data"], list):  # a list of exporter bodies
                    raise problem(
                        source, f"[{i}]", "data", "a list of traces and spans", item["data"]
                    )
                out += [(f"[{i}].data[{j}]", x, None) for j, x in enumerate(item["data"])]
            else:
                out.append((f"[{i}]", item, None))
        return out
    raise TrajectoryLoadError(
        f"{source}: not an OpenAI Agents SDK export: expected an object with `trace` and "
        f"`spans`, an object with `data` (the exporter's body) or a list of traces and spans, "
        f"got {type(data).__name__}"
    )


def _kind(item: Any, hint: str | None, where: str, source: str) -> str:
    if not isinstance(item, dict):
        expected = f"a {hint}" if hint else "a trace or a span"
        raise TrajectoryLoadError(
            f"{source}: {where}: expected {expected} (an object), got {short(item)}"
        )
    kind = item.get("object")
    if kind == "trace":
        return "trace"
    if kind == "trace.span":
        return "span"
    if hint is not None and kind is None:
        return hint
    if kind is None and "span_data" in item:
        return "span"
    raise problem(source, where, "object", '"trace" or "trace.span"', kind)


def _trace_id(item: dict[str, Any], where: str, source: str) -> str:
    trace_id = item.get("id")
    if not isinstance(trace_id, str) or not trace_id:
        raise problem(source, where, "id", "the trace id (a string)", trace_id)
    for field in ("workflow_name", "group_id"):
        if not isinstance(item.get(field), (str, type(None))):
            raise problem(source, f"{where} (trace {trace_id})", field, "a string", item[field])
    if not isinstance(item.get("metadata"), (dict, type(None))):
        raise problem(
            source, f"{where} (trace {trace_id})", "metadata", "an object", item["metadata"]
        )
    return trace_id


def _span(item: dict[str, Any], where: str, source: str) -> _Span:
    span_id = item.get("id")
    if not isinstance(span_id, str) or not span_id:
        raise problem(source, where, "id", "the span id (a string)", span_id)
    at = f"{where} (span {span_id})"
    ids: dict[str, str | None] = {}
    for field in ("trace_id", "parent_id"):
        value = item.get(field)
        if not isinstance(value, (str, type(None))):
            raise problem(source, at, field, "an id (a string) or null", value)
        ids[field] = value or None
    times: dict[str, int | None] = {}
    for field in ("started_at", "ended_at"):
        value = item.get(field)
        times[field] = nanoseconds(value) if isinstance(value, str) else None
        if value is not None and times[field] is None:
            raise problem(source, at, field, "an ISO 8601 timestamp or null", value)
    data = item.get("span_data")
    if not isinstance(data, dict):
        raise problem(source, at, "span_data", "an object with `type`", data)
    kind = data.get("type")
    if not isinstance(kind, str) or not kind:
        raise problem(source, at, "span_data.type", "the span type (a string)", kind)
    return _Span(
        where=where,
        id=span_id,
        trace_id=ids["trace_id"],
        parent_id=ids["parent_id"],
        start_ns=times["started_at"],
        end_ns=times["ended_at"],
        type=kind,
        data=data,
        error=_error(item.get("error"), at, source),
    )


def _error(value: Any, at: str, source: str) -> str | None:
    """The text of a span's ``{message, data}`` error (``data.error`` added when it says
    more)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    if not isinstance(value, dict):
        raise problem(source, at, "error", "null or an object with `message`", value)
    message = value.get("message")
    if not isinstance(message, (str, type(None))):
        raise problem(source, at, "error.message", "a string", message)
    data = value.get("data")
    detail = data.get("error") if isinstance(data, dict) else data
    detail_text = as_text(detail) if detail not in (None, "", {}, []) else None
    parts = [p for p in (message, detail_text) if p]
    return ": ".join(parts) if parts else "error"


# ---- spans -> steps --------------------------------------------------------------------------


def _trajectory(
    trace_id: str, trace: dict[str, Any] | None, spans: list[_Span], source: str
) -> dict[str, Any]:
    ordered = sorted(spans, key=lambda s: (s.start_ns is None, s.start_ns or 0))
    llm: dict[str, dict[str, Any]] = {}
    for span in ordered:
        if span.type == "generation":
            llm[span.id] = _generation(span, source)
        elif span.type == "response":
            llm[span.id] = _response(span, source)
    answers = _tool_answers(llm.values())
    agent_tools = {
        span.data["name"]: {str(t) for t in span.data["tools"]}
        for span in ordered
        if span.type == "agent"
        and isinstance(span.data.get("name"), str)
        and isinstance(span.data.get("tools"), list)
    }
    open_calls: list[dict[str, Any]] = []
    nodes: list[Node] = []
    truncated = 0
    for span in ordered:
        node = Node(span.id, span.parent_id, span.start_ns, span.end_ns)
        if span.id in llm:
            node.step = llm[span.id]
            if node.step["requested_tool_calls"]:
                open_calls = list(node.step["requested_tool_calls"])
        elif span.type == "function":
            node.step = _function(span, open_calls, source)
        elif span.type == "handoff":
            node.step = _handoff(span, open_calls, answers, agent_tools, source)
        else:
            node.step = _span_step(span, source)
        if any(_is_truncated(span.data.get(k)) for k in ("input", "output")):
            truncated += 1
        nodes.append(node)
    metadata: dict[str, Any] = {"source_format": SOURCE_FORMAT, "trace_id": trace_id}
    name = None
    if trace is not None:
        name = trace.get("workflow_name") or None
        if trace.get("group_id"):
            metadata["group_id"] = trace["group_id"]
        if trace.get("metadata"):
            metadata["trace_metadata"] = trace["metadata"]
    if truncated:
        metadata["truncated_spans"] = truncated
    return assemble(nodes, SOURCE_FORMAT, id=trace_id, name=name, metadata=metadata)


def _is_truncated(value: Any) -> bool:
    """The exporter's stand-in for a field too big to send (``{"truncated": true, ...}``)."""
    return isinstance(value, dict) and value.get("truncated") is True and "preview" in value


def _generation(span: _Span, source: str) -> dict[str, Any]:
    data = span.data
    model = data.get("model")
    if not isinstance(model, (str, type(None))):
        raise span.fail(source, "span_data.model", "the model name (a string)", model)
    inputs = data.get("input")
    outputs = data.get("output")
    input_messages = [] if _is_truncated(inputs) else _messages(span, "input", inputs, source)
    output_messages = [] if _is_truncated(outputs) else _messages(span, "output", outputs, source)
    usage = _usage(span, source)
    return llm_step(
        model=model,
        input_messages=input_messages,
        output_message=_merged(output_messages),
        input_tokens=_first(usage, "input_tokens", "prompt_tokens"),
        output_tokens=_first(usage, "output_tokens", "completion_tokens"),
        cached_tokens=_cached(usage),
        error=span.error,
        response_id=data.get("response_id"),
    )


def _response(span: _Span, source: str) -> dict[str, Any]:
    data = span.data
    response = data.get("response")
    response = response if isinstance(response, dict) else {}
    model = data.get("model") or response.get("model")
    if not isinstance(model, (str, type(None))):
        raise span.fail(source, "span_data.model", "the model name (a string)", model)
    response_id = data.get("response_id") or response.get("id")
    if not isinstance(response_id, (str, type(None))):
        raise span.fail(source, "span_data.response_id", "a string", response_id)
    usage = _usage(span, source)
    # Not in the SDK's export; read when a processor of the user's adds them.
    input_messages = _response_messages(data.get("input"))
    outputs = _response_messages(response.get("output"))
    output = _merged([m for m in outputs if m.get("role") == "assistant"])
    return llm_step(
        model=model,
        input_messages=input_messages,
        output_message=output,
        input_tokens=_first(usage, "input_tokens", "prompt_tokens"),
        output_tokens=_first(usage, "output_tokens", "completion_tokens"),
        cached_tokens=_cached(usage),
        error=span.error,
        response_id=response_id,
    )


def _usage(span: _Span, source: str) -> dict[str, Any]:
    usage = span.data.get("usage")
    if usage is None:
        return {}
    if not isinstance(usage, dict):
        raise span.fail(source, "span_data.usage", "an object of token counts", usage)
    return usage


def _first(usage: dict[str, Any], *names: str) -> Any:
    for name in names:
        if usage.get(name) is not None:
            return usage[name]
    return None


def _cached(usage: dict[str, Any]) -> Any:
    details = usage.get("details")
    for holder in (usage, details if isinstance(details, dict) else {}):
        for key in ("input_tokens_details", "prompt_tokens_details"):
            value = holder.get(key)
            if isinstance(value, dict) and value.get("cached_tokens") is not None:
                return value["cached_tokens"]
    return None


def _messages(span: _Span, field: str, value: Any, source: str) -> list[dict[str, Any]]:
    """A generation's ``input`` or ``output``: chat messages, checked."""
    if value is None:
        return []
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise span.fail(source, f"span_data.{field}", "a list of chat messages", value)
    out = []
    for index, message in enumerate(value):
        at = f"span_data.{field}[{index}]"
        if not isinstance(message, dict):
            raise span.fail(source, at, "a chat message (an object with `role`)", message)
        role = message.get("role", "assistant" if field == "output" else None)
        if not isinstance(role, str) or not role:
            raise span.fail(source, f"{at}.role", "a role (a string)", message.get("role"))
        message = dict(message, role=role)
        calls = message.get("tool_calls")
        if calls is not None:
            message["tool_calls"] = _tool_calls(span, f"{at}.tool_calls", calls, source)
        if not isinstance(message.get("function_call"), (dict, type(None))):
            raise span.fail(
                source,
                f"{at}.function_call",
                'null or {"name", "arguments"}',
                message["function_call"],
            )
        if role == "tool" and not isinstance(message.get("tool_call_id"), (str, type(None))):
            raise span.fail(source, f"{at}.tool_call_id", "a string", message["tool_call_id"])
        if field == "output":  # the SDK dumps the whole pydantic message: drop the nulls
            message = {k: v for k, v in message.items() if v is not None or k == "content"}
            message.setdefault("content", None)
        out.append(message)
    return out


def _tool_calls(span: _Span, at: str, calls: Any, source: str) -> list[dict[str, Any]]:
    expected = 'a list of {"id", "type": "function", "function": {"name", "arguments"}}'
    if not isinstance(calls, list):
        raise span.fail(source, at, expected, calls)
    out = []
    for index, call in enumerate(calls):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            raise span.fail(source, f"{at}[{index}]", expected, call)
        call_id = call.get("id")
        name = function.get("name")
        if not isinstance(call_id, (str, type(None))):
            raise span.fail(source, f"{at}[{index}].id", "the call id (a string)", call_id)
        if not isinstance(name, str):
            raise span.fail(source, f"{at}[{index}].function.name", "a tool name", name)
        out.append(chat_tool_call(call_id, name, function.get("arguments")))
    return out


def _merged(messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The assistant message of a model response (several output messages made one)."""
    if not messages:
        return None
    if len(messages) == 1:
        return messages[0]
    texts = [m["content"] for m in messages if isinstance(m.get("content"), str)]
    calls = [c for m in messages for c in m.get("tool_calls") or []]
    merged: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        merged["tool_calls"] = calls
    return merged


def _response_messages(items: Any) -> list[dict[str, Any]]:
    """Responses API items (``input`` text or list, ``response.output``) as chat messages;
    anything else is left out."""
    if isinstance(items, str):
        return [{"role": "user", "content": items}]
    if not isinstance(items, list):
        return []
    out: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        kind = item.get("type", "message" if "role" in item else None)
        if kind == "message" and isinstance(item.get("role"), str):
            content = item.get("content")
            if isinstance(content, list):
                texts = [p.get("text") for p in content if isinstance(p, dict)]
                content = "".join(t for t in texts if isinstance(t, str))
            out.append({"role": item["role"], "content": content})
        elif kind == "function_call" and isinstance(item.get("name"), str):
            call_id = item.get("call_id") or item.get("id")
            call = chat_tool_call(
                call_id if isinstance(call_id, str) else None, item["name"], item.get("arguments")
            )
            last = out[-1] if out else None
            if last is not None and last["role"] == "assistant" and "tool_calls" in last:
                last["tool_calls"].append(call)
            else:
                out.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output" and isinstance(item.get("call_id"), str):
            output = item.get("output")
            out.append(
                {
                    "role": "tool",
                    "tool_call_id": item["call_id"],
                    "content": output if isinstance(output, str) else as_text(output),
                }
            )
    return out


def _tool_answers(steps: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """What each tool call was answered with, by call id, from the model requests."""
    answers: dict[str, Any] = {}
    for step in steps:
        for message in step["input_messages"]:
            call_id = message.get("tool_call_id")
            if message.get("role") == "tool" and isinstance(call_id, str):
                answers.setdefault(call_id, message.get("content"))
    return answers


def _claim(open_calls: list[dict[str, Any]], name: str, arguments: Any) -> dict[str, Any] | None:
    """The model's request this execution answers: same name, the same arguments if any."""
    same = [c for c in open_calls if c["name"] == name]
    exact = [c for c in same if c["arguments"] == arguments]
    candidates = exact or same
    if not candidates:
        return None
    open_calls.remove(candidates[0])
    return candidates[0]


def _function(span: _Span, open_calls: list[dict[str, Any]], source: str) -> dict[str, Any]:
    data = span.data
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise span.fail(source, "span_data.name", "the tool name (a string)", name)
    raw_input = data.get("input")
    raw_output = data.get("output")
    arguments: Any = ...
    if raw_input is not None and not _is_truncated(raw_input):
        if isinstance(raw_input, str) and raw_input.endswith("... [truncated]"):
            arguments = ...
        elif raw_input == "":
            arguments = {}
        else:
            arguments = parse_json_text(raw_input)
            arguments = arguments if isinstance(arguments, dict) else {"_raw": arguments}
    result: Any = ...
    if not _is_truncated(raw_output):
        result = _result(raw_output)
    request = _claim(open_calls, name, arguments)
    if arguments is ... and request is None:
        arguments = {}
    return tool_step(
        name,
        arguments=arguments,
        result=result,
        error=span.error,
        call_id=request["id"] if request else None,
    )


def _result(output: Any) -> Any:
    """A function span's output: JSON, a Python literal (``str()`` of a dict or list), or the
    text as it is."""
    value = parse_json_text(output)
    if value is output and isinstance(output, str):
        return literal_text(output)
    return value


def _transfer_name(agent: str) -> str:
    """The SDK's default handoff tool name (``Handoff.default_tool_name``)."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", re.sub(r"\s", "_", f"transfer_to_{agent}")).lower()


def _handoff(
    span: _Span,
    open_calls: list[dict[str, Any]],
    answers: dict[str, Any],
    agent_tools: dict[str, set[str]],
    source: str,
) -> dict[str, Any]:
    names: dict[str, str | None] = {}
    for field in ("from_agent", "to_agent"):
        value = span.data.get(field)
        if not isinstance(value, (str, type(None))):
            raise span.fail(source, f"span_data.{field}", "an agent name (a string)", value)
        names[field] = value
    to_agent = names["to_agent"]
    default = _transfer_name(to_agent) if to_agent else None
    request = _claim(open_calls, default, ...) if default else None
    if request is None:  # a renamed handoff tool: the one call that is not a tool's
        tools = agent_tools.get(names["from_agent"] or "")
        transfers = [
            c
            for c in open_calls
            if c["name"].startswith("transfer_to") or (tools is not None and c["name"] not in tools)
        ]
        if len(transfers) == 1:
            request = transfers[0]
            open_calls.remove(request)
    name = request["name"] if request else default or "handoff"
    arguments = request["arguments"] if request else {}
    call_id = request["id"] if request else None
    if call_id in answers:
        result = parse_json_text(answers[call_id])
    else:
        result = {"assistant": to_agent} if to_agent else None
    return tool_step(
        name,
        arguments=arguments if isinstance(arguments, dict) else {"_raw": arguments},
        result=result,
        error=span.error,
        call_id=call_id,
    )


def _span_step(span: _Span, source: str) -> dict[str, Any] | None:
    data = span.data
    attributes: dict[str, Any] = {"type": span.type}
    error = span.error
    name: Any = data.get("name")
    if span.type == "custom":
        inner = data.get("data")
        if isinstance(inner, dict):
            kind = inner.get("sdk_span_type")
            if isinstance(kind, str) and kind in _SDK_SPANS:
                return None
            attributes.update(_short_values(inner))
    elif span.type == "agent":
        if not isinstance(name, str) or not name:
            raise span.fail(source, "span_data.name", "the agent name (a string)", name)
        for field in ("tools", "handoffs"):
            value = data.get(field)
            if value is not None and not isinstance(value, list):
                raise span.fail(source, f"span_data.{field}", "a list of names", value)
            if value:
                attributes[field] = [str(v) for v in value]
        if isinstance(data.get("output_type"), str):
            attributes["output_type"] = data["output_type"][:ATTRIBUTE_LIMIT]
    elif span.type == "guardrail":
        triggered = data.get("triggered")
        if not isinstance(triggered, (bool, type(None))):
            raise span.fail(source, "span_data.triggered", "true or false", triggered)
        attributes["triggered"] = bool(triggered)
        if triggered and not error:
            error = "guardrail tripwire triggered"
    elif span.type == "mcp_tools":
        name = f"mcp_tools: {data.get('server')}" if data.get("server") else None
        attributes.update(_short_values(data))
        if isinstance(data.get("result"), list):
            attributes["result"] = [str(v) for v in data["result"]]
    else:
        attributes.update(_short_values(data))
    step: dict[str, Any] = {
        "kind": "span",
        "name": name if isinstance(name, str) and name else span.type,
        "attributes": attributes,
    }
    if error:
        step["error"] = error
    return step


def _short_values(data: dict[str, Any]) -> dict[str, Any]:
    return short_values({key: value for key, value in data.items() if key != "type"})
