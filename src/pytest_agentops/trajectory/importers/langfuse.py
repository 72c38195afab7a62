"""Langfuse traces (``langfuse``) -> trajectory data.

Read: a trace with its ``observations`` (``GET /api/public/traces/{id}``,
``TraceWithFullDetails``), a list of such traces, ``{"data": [traces]}``, and observations on
their own (``GET /api/public/observations`` gives ``{"data": [observations]}``), grouped by
``traceId``.  Field names are read in Langfuse's camelCase and in the Python SDK's snake_case
(``startTime`` / ``start_time``, ``parentObservationId`` / ``parent_observation_id``, ...).
One trajectory per trace, in order of first appearance.

What each observation becomes (``type``):

===============  ================================================================================
``GENERATION``   LLM step.  ``input``: chat messages (a list, or ``{"messages": [...]}``;
                 Anthropic content blocks and LangChain messages are read too), or a text prompt
                 (one user message).  ``output``: the assistant message (``tool_calls`` in
                 OpenAI's or LangChain's form), an OpenAI response (``choices[0].message``), a
                 list of messages, or text.  Input or output that is no conversation at all
                 (Langfuse takes any JSON) becomes a user / assistant message holding its JSON.
                 ``model``.  Tokens: ``usageDetails`` (``input`` / ``output``, or OpenAI's
                 ``prompt_tokens`` / ``completion_tokens``; cached: ``input_cached_tokens``,
                 ``cache_read_input_tokens``, ``input_cache_read``, ``cache_read``), else the
                 older ``usage`` (``input`` / ``output`` or ``promptTokens`` /
                 ``completionTokens``), else ``promptTokens`` / ``completionTokens``.  Cost:
                 ``costDetails.total``, ``calculatedTotalCost``, ``usage.totalCost``, or the sum
                 of ``costDetails``.  (``inputPrice`` / ``outputPrice`` / ``totalPrice`` are the
                 model's prices per unit, not costs: not read.)
``TOOL``         Tool step: ``name``, ``input`` (the arguments; JSON text parsed; the
                 ``@observe`` decorator's ``{"args", "kwargs"}`` gives ``kwargs``), ``output``
                 (the result), call id ``metadata.tool_call_id``, else the first open tool call
                 of that name an earlier generation requested.  Input or output that is null
                 is "not recorded" (taken from the conversation when it has them).
``SPAN``         A tool step, read as a ``TOOL``, when its name is the name of a tool call an
                 earlier generation requested that no tool step answered yet (older SDKs and
                 ``@observe``-decorated tools record tools as spans); otherwise a span step.
``EVENT``        Span step (``type``: ``EVENT``).
others           Span step named after the observation with its ``type`` (``AGENT``, ``CHAIN``,
                 ``RETRIEVER``, ``EMBEDDING``, ``GUARDRAIL``, ``EVALUATOR``, ...).
===============  ================================================================================

``level: "ERROR"`` makes ``statusMessage`` (or "error") the step's error.  ``startTime`` /
``endTime`` give the step's start and duration; ``parentObservationId`` its parent.

The trajectory's id is the trace id, its name the trace's ``name``.  Its input and output are
the trace's ``input`` / ``output`` (for a conversation: the last user / assistant text), else
those of the root observation.  Metadata: ``trace_id``, and ``user_id``, ``session_id``,
``tags``, ``trace_metadata``, ``release``, ``version`` when the trace has them.

Every problem raises :class:`~pytest_agentops.errors.TrajectoryLoadError` naming the source,
the trace or observation (where it is and its id), the field and what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pytest_agentops.errors import TrajectoryLoadError
from pytest_agentops.trajectory.openai_format import anthropic_blocks, from_anthropic

from .assemble import (
    Node,
    amount,
    as_text,
    assemble,
    call_arguments,
    llm_step,
    nanoseconds,
    problem,
    short,
    short_value,
    tool_step,
)
from .messages import (
    BadField,
    as_dict,
    chat_message,
    chat_messages,
    conversation_text,
    first_count,
)

SOURCE_FORMAT = "langfuse"
#: Keys of ``usageDetails`` that count cached input tokens (by SDK and provider).
_CACHED = ("input_cached_tokens", "cache_read_input_tokens", "input_cache_read", "cache_read")


def _get(item: dict[str, Any], camel: str, snake: str | None = None) -> Any:
    """A field by its camelCase name, else its snake_case one."""
    value = item.get(camel)
    if value is None and snake is not None:
        value = item.get(snake)
    return value


@dataclass(slots=True)
class _Observation:
    where: str
    id: str
    trace_id: str | None
    parent_id: str | None
    start_ns: int | None
    end_ns: int | None
    type: str
    name: str | None
    error: str | None
    raw: dict[str, Any]

    @property
    def at(self) -> str:
        return f"{self.where} (observation {self.id})"


@dataclass(slots=True)
class _Trace:
    where: str
    id: str | None
    raw: dict[str, Any]
    observations: list[_Observation]


def trajectories_from_langfuse(data: Any, *, source: str = "<langfuse>") -> list[dict[str, Any]]:
    """The trajectory data of each trace in a Langfuse export (see the module docstring)."""
    traces: dict[str | None, _Trace] = {}
    for where, item in _items(data, source):
        if "observations" in item:
            trace = _trace(item, where, source)
            known = traces.get(trace.id)
            if known is None:
                traces[trace.id] = trace
            else:  # the same trace again, or its observations listed before it
                if not known.raw:
                    known.raw, known.where = trace.raw, trace.where
                known.observations += trace.observations
        else:
            observation = _observation(item, where, source)
            group = traces.setdefault(
                observation.trace_id, _Trace(where, observation.trace_id, {}, [])
            )
            group.observations.append(observation)
    if not traces:
        raise TrajectoryLoadError(f"{source}: a Langfuse export with no trace in it")
    return [_trajectory(trace, source) for trace in traces.values()]


def _items(data: Any, source: str) -> list[tuple[str, dict[str, Any]]]:
    if isinstance(data, dict) and "observations" in data:
        return [("(top level)", data)]
    if isinstance(data, dict) and "data" in data:
        items, prefix = data["data"], "data"
        if not isinstance(items, list):
            raise problem(source, "(top level)", "data", "a list of traces", items)
    elif isinstance(data, list):
        items, prefix = data, ""
    else:
        raise TrajectoryLoadError(
            f"{source}: not a Langfuse export: expected a trace (an object with "
            f'`observations`), a list of traces, or {{"data": [traces]}}, got '
            f"{type(data).__name__}"
        )
    out = []
    for index, item in enumerate(items):
        where = f"{prefix}[{index}]"
        if not isinstance(item, dict) or not (
            "observations" in item or "type" in item or "traceId" in item or "trace_id" in item
        ):
            raise TrajectoryLoadError(
                f"{source}: {where}: expected a trace (an object with `observations`) or an "
                f"observation (an object with `type`), got {short(item)}"
            )
        out.append((where, item))
    return out


def _trace(item: dict[str, Any], where: str, source: str) -> _Trace:
    trace_id = item.get("id")
    if not isinstance(trace_id, str) or not trace_id:
        raise problem(source, where, "id", "the trace id (a string)", trace_id)
    at = f"{where} (trace {trace_id})"
    for camel, snake in (("name", None), ("userId", "user_id"), ("sessionId", "session_id")):
        value = _get(item, camel, snake)
        if not isinstance(value, (str, type(None))):
            raise problem(source, at, camel, "a string or null", value)
    tags = item.get("tags")
    if not isinstance(tags, (list, type(None))):
        raise problem(source, at, "tags", "a list of strings", tags)
    found = item["observations"]
    if not isinstance(found, list):
        raise problem(source, at, "observations", "a list of observations", found)
    observations = []
    for index, observation in enumerate(found):
        place = (
            f"{where}.observations[{index}]" if where != "(top level)" else f"observations[{index}]"
        )
        if isinstance(observation, str):
            raise TrajectoryLoadError(
                f"{source}: {place}: expected an observation (an object), got the id "
                f"{short(observation)}: the trace list gives observation ids only; export each "
                "trace with GET /api/public/traces/{traceId}"
            )
        if not isinstance(observation, dict):
            raise TrajectoryLoadError(
                f"{source}: {place}: expected an observation (an object), got {short(observation)}"
            )
        observations.append(_observation(observation, place, source))
    return _Trace(where, trace_id, item, observations)


def _observation(item: dict[str, Any], where: str, source: str) -> _Observation:
    observation_id = item.get("id")
    if not isinstance(observation_id, str) or not observation_id:
        raise problem(source, where, "id", "the observation id (a string)", observation_id)
    at = f"{where} (observation {observation_id})"
    texts: dict[str, str | None] = {}
    for camel, snake in (
        ("traceId", "trace_id"),
        ("parentObservationId", "parent_observation_id"),
        ("name", None),
        ("level", None),
        ("statusMessage", "status_message"),
        ("model", None),
    ):
        value = _get(item, camel, snake)
        if not isinstance(value, (str, type(None))):
            raise problem(source, at, camel, "a string or null", value)
        texts[camel] = value or None
    kind = item.get("type")
    if not isinstance(kind, (str, type(None))):
        raise problem(
            source, at, "type", "the observation type (a string such as 'GENERATION')", kind
        )
    times: dict[str, int | None] = {}
    for camel, snake in (("startTime", "start_time"), ("endTime", "end_time")):
        value = _get(item, camel, snake)
        times[camel] = nanoseconds(value)
        if value is not None and times[camel] is None:
            raise problem(source, at, camel, "an ISO 8601 timestamp or null", value)
    error = None
    if (texts["level"] or "").upper() == "ERROR":
        error = texts["statusMessage"] or "error"
    return _Observation(
        where=where,
        id=observation_id,
        trace_id=texts["traceId"],
        parent_id=texts["parentObservationId"],
        start_ns=times["startTime"],
        end_ns=times["endTime"],
        type=(kind or "SPAN").upper(),
        name=texts["name"],
        error=error,
        raw=item,
    )


# ---- observations -> steps -------------------------------------------------------------------


def _trajectory(trace: _Trace, source: str) -> dict[str, Any]:
    ordered = sorted(trace.observations, key=lambda o: (o.start_ns is None, o.start_ns or 0))
    seen: dict[str, _Observation] = {}
    open_calls: list[dict[str, Any]] = []
    nodes: list[Node] = []
    for observation in ordered:
        if observation.id in seen:
            if seen[observation.id].raw == observation.raw:
                continue
            raise TrajectoryLoadError(
                f"{source}: {observation.where}: observation id {observation.id!r} is used by "
                f"two different observations ({seen[observation.id].where} and "
                f"{observation.where}): expected one observation per id"
            )
        seen[observation.id] = observation
        node = Node(observation.id, observation.parent_id, observation.start_ns, observation.end_ns)
        try:
            node.step = _step(observation, open_calls)
        except BadField as exc:
            raise exc.at(source, observation.at) from None
        if node.step["kind"] == "span":
            node.input = conversation_text(observation.raw.get("input"), "input")
            node.output = conversation_text(observation.raw.get("output"), "output")
        nodes.append(node)
    raw = trace.raw
    metadata: dict[str, Any] = {"source_format": SOURCE_FORMAT}
    if trace.id:
        metadata["trace_id"] = trace.id
    for camel, snake, key in (
        ("userId", "user_id", "user_id"),
        ("sessionId", "session_id", "session_id"),
        ("release", None, "release"),
        ("version", None, "version"),
    ):
        value = _get(raw, camel, snake)
        if isinstance(value, str) and value:
            metadata[key] = value
    tags = raw.get("tags")
    if isinstance(tags, list) and tags:
        metadata["tags"] = [t if isinstance(t, str) else as_text(t) for t in tags]
    if isinstance(raw.get("metadata"), dict) and raw["metadata"]:
        metadata["trace_metadata"] = raw["metadata"]
    fields: dict[str, Any] = {"metadata": metadata}
    if trace.id:
        fields["id"] = trace.id
    if isinstance(raw.get("name"), str) and raw["name"]:
        fields["name"] = raw["name"]
    fields["input"] = conversation_text(raw.get("input"), "input")
    fields["output"] = conversation_text(raw.get("output"), "output")
    return assemble(nodes, SOURCE_FORMAT, **fields)


def _step(observation: _Observation, open_calls: list[dict[str, Any]]) -> dict[str, Any]:
    if observation.type == "GENERATION":
        llm = _generation(observation)
        open_calls += [c for c in llm["requested_tool_calls"] if c.get("name")]
        return llm
    if observation.type == "TOOL" or (
        observation.type == "SPAN" and any(c["name"] == observation.name for c in open_calls)
    ):
        return _tool(observation, open_calls)
    step: dict[str, Any] = {
        "kind": "span",
        "name": observation.name or observation.type.lower(),
        "attributes": {"type": observation.type},
    }
    level = observation.raw.get("level")
    if isinstance(level, str) and level and level != "DEFAULT":
        step["attributes"]["level"] = level
    model = observation.raw.get("model")
    if isinstance(model, str) and short_value(model):
        step["attributes"]["model"] = model
    if observation.error:
        step["error"] = observation.error
    return step


def _generation(observation: _Observation) -> dict[str, Any]:
    raw = observation.raw
    details = as_dict(_get(raw, "usageDetails", "usage_details"))
    usage = as_dict(raw.get("usage"))
    costs = as_dict(_get(raw, "costDetails", "cost_details"))
    cost = next(
        (
            value
            for value in (
                costs.get("total"),
                _get(raw, "calculatedTotalCost", "calculated_total_cost"),
                _get(usage, "totalCost", "total_cost"),
            )
            if amount(value) is not None
        ),
        None,
    )
    if cost is None and costs:
        parts = [amount(v) for v in costs.values()]
        if parts and all(p is not None for p in parts):
            cost = sum(p for p in parts if p is not None)
    return llm_step(
        model=raw.get("model"),
        input_messages=_input_messages(raw.get("input")),
        output_message=_output_message(raw.get("output")),
        input_tokens=first_count(
            details.get("input"),
            details.get("prompt_tokens"),
            details.get("input_tokens"),
            usage.get("input"),
            _get(usage, "promptTokens", "prompt_tokens"),
            _get(raw, "promptTokens", "prompt_tokens"),
        ),
        output_tokens=first_count(
            details.get("output"),
            details.get("completion_tokens"),
            details.get("output_tokens"),
            usage.get("output"),
            _get(usage, "completionTokens", "completion_tokens"),
            _get(raw, "completionTokens", "completion_tokens"),
        ),
        cached_tokens=first_count(*(details.get(k) for k in _CACHED)),
        cost_usd=cost,
        error=observation.error,
    )


def _conversation(messages: list[Any], system: Any = None) -> list[dict[str, Any]]:
    if system is not None or any(anthropic_blocks(m) for m in messages):
        return from_anthropic(messages, system)
    return chat_messages(messages, "input")


def _input_messages(value: Any) -> list[dict[str, Any]]:
    """A generation's input as chat messages; input that is no conversation (Langfuse takes
    any JSON) is one user message holding it."""
    if value is None:
        return []
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    try:
        if isinstance(value, list):
            return _conversation(value)
        if isinstance(value, dict) and isinstance(value.get("messages"), list):
            system = value.get("system")
            return _conversation(value["messages"], system if system else None)
        if isinstance(value, dict) and ("role" in value or "lc" in value):
            message = chat_message(value, "input")
            return [message] if message is not None else []
    except TrajectoryLoadError:
        pass
    return [{"role": "user", "content": as_text(value)}]


def _output_message(value: Any) -> dict[str, Any] | None:
    """A generation's output as the assistant's message (see :func:`_input_messages`)."""
    if value is None:
        return None
    if isinstance(value, str):
        return {"role": "assistant", "content": value}
    try:
        if isinstance(value, dict) and isinstance(value.get("choices"), list):
            choices = value["choices"]
            first = choices[0] if choices else None
            if isinstance(first, dict) and isinstance(first.get("message"), dict):
                return chat_message(first["message"], "output", default_role="assistant")
        elif isinstance(value, dict):
            if anthropic_blocks(value):
                merged = from_anthropic([dict(value, role=value.get("role") or "assistant")])
                return merged[-1] if merged else None
            if any(k in value for k in ("role", "lc", "content", "tool_calls", "type")):
                return chat_message(value, "output", default_role="assistant")
        elif isinstance(value, list):
            messages = _conversation(value)
            answers = [m for m in messages if m["role"] == "assistant"]
            if answers:
                return _merged(answers)
    except TrajectoryLoadError:
        pass
    return {"role": "assistant", "content": as_text(value)}


def _merged(messages: list[dict[str, Any]]) -> dict[str, Any]:
    if len(messages) == 1:
        return messages[0]
    texts = [m["content"] for m in messages if isinstance(m.get("content"), str)]
    calls = [c for m in messages for c in m.get("tool_calls") or []]
    merged: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        merged["tool_calls"] = calls
    return merged


def _tool(observation: _Observation, open_calls: list[dict[str, Any]]) -> dict[str, Any]:
    raw = observation.raw
    name = observation.name or "unknown"
    metadata = as_dict(raw.get("metadata"))
    call_id = _get(metadata, "tool_call_id", "toolCallId")
    arguments = call_arguments(raw["input"]) if raw.get("input") is not None else ...
    if isinstance(call_id, str) and call_id:
        claimed = next((c for c in open_calls if c.get("id") == call_id), None)
    else:
        same = [c for c in open_calls if c["name"] == name]
        exact = [c for c in same if c.get("arguments") == arguments]
        claimed = (exact or same)[0] if same else None
        call_id = claimed.get("id") if claimed else None
    if claimed is not None:
        open_calls.remove(claimed)
    return tool_step(
        name,
        arguments=arguments,
        result=raw["output"] if raw.get("output") is not None else ...,
        error=observation.error,
        call_id=call_id,
    )
