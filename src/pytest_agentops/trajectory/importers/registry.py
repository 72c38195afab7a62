"""Which importer reads a trace: by ``format=``, or detected from the content (never the file
name), with projects' own importers (hook ``pytest_agentops_import_trace``) asked first.

A source is a sequence of documents (one for a JSON or YAML file, one per line for JSON
Lines).  Each document is read on its own, except OTLP requests, whose spans are gathered
across documents (a trace's spans may be spread over several export batches) and read per
trace at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from pytest_agentops.errors import TrajectoryLoadError

#: ``format=`` values, with what each reads (shown in errors and ``--help``).
FORMATS: dict[str, str] = {
    "auto": "detect the format from the content",
    "native": "pytest-agentops trajectories (JSON, YAML, or JSON Lines of them)",
    "openai": "OpenAI chat-completions messages (a list, or an object with `messages`)",
    "openai-responses": "OpenAI Responses API items (`input`/`output` lists of items)",
    "anthropic": "Anthropic messages with content blocks (an object with `messages`, `system`)",
    "otlp": "OpenTelemetry OTLP/JSON traces (GenAI conventions, OpenInference, OpenLLMetry)",
    "langfuse": "a Langfuse trace export (a trace with `observations`)",
    "langsmith": "LangSmith runs (a run tree with `child_runs`, or a list of runs)",
    "openai-agents": "OpenAI Agents SDK traces (a trace and its spans)",
}

#: Importers added by projects: ``(data, format) -> trajectory data, a Trajectory, a list of
#: them, or None`` (not this importer's format).  The pytest plugin puts the
#: ``pytest_agentops_import_trace`` hook here for the session.
CUSTOM: list[Callable[[Any, str], Any]] = []


def check_format(format: str) -> None:
    if format not in FORMATS and not CUSTOM:
        raise TrajectoryLoadError(
            f"unknown trace format {format!r}; use one of: {', '.join(FORMATS)}"
        )


def detect(data: Any) -> str:
    """The format of one parsed document, by its content (``unknown`` when none fits)."""
    from pytest_agentops.trajectory.openai_format import anthropic_blocks

    from .openai_responses import is_responses
    from .otlp import is_otlp

    if isinstance(data, dict):
        if is_otlp(data):
            return "otlp"
        if "steps" in data or "schema_version" in data:
            return "native"
        if isinstance(data.get("observations"), list):
            return "langfuse"
        if "run_type" in data or isinstance(data.get("post"), list):
            return "langsmith"
        if isinstance(data.get("runs"), list) and _all(data["runs"], _is_run):
            return "langsmith"
        listed = data.get("data")
        if isinstance(listed, list) and (
            _all(listed, _is_langfuse_trace) or _all(listed, _is_observation)
        ):
            return "langfuse"
        if isinstance(data.get("spans"), list) and isinstance(data.get("trace"), dict):
            return "openai-agents"
        if isinstance(data.get("data"), list) and any(
            isinstance(i, dict) and str(i.get("object", "")).startswith("trace")
            for i in data["data"]
        ):
            return "openai-agents"
        if is_responses(data):
            return "openai-responses"
        messages = data.get("messages")
        if not isinstance(messages, list):
            return "unknown"
        if "system" in data:  # a Messages API request: chat requests put it in `messages`
            return "anthropic"
        data = messages
    if isinstance(data, list):
        if _all(data, _is_run) or _all(data, _is_ingest_request):
            return "langsmith"
        if _all(data, _is_langfuse_trace):
            return "langfuse"
        if data and all(
            isinstance(i, dict) and str(i.get("object", "")).startswith("trace") for i in data
        ):
            return "openai-agents"
        if is_responses(data):
            return "openai-responses"
        return "anthropic" if any(anthropic_blocks(m) for m in data) else "openai"
    return "unknown"


def _all(items: list[Any], test: Callable[[Any], bool]) -> bool:
    return bool(items) and all(isinstance(i, dict) and test(i) for i in items)


def _is_run(item: dict[str, Any]) -> bool:  # LangSmith
    return "run_type" in item


def _is_ingest_request(item: dict[str, Any]) -> bool:
    """One request of the LangSmith client: ``{"method", "path", "body": {"post"|"patch"}}``."""
    body = item.get("body")
    return "path" in item and isinstance(body, dict) and ("post" in body or "patch" in body)


def _is_langfuse_trace(item: dict[str, Any]) -> bool:
    return isinstance(item.get("observations"), list)


def _is_observation(item: dict[str, Any]) -> bool:  # Langfuse
    return "type" in item and ("traceId" in item or "trace_id" in item)


def _unknown(label: str, data: Any) -> TrajectoryLoadError:
    tried = "; ".join(f"{name}: {text}" for name, text in FORMATS.items() if name != "auto")
    return TrajectoryLoadError(
        f"{label}: cannot tell the trace format (got {type(data).__name__}"
        f"{' with keys ' + ', '.join(map(str, list(data)[:6])) if isinstance(data, dict) else ''})."
        f" Formats read: {tried}. Pass format=... if it is one of them"
    )


def import_documents(
    documents: Iterable[tuple[Any, str]], format: str, label: str
) -> Iterator[tuple[Any, str, bool]]:
    """``(trajectory data, where, native)`` for each trajectory in ``documents``."""
    otlp = None
    for document, where in documents:
        at = f"{label}:{where}" if where else label
        custom = _custom(document, format, at)
        if custom is not None:
            for data in custom:
                yield data, where, False
            continue
        kind = detect(document) if format == "auto" else format
        if kind == "unknown":
            raise _unknown(at, document)
        if kind == "otlp":
            if otlp is None:
                from .otlp import Collector

                otlp = Collector(label)
            otlp.add(document, where or "(top level)")
            continue
        if kind == "native":
            yield document, where, True
            continue
        for data in _read(kind, document, at):
            yield data, where, False
    if otlp is not None:
        from .semconv import trace_to_data

        traces = otlp.finish()
        if not traces:
            raise TrajectoryLoadError(f"{label}: an OTLP export with no spans in it")
        while traces:  # each trace's spans are let go once it is read
            trace_id = next(iter(traces))
            spans = traces.pop(trace_id)
            yield trace_to_data(spans, trace_id), f"trace {trace_id}", False


def _read(kind: str, data: Any, label: str) -> list[dict[str, Any]]:
    if kind == "anthropic":
        from .anthropic_messages import trajectory_from_anthropic_messages

        return [trajectory_from_anthropic_messages(data, source=label)]
    if kind == "openai":
        messages = data.get("messages") if isinstance(data, dict) else data
        if not isinstance(messages, list):
            raise TrajectoryLoadError(f"{label}: field `messages`: expected a list of messages")
        from .openai_messages import trajectory_from_openai_messages

        return [trajectory_from_openai_messages(messages, source=label)]
    if kind == "openai-responses":
        from .openai_responses import trajectory_from_responses

        return [trajectory_from_responses(data, source=label)]
    if kind == "otlp":  # with format="otlp" on a document that is not OTLP
        raise TrajectoryLoadError(
            f"{label}: not an OTLP export: expected an object with `resourceSpans`"
        )
    if kind == "langfuse":
        from .langfuse import trajectories_from_langfuse

        return trajectories_from_langfuse(data, source=label)
    if kind == "langsmith":
        from .langsmith import trajectories_from_langsmith

        return trajectories_from_langsmith(data, source=label)
    if kind == "openai-agents":
        from .openai_agents import trajectories_from_openai_agents

        return trajectories_from_openai_agents(data, source=label)
    raise TrajectoryLoadError(
        f"{label}: unknown trace format {kind!r}; use one of: {', '.join(FORMATS)}"
    )


def _custom(data: Any, format: str, label: str) -> list[Any] | None:
    for importer in CUSTOM:
        result = importer(data, format)
        if result is None:
            continue
        items = result if isinstance(result, list) else [result]
        out = []
        for item in items:
            if hasattr(item, "model_dump"):
                item = item.model_dump(mode="json")
            if not isinstance(item, dict):
                raise TrajectoryLoadError(
                    f"{label}: the pytest_agentops_import_trace hook returned "
                    f"{type(item).__name__}; return trajectory data (a dict), a Trajectory, a "
                    "list of them, or None when the format is not yours"
                )
            out.append(item)
        return out
    if format not in FORMATS:
        raise TrajectoryLoadError(
            f"{label}: no importer reads format {format!r} (built in: {', '.join(FORMATS)}; "
            "a pytest_agentops_import_trace hook may add more)"
        )
    return None
