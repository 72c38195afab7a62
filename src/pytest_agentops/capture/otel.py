"""Live OpenTelemetry capture: GenAI spans the application emits while a test records become
steps of the test's trajectory.

When the process has an OpenTelemetry SDK ``TracerProvider`` (the application set one up, as
it does in production; extra ``otel``), :func:`attach` adds one span processor to it, once.
Each span that ends while a test records and that the GenAI semantic conventions,
OpenInference or OpenLLMetry describe is handed to the active recorder; reading the
trajectory reads those spans with the importers' conversion (:mod:`..trajectory.importers.
semconv`), keeps their model and tool calls, and drops the ones litellm, the wire capture or
``@tool`` recorded already (same response id, same conversation, same tool call id, or the
same tool with the same arguments).

Nothing here is imported unless ``opentelemetry`` is already imported by the application.
"""

from __future__ import annotations

import sys
import weakref
from typing import TYPE_CHECKING, Any

from pytest_agentops.trajectory.importers.otlp import Span

from .active import ACTIVE, CAPTURE_OFF, CURRENT_PARENT

if TYPE_CHECKING:
    from .recorder import StepRecord

_ATTACHED: weakref.WeakSet[Any] = weakref.WeakSet()
#: Attribute prefixes that mark a span as one of an agent's (others are not steps).
_AGENT_PREFIXES = ("gen_ai.", "llm.", "tool.", "openinference.", "traceloop.")


def attach() -> bool:
    """Add the capture's span processor to the global SDK tracer provider (once per
    provider); False when there is none (no OpenTelemetry SDK set up)."""
    if "opentelemetry.trace" not in sys.modules:
        return False
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    add = getattr(provider, "add_span_processor", None)
    if add is None:  # the API's proxy or no-op provider: no span is ever recorded
        return False
    if provider not in _ATTACHED:
        add(_processor())
        _ATTACHED.add(provider)
    return True


def _processor() -> Any:
    from opentelemetry.sdk.trace import SpanProcessor

    class AgentSpans(SpanProcessor):
        """Hands the agent's spans that end while a test records to its recorder."""

        def on_end(self, span: Any) -> None:
            recorder = ACTIVE.recorder
            if recorder is None or not recorder.capture_otel or CAPTURE_OFF.get():
                return
            attributes = dict(span.attributes or {})
            if not any(key.startswith(_AGENT_PREFIXES) for key in attributes):
                return
            recorder.otel_span(readable(span, attributes), CURRENT_PARENT.get())

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return True

    return AgentSpans()


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def readable(span: Any, attributes: dict[str, Any]) -> Span:
    """An SDK ``ReadableSpan`` as the importers' :class:`Span`."""
    from opentelemetry.trace import StatusCode

    context = span.context
    parent = span.parent
    error = None
    if span.status is not None and span.status.status_code == StatusCode.ERROR:
        error = str(span.status.description or attributes.get("error.type") or "error")
    scope = getattr(span, "instrumentation_scope", None)
    return Span(
        trace_id=format(context.trace_id, "032x"),
        span_id=format(context.span_id, "016x"),
        parent_id=format(parent.span_id, "016x") if parent is not None else None,
        name=str(span.name),
        start_ns=span.start_time,
        end_ns=span.end_time,
        attributes={key: _plain(value) for key, value in attributes.items()},
        events=[
            (str(e.name), e.timestamp, {k: _plain(v) for k, v in (e.attributes or {}).items()})
            for e in span.events
        ],
        error=error,
        scope=(str(getattr(scope, "name", "") or ""), str(getattr(scope, "version", "") or "")),
        resource=dict(span.resource.attributes) if span.resource is not None else {},
    )


def span_records(spans: list[tuple[Span, str | None]], new_record: Any) -> list[StepRecord]:
    """The model and tool calls of ``spans`` (with the step that was running when each
    ended) as records; ``new_record(kind, parent_id, fields, started_s)`` makes one."""
    from pytest_agentops.trajectory.importers.semconv import trace_to_data

    parents = {span.span_id: parent for span, parent in spans}
    by_trace: dict[str, list[Span]] = {}
    for span, _ in spans:
        by_trace.setdefault(span.trace_id, []).append(span)
    records = []
    for trace_id, trace_spans in by_trace.items():
        for step in trace_to_data(trace_spans, trace_id)["steps"]:
            if step["kind"] not in ("llm", "tool"):
                continue  # agent spans: the test's own structure is the recorder's
            fields = {k: v for k, v in step.items() if k not in ("id", "parent_id", "started_at")}
            if step["kind"] == "tool":
                fields["source"] = "opentelemetry"
            started = _seconds(step.get("started_at"))
            records.append(new_record(step["kind"], parents.get(step["id"]), fields, started))
    return records


def _seconds(iso: str | None) -> float | None:
    if iso is None:
        return None
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()
