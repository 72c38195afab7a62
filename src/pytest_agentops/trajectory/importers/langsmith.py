"""LangSmith runs (``langsmith``) -> trajectory data.

Four shapes are read (the first three are detected by :mod:`.registry`):

- a run tree: the root run (``RunTree.model_dump()`` / a tracer's run) with its nested
  ``child_runs``;
- a list of runs, flat (``Client.list_runs`` / ``read_run``), linked by ``parent_run_id``;
  runs of several traces give one trajectory per ``trace_id``, in order of first appearance;
- the body of ``POST /runs/batch``: ``{"post": [...], "patch": [...]}`` (a ``patch`` entry
  updates the posted run with its id), also a list of such bodies or of the client's requests
  ``{"method", "path", "body"}``;
- ``{"runs": [...]}``, what ``POST /runs/query`` answers.

What each run becomes (``run_type``):

=============  ==================================================================================
``llm``        LLM step.  Messages: ``inputs.messages`` (LangChain messages, serialized
               ``{"lc": 1, "type": "constructor", "id": [..., "AIMessage"], "kwargs": {...}}``,
               dumped ``{"type": "ai", "content", "tool_calls"}``, ``{"type", "data"}``,
               ``{"role", "content"}``, ``[role, content]`` pairs or plain text; a batch (list
               of lists) gives its first prompt) or ``inputs.prompts[0]``.  Output:
               ``outputs.generations[0][0].message`` (or its ``text``), OpenAI's
               ``outputs.choices[0].message``, or ``outputs`` itself when it is a message.
               Model: ``extra.invocation_params.model`` / ``model_name``,
               ``extra.metadata.ls_model_name``, the response's ``model_name``; provider:
               ``extra.metadata.ls_provider`` or the response's ``model_provider``.  Tokens: the
               message's ``usage_metadata``, ``outputs.llm_output.token_usage``,
               ``outputs.usage``, then the run's ``prompt_tokens`` / ``completion_tokens``;
               cached tokens from ``input_token_details.cache_read`` /
               ``prompt_tokens_details.cached_tokens``.  Cost: the run's ``total_cost``.
               Response id: the response's ``id``.
``tool``       Tool step named after the run.  Arguments: ``inputs`` (``{"input": "<JSON or a
               Python dict repr>"}`` is parsed; a plain string stays ``{"input": ...}``).
               Result: ``outputs.output``; a ``ToolMessage`` gives its content (JSON parsed),
               its ``tool_call_id`` (else ``extra.tool_call_id``) and, with ``status:
               "error"``, the error.
others         Span step (``chain``, ``prompt``, ``parser``, ``retriever``, ``embedding``, ...)
               named after the run, with ``run_type`` and LangGraph's ``langgraph_node`` /
               ``langgraph_step`` as attributes.
=============  ==================================================================================

Every run's ``error`` (or ``status: "error"``) is its step's error; ``start_time`` /
``end_time`` give the step's start and duration.

The trajectory's id is the trace id (the root run's id when no run names one), its name the
root run's name.  Its input and output come from the root run's ``inputs`` / ``outputs``: for
an agent that keeps a ``messages`` list (LangGraph) the text of the last human message and of
the last AI message, for a single-key object (``{"input": "..."}``, ``{"output": "..."}``)
that value, otherwise the object as it is.  Metadata: ``trace_id``, and the root's ``tags``
and ``session_name`` when present.

Every problem raises :class:`~pytest_agentops.errors.TrajectoryLoadError` naming the source,
the run (where it is and its id), the field and what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pytest_agentops.errors import TrajectoryLoadError

from .assemble import (
    Node,
    assemble,
    literal_text,
    llm_step,
    nanoseconds,
    parse_json_text,
    problem,
    short,
    short_value,
)
from .messages import (
    BadField,
    as_dict,
    chat_message,
    chat_messages,
    content_of,
    conversation_text,
    first_count,
    first_text,
    unwrap_message,
)

SOURCE_FORMAT = "langsmith"


# ---- reading the runs ------------------------------------------------------------------------


@dataclass(slots=True)
class _Run:
    where: str
    id: str
    trace_id: str | None
    parent_id: str | None
    dotted_order: str | None
    start_ns: int | None
    end_ns: int | None
    run_type: str
    name: str | None
    inputs: dict[str, Any] | None
    outputs: dict[str, Any] | None
    extra: dict[str, Any]
    error: str | None
    raw: dict[str, Any]

    @property
    def at(self) -> str:
        return f"{self.where} (run {self.id})"


def trajectories_from_langsmith(data: Any, *, source: str = "<langsmith>") -> list[dict[str, Any]]:
    """The trajectory data of each trace in LangSmith runs (see the module docstring)."""
    runs: dict[str, _Run] = {}
    raw: dict[str, dict[str, Any]] = {}
    for where, item, parent in _collect(data, source):
        run = _run(item, where, parent, source)
        if run.id in runs:
            if raw[run.id] != item:
                raise TrajectoryLoadError(
                    f"{source}: {where}: run id {run.id!r} is used by two different runs "
                    f"({runs[run.id].where} and {where}): expected one run per id"
                )
            continue
        runs[run.id] = run
        raw[run.id] = item
    if not runs:
        raise TrajectoryLoadError(f"{source}: LangSmith runs with no run in them")
    groups: dict[str, list[_Run]] = {}
    for run in runs.values():
        groups.setdefault(_trace_of(run, runs), []).append(run)
    return [_trajectory(trace_id, group, source) for trace_id, group in groups.items()]


def _collect(data: Any, source: str) -> list[tuple[str, Any, str | None]]:
    """``(where, run, the id of the run it is nested in)`` of every run in ``data``."""
    if isinstance(data, dict) and "run_type" in data:
        return _tree(data, "(root run)", None, source)
    if isinstance(data, dict) and ("post" in data or "patch" in data):
        return _batches([("(top level)", data)], source)
    if isinstance(data, dict) and "runs" in data:
        listed = data["runs"]
        if not isinstance(listed, list):
            raise problem(source, "(top level)", "runs", "a list of runs", listed)
        return _listed(listed, "runs", source)
    if isinstance(data, list):
        bodies = [
            (f"[{i}]", item)
            for i, item in enumerate(data)
            if isinstance(item, dict) and ("post" in item or "patch" in item or "body" in item)
        ]
        if bodies and len(bodies) == len(data):
            return _batches(bodies, source)
        return _listed(data, "", source)
    raise TrajectoryLoadError(
        f"{source}: not LangSmith runs: expected a run (an object with `run_type`), a list of "
        f'runs, or a batch ingest body {{"post": [...], "patch": [...]}}, got '
        f"{type(data).__name__}"
    )


def _listed(items: list[Any], field: str, source: str) -> list[tuple[str, Any, str | None]]:
    out: list[tuple[str, Any, str | None]] = []
    for index, item in enumerate(items):
        out += _tree(item, f"{field}[{index}]", None, source)
    return out


def _tree(
    root: Any, where: str, parent: str | None, source: str
) -> list[tuple[str, Any, str | None]]:
    """A run and the runs nested in its ``child_runs``, depth first."""
    out: list[tuple[str, Any, str | None]] = []
    stack: list[tuple[str, Any, str | None]] = [(where, root, parent)]
    while stack:
        at, run, above = stack.pop()
        if not isinstance(run, dict):
            raise TrajectoryLoadError(
                f"{source}: {at}: expected a run (an object), got {short(run)}"
            )
        out.append((at, run, above))
        children = run.get("child_runs")
        if children is None:
            continue
        run_id = run.get("id")
        if not isinstance(children, list):
            raise problem(source, f"{at} (run {run_id})", "child_runs", "a list of runs", children)
        parent_id = run_id if isinstance(run_id, str) else None
        stack += [
            (f"{at}.child_runs[{i}]", c, parent_id) for i, c in reversed(list(enumerate(children)))
        ]
    return out


def _batches(bodies: list[tuple[str, Any]], source: str) -> list[tuple[str, Any, str | None]]:
    """The runs of ``/runs/batch`` bodies, each ``post`` updated by the ``patch`` entries with
    its id."""
    posted: dict[str, tuple[str, dict[str, Any]]] = {}
    order: list[tuple[str, Any]] = []
    patches: list[tuple[str, Any]] = []
    for where, body in bodies:
        if isinstance(body, dict) and "body" in body and "post" not in body and "patch" not in body:
            body, where = body["body"], f"{where}.body"  # the client's request
        if not isinstance(body, dict):
            raise TrajectoryLoadError(
                f'{source}: {where}: expected a batch ingest body {{"post": [...], "patch": '
                f"[...]}}, got {short(body)}"
            )
        for key, into in (("post", order), ("patch", patches)):
            entries = body.get(key)
            if entries is None:
                continue
            if not isinstance(entries, list):
                raise problem(source, where, key, "a list of runs", entries)
            prefix = "" if where == "(top level)" else f"{where}."
            into += [(f"{prefix}{key}[{i}]", entry) for i, entry in enumerate(entries)]
    for where, run in order:
        run_id = run.get("id") if isinstance(run, dict) else None
        if isinstance(run_id, str) and run_id not in posted:
            posted[run_id] = (where, run)
    for where, patch in patches:
        if not isinstance(patch, dict):
            raise TrajectoryLoadError(
                f"{source}: {where}: expected a run (an object), got {short(patch)}"
            )
        run_id = patch.get("id")
        if not isinstance(run_id, str) or not run_id:
            raise problem(source, where, "id", "the run id (a string)", run_id)
        if run_id not in posted:
            order.append((where, patch))  # a run posted in a batch that is not here
            posted[run_id] = (where, patch)
            continue
        first, run = posted[run_id]
        merged = dict(run)
        merged.update({k: v for k, v in patch.items() if v is not None})
        posted[run_id] = (first, merged)
    out: list[tuple[str, Any, str | None]] = []
    for where, run in order:
        run_id = run.get("id") if isinstance(run, dict) else None
        if isinstance(run_id, str) and posted.get(run_id, ("", None))[0] == where:
            out += _tree(posted[run_id][1], where, None, source)
        elif not isinstance(run_id, str):
            out += _tree(run, where, None, source)
    return out


def _run(item: dict[str, Any], where: str, nested_in: str | None, source: str) -> _Run:
    run_id = item.get("id")
    if not isinstance(run_id, str) or not run_id:
        raise problem(source, where, "id", "the run id (a string)", run_id)
    at = f"{where} (run {run_id})"
    ids: dict[str, str | None] = {}
    for field in ("trace_id", "parent_run_id", "dotted_order", "name"):
        value = item.get(field)
        if not isinstance(value, (str, type(None))):
            raise problem(source, at, field, "a string or null", value)
        ids[field] = value or None
    run_type = item.get("run_type")
    if not isinstance(run_type, str) or not run_type:
        raise problem(
            source,
            at,
            "run_type",
            "the run type (a string such as 'llm', 'tool', 'chain')",
            run_type,
        )
    times: dict[str, int | None] = {}
    for field in ("start_time", "end_time"):
        value = item.get(field)
        times[field] = nanoseconds(value)
        if value is not None and times[field] is None:
            raise problem(source, at, field, "an ISO 8601 timestamp or null", value)
    fields: dict[str, Any] = {}
    for field in ("inputs", "outputs", "extra"):
        value = item.get(field)
        if not isinstance(value, (dict, type(None))):
            raise problem(source, at, field, "an object or null", value)
        fields[field] = value
    error = item.get("error")
    if not isinstance(error, (str, type(None))):
        raise problem(source, at, "error", "the error text (a string) or null", error)
    if not error and item.get("status") == "error":
        error = "error"
    return _Run(
        where=where,
        id=run_id,
        trace_id=ids["trace_id"],
        parent_id=ids["parent_run_id"] or nested_in,
        dotted_order=ids["dotted_order"],
        start_ns=times["start_time"],
        end_ns=times["end_time"],
        run_type=run_type,
        name=ids["name"],
        inputs=fields["inputs"],
        outputs=fields["outputs"],
        extra=fields["extra"] or {},
        error=error or None,
        raw=item,
    )


def _trace_of(run: _Run, runs: dict[str, _Run]) -> str:
    """The trace id of a run: its own, its nearest ancestor's, the root of its dotted order,
    or its root's id."""
    current: _Run | None = run
    seen: set[str] = set()
    top = run
    while current is not None and current.id not in seen:
        if current.trace_id:
            return current.trace_id
        seen.add(current.id)
        top = current
        current = runs.get(current.parent_id or "")
    if top.dotted_order and len(top.dotted_order) > 22:
        return top.dotted_order.split(".", 1)[0][22:] or top.id  # <timestamp>Z<run id>
    return top.id


# ---- runs -> steps ---------------------------------------------------------------------------


def _trajectory(trace_id: str, runs: list[_Run], source: str) -> dict[str, Any]:
    if all(r.dotted_order for r in runs):  # depth first, in start order: ties stay in place
        runs = sorted(runs, key=lambda r: r.dotted_order or "")
    ids = {r.id for r in runs}
    nodes: list[Node] = []
    for run in runs:
        node = Node(run.id, run.parent_id, run.start_ns, run.end_ns)
        try:
            node.step = _step(run)
            if run.parent_id not in ids and run.run_type not in ("llm", "tool"):
                node.input = conversation_text(run.inputs, "input")
                node.output = conversation_text(run.outputs, "output")
        except BadField as exc:
            raise exc.at(source, run.at) from None
        nodes.append(node)
    roots = [r for r in runs if r.parent_id not in ids]
    root = min(roots, key=lambda r: (r.start_ns is None, r.start_ns or 0)) if roots else None
    metadata: dict[str, Any] = {"source_format": SOURCE_FORMAT, "trace_id": trace_id}
    name = None
    if root is not None:
        name = root.name
        tags = root.raw.get("tags")
        if isinstance(tags, list) and tags and all(isinstance(t, str) for t in tags):
            metadata["tags"] = list(tags)
        session = root.raw.get("session_name")
        if isinstance(session, str) and session:
            metadata["session_name"] = session
    return assemble(nodes, SOURCE_FORMAT, id=trace_id, name=name, metadata=metadata)


def _step(run: _Run) -> dict[str, Any]:
    if run.run_type == "llm":
        return _llm(run)
    if run.run_type == "tool":
        return _tool(run)
    attributes: dict[str, Any] = {"run_type": run.run_type}
    metadata = as_dict(run.extra.get("metadata"))
    for key in ("langgraph_node", "langgraph_step"):
        if key in metadata and short_value(metadata[key]):
            attributes[key] = metadata[key]
    step: dict[str, Any] = {
        "kind": "span",
        "name": run.name or run.run_type,
        "attributes": attributes,
    }
    if run.error:
        step["error"] = run.error
    return step


def _llm(run: _Run) -> dict[str, Any]:
    inputs = run.inputs or {}
    outputs = run.outputs or {}
    if "messages" in inputs:
        input_messages = chat_messages(inputs["messages"], "inputs.messages")
    elif "prompts" in inputs:
        prompts = inputs["prompts"]
        if not isinstance(prompts, list):
            raise BadField("inputs.prompts", "a list of prompts (strings)", prompts)
        input_messages = (
            [{"role": "user", "content": content_of(prompts[0], "inputs.prompts[0]")}]
            if prompts
            else []
        )
    else:
        input_messages = []
    output, fields = _llm_output(outputs)
    llm_output = as_dict(outputs.get("llm_output"))
    usage = as_dict(fields.get("usage_metadata")) or as_dict(outputs.get("usage_metadata"))
    response = as_dict(fields.get("response_metadata"))
    token_usage = (
        as_dict(llm_output.get("token_usage"))
        or as_dict(outputs.get("usage"))
        or as_dict(response.get("token_usage"))
    )
    invocation = as_dict(run.extra.get("invocation_params"))
    metadata = as_dict(run.extra.get("metadata"))
    return llm_step(
        model=first_text(
            invocation.get("model"),
            invocation.get("model_name"),
            metadata.get("ls_model_name"),
            response.get("model_name"),
            llm_output.get("model_name"),
            outputs.get("model"),
            inputs.get("model"),
        ),
        provider=first_text(metadata.get("ls_provider"), response.get("model_provider")),
        input_messages=input_messages,
        output_message=output,
        input_tokens=first_count(
            usage.get("input_tokens"),
            token_usage.get("prompt_tokens"),
            token_usage.get("input_tokens"),
            run.raw.get("prompt_tokens"),
        ),
        output_tokens=first_count(
            usage.get("output_tokens"),
            token_usage.get("completion_tokens"),
            token_usage.get("output_tokens"),
            run.raw.get("completion_tokens"),
        ),
        cached_tokens=first_count(
            as_dict(usage.get("input_token_details")).get("cache_read"),
            as_dict(token_usage.get("prompt_tokens_details")).get("cached_tokens"),
        ),
        cost_usd=run.raw.get("total_cost"),
        error=run.error,
        response_id=first_text(response.get("id"), llm_output.get("id"), outputs.get("id")),
    )


def _llm_output(outputs: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The model's message and the fields it came with (``usage_metadata``,
    ``response_metadata``)."""
    if "generations" in outputs:
        generations = outputs["generations"]
        field = "outputs.generations"
        if not isinstance(generations, list):
            raise BadField(field, "a list of lists of generations", generations)
        first: Any = generations[0] if generations else None
        field += "[0]"
        if isinstance(first, list):
            first = first[0] if first else None
            field += "[0]"
        if first is None:
            return None, {}
        if not isinstance(first, dict):
            raise BadField(field, "a generation (an object with `message` or `text`)", first)
        if first.get("message") is not None:
            return _message_and_fields(first["message"], f"{field}.message")
        text = first.get("text")
        if not isinstance(text, (str, type(None))):
            raise BadField(f"{field}.text", "the generated text (a string)", text)
        return {"role": "assistant", "content": text}, {}
    if "choices" in outputs:  # an OpenAI response (langsmith's wrap_openai)
        choices = outputs["choices"]
        if not isinstance(choices, list):
            raise BadField("outputs.choices", "a list of choices", choices)
        if not choices:
            return None, {}
        choice = choices[0]
        if not isinstance(choice, dict) or not isinstance(choice.get("message"), dict):
            raise BadField("outputs.choices[0]", "a choice (an object with `message`)", choice)
        return _message_and_fields(choice["message"], "outputs.choices[0].message")
    for key in ("message", "output"):
        if isinstance(outputs.get(key), (dict, str)):
            return _message_and_fields(outputs[key], f"outputs.{key}")
    if any(k in outputs for k in ("role", "lc", "content", "tool_calls")):
        return _message_and_fields(outputs, "outputs")
    return None, {}


def _message_and_fields(value: Any, field: str) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    fields = unwrap_message(value, field)[1] if isinstance(value, dict) else {}
    return chat_message(value, field, default_role="assistant"), fields


def _tool(run: _Run) -> dict[str, Any]:
    step: dict[str, Any] = {"kind": "tool", "name": run.name or "unknown"}
    inputs = run.inputs
    if inputs is not None:
        arguments: Any = inputs
        if set(inputs) == {"input"} and isinstance(inputs["input"], str):
            parsed = parse_json_text(inputs["input"])
            parsed = literal_text(parsed) if isinstance(parsed, str) else parsed
            arguments = parsed if isinstance(parsed, dict) else inputs
        step["arguments"] = dict(arguments)
    call_id = run.extra.get("tool_call_id")
    error = run.error
    outputs = run.outputs
    if outputs is not None:
        output = outputs.get("output") if "output" in outputs else outputs
        if _is_tool_message(output):
            fields = unwrap_message(output, "outputs.output")[1]
            content = content_of(fields.get("content"), "outputs.output.content")
            step["result"] = parse_json_text(content)
            if isinstance(fields.get("tool_call_id"), str) and fields["tool_call_id"]:
                call_id = fields["tool_call_id"]
            if fields.get("status") == "error" and not error:
                error = content if isinstance(content, str) and content else "tool error"
        else:
            step["result"] = parse_json_text(output)
    if error:
        step["error"] = error
    if isinstance(call_id, str) and call_id:
        step["call_id"] = call_id
    return step


def _is_tool_message(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    if value.get("lc") == 1 and value.get("type") == "constructor":
        path = value.get("id")
        return (
            isinstance(path, list)
            and bool(path)
            and path[-1] in ("ToolMessage", "ToolMessageChunk")
        )
    return value.get("type") == "tool" and "content" in value
