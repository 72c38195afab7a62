"""Nodes of a traced run (spans, observations, runs) -> trajectory data.

Every span-shaped importer (OTLP, Langfuse, LangSmith, OpenAI Agents SDK) reads its format
into :class:`Node`s: an id, a parent id, start and end times and, for the nodes that are
steps, the step's fields.  :func:`assemble` then does what all of them need:

- steps in start order, each nested under its nearest ancestor that is a step (nodes that are
  not steps, such as HTTP or database spans, are left out and counted);
- a tool step that came without arguments or result (several tracers record only the tool's
  name and call id) gets them from the model response that asked for the call and from the
  tool message of the next model request, matched by call id;
- the trajectory's start and end, and its input and output when the format names them.

Tool calls that only appear in the conversation, tool-call ids, prices and the input and
output of runs that do not name them are derived afterwards on the model, the same way as for
live recordings (:mod:`pytest_agentops.trajectory.derive`).
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from pytest_agentops.errors import TrajectoryLoadError
from pytest_agentops.trajectory.openai_format import requested_calls, tool_outcome, tool_results


@dataclass(slots=True)
class Node:
    id: str
    parent_id: str | None
    start_ns: int | None
    end_ns: int | None
    #: The step's fields (``kind`` and the rest) or None for a node that is not a step.
    step: dict[str, Any] | None = None
    #: An agent/chain node's own input and output, when the format records them.
    input: Any = None
    output: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


def when(ns: int | None) -> str | None:
    """Nanoseconds since the epoch as an ISO timestamp (microsecond precision)."""
    if ns is None:
        return None
    try:
        moment = datetime.fromtimestamp(ns / 1e9, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
    return moment.isoformat()


def nanoseconds(value: Any) -> int | None:
    """An ISO timestamp (or epoch seconds / milliseconds / nanoseconds) as epoch nanoseconds."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        if value != value or value in (float("inf"), float("-inf")) or value < 0:
            return None
        if value > 1e17:
            return int(value)
        if value > 1e11:
            return int(value * 1e6)  # milliseconds
        return int(value * 1e9)
    if not isinstance(value, str):
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        return int(moment.timestamp() * 1e6) * 1000
    except (OverflowError, OSError, ValueError):
        return None


def count(value: Any) -> int | None:
    """A token count, or None when the value is not one (negative, fractional, text...)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and 0 <= value < 2**53 else None


def amount(value: Any) -> float | None:
    """A cost in USD, or None when the value is not one."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number >= 0 and number != float("inf") and number == number else None


#: Longest text read as a Python literal (a tool result exported as ``str(result)``).
LITERAL_LIMIT = 100_000


def short(value: Any) -> str:
    """A value as an error message shows it: the type and size of a container, else a
    repr cut to 60 characters."""
    if isinstance(value, (dict, list, tuple)):
        return f"{type(value).__name__} of {len(value)}"
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # a huge int's repr
        text = f"a {type(value).__name__}"
    return text if len(text) <= 60 else text[:57] + "..."


def problem(source: str, where: str, field: str, expected: str, got: Any) -> TrajectoryLoadError:
    """The one-line error for a field that is not what a format says it is."""
    return TrajectoryLoadError(
        f"{source}: {where}: field `{field}`: expected {expected}, got {short(got)}"
    )


def literal_text(value: str) -> Any:
    """The value of a Python literal's text (``str()`` of a dict or list, as some tracers
    record tool results), JSON-safe; the text as it is when it is not one."""
    if value[:1] not in ("{", "[") or len(value) > LITERAL_LIMIT:
        return value
    try:
        return json.loads(json.dumps(ast.literal_eval(value)))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return value


def call_arguments(value: Any) -> Any:
    """A decorated function's recorded input as tool arguments: ``{"args": [...],
    "kwargs": {...}}`` (OpenLLMetry, Langfuse's ``@observe``) becomes the keyword arguments,
    with positional ones under ``_args``; anything else as it is."""
    if isinstance(value, dict) and value and set(value) <= {"args", "kwargs"}:
        kwargs = value.get("kwargs")
        args = value.get("args")
        out = dict(kwargs) if isinstance(kwargs, dict) else {}
        if args:
            out["_args"] = args
        return out
    return value


#: Longest text kept as a span step attribute.
ATTRIBUTE_LIMIT = 200


def short_value(value: Any) -> bool:
    """A value worth keeping as a span step attribute: a finite number, a bool, short text."""
    return (
        (isinstance(value, (bool, int)) and abs(value) < 2**53)
        or (isinstance(value, float) and value == value and abs(value) != float("inf"))
        or (isinstance(value, str) and len(value) <= ATTRIBUTE_LIMIT)
    )


def short_values(data: dict[str, Any]) -> dict[str, Any]:
    """The entries of ``data`` worth keeping as span step attributes."""
    return {str(key): value for key, value in data.items() if short_value(value)}


def parse_json_text(value: Any) -> Any:
    """JSON text parsed; anything else (or text that is not JSON) as it is."""
    if (isinstance(value, str) and value[:1] in ("{", "[", '"')) or value in (
        "true",
        "false",
        "null",
    ):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return value
    return value


def as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def llm_step(
    *,
    model: Any,
    provider: Any = None,
    input_messages: list[dict[str, Any]] | None = None,
    output_message: dict[str, Any] | None = None,
    input_tokens: Any = None,
    output_tokens: Any = None,
    cached_tokens: Any = None,
    cost_usd: Any = None,
    error: str | None = None,
    response_id: Any = None,
) -> dict[str, Any]:
    """The fields of an ``llm`` step; numbers no call can have are left unknown."""
    step: dict[str, Any] = {
        "kind": "llm",
        "model": str(model) if model else "unknown",
        "input_messages": input_messages or [],
        "output_message": output_message,
        "requested_tool_calls": requested_calls(output_message) if output_message else [],
    }
    if provider:
        step["provider"] = str(provider)
    for name, value in (
        ("input_tokens", input_tokens),
        ("output_tokens", output_tokens),
        ("cached_tokens", cached_tokens),
    ):
        number = count(value)
        if number is not None:
            step[name] = number
    cost = amount(cost_usd)
    if cost is not None:
        step["cost_usd"] = cost
    if error:
        step["error"] = error
    if isinstance(response_id, str) and response_id:
        step["response_id"] = response_id
    return step


def tool_step(
    name: Any,
    *,
    arguments: Any = ...,
    result: Any = ...,
    error: str | None = None,
    call_id: Any = None,
) -> dict[str, Any]:
    """The fields of a ``tool`` step; ``...`` means "not recorded" (filled from the
    conversation by :func:`assemble` when it can be)."""
    step: dict[str, Any] = {"kind": "tool", "name": str(name or "unknown")}
    if arguments is not ...:
        parsed = parse_json_text(arguments)
        step["arguments"] = parsed if isinstance(parsed, dict) else {"_raw": parsed}
    if result is not ...:
        step["result"] = parse_json_text(result)
    if error:
        step["error"] = error
    if isinstance(call_id, str) and call_id:
        step["call_id"] = call_id
    return step


def assemble(nodes: list[Node], source_format: str, **trajectory: Any) -> dict[str, Any]:
    """The trajectory data of one run's nodes (see the module docstring)."""
    by_id = {node.id: node for node in nodes}
    depth: dict[str, int] = {}

    def level(node: Node) -> int:
        seen: set[str] = set()
        current: Node | None = node
        steps = 0
        while current is not None and current.parent_id and current.id not in seen:
            seen.add(current.id)
            current = by_id.get(current.parent_id)
            steps += 1
        return steps

    for node in nodes:
        depth[node.id] = level(node)
    ordered = sorted(
        nodes,
        key=lambda n: (n.start_ns is None, n.start_ns or 0, depth[n.id]),
    )
    kept = {n.id for n in nodes if n.step is not None}
    steps: list[dict[str, Any]] = []
    for node in ordered:
        if node.step is None:
            continue
        step = dict(node.step)
        step["id"] = node.id
        parent = by_id.get(node.parent_id or "")
        seen_ids: set[str] = set()
        while parent is not None and parent.id not in kept and parent.id not in seen_ids:
            seen_ids.add(parent.id)
            parent = by_id.get(parent.parent_id or "")
        if parent is not None and parent.id in kept:
            step["parent_id"] = parent.id
        if node.start_ns is not None:
            step["started_at"] = when(node.start_ns)
            if node.end_ns is not None and node.end_ns >= node.start_ns:
                step["duration_ms"] = (node.end_ns - node.start_ns) / 1e6
        steps.append(step)
    _fill_tool_steps(steps)
    starts = [n.start_ns for n in nodes if n.start_ns is not None]
    ends = [n.end_ns for n in nodes if n.end_ns is not None]
    roots = [n for n in ordered if not n.parent_id or n.parent_id not in by_id]
    root = roots[0] if roots else None
    data: dict[str, Any] = {
        "steps": steps,
        "started_at": when(min(starts)) if starts else None,
        "ended_at": when(max(ends)) if ends else None,
        "input": root.input if root is not None else None,
        "output": root.output if root is not None else None,
    }
    data.update({k: v for k, v in trajectory.items() if v is not None})
    metadata = dict(data.get("metadata") or {})
    metadata.setdefault("source_format", source_format)
    left_out = len(nodes) - len(steps)
    if left_out:
        metadata["nodes_not_read"] = left_out
    data["metadata"] = metadata
    return data


def _fill_tool_steps(steps: list[dict[str, Any]]) -> None:
    """Arguments and results of tool steps that lack them, from the conversation."""
    if not any(s["kind"] == "tool" and ("arguments" not in s or "result" not in s) for s in steps):
        return
    asked: dict[str, dict[str, Any]] = {}
    answered: dict[str, dict[str, Any]] = {}
    for step in steps:
        if step["kind"] != "llm":
            continue
        for call in step.get("requested_tool_calls") or []:
            if call.get("id"):
                asked.setdefault(str(call["id"]), call)
        for result_id, result_message in tool_results(step.get("input_messages") or []):
            answered.setdefault(result_id, result_message)
    used: set[str] = set()
    for step in steps:
        if step["kind"] != "tool":
            continue
        call_id: str | None = step.get("call_id")
        if not call_id:  # the first request for this tool that no step answered yet
            call_id = next(
                (i for i, c in asked.items() if c.get("name") == step["name"] and i not in used),
                None,
            )
            if call_id is not None and ("arguments" not in step or "result" not in step):
                step["call_id"] = call_id
        if call_id:
            used.add(call_id)
        if "arguments" not in step:
            request: dict[str, Any] | None = asked.get(call_id or "")
            arguments = request.get("arguments") if request else {}
            step["arguments"] = arguments if isinstance(arguments, dict) else {"_raw": arguments}
        if "result" not in step:
            message: dict[str, Any] | None = answered.get(call_id or "")
            if message is not None:
                result, error = tool_outcome(message)
                step["result"] = result
                if error and not step.get("error"):
                    step["error"] = error
