"""OTLP/JSON documents -> spans and log records, grouped by trace.

Reads what the OpenTelemetry protocol's JSON encoding writes: an ``ExportTraceServiceRequest``
(``resourceSpans`` -> ``scopeSpans`` -> ``spans``), an ``ExportLogsServiceRequest``
(``resourceLogs`` -> ``scopeLogs`` -> ``logRecords``, where the older GenAI instrumentations put
message content), the collector file exporter's JSON Lines (one request per line), and the
protobuf JSON mapping's variants: trace and span ids in hex (as the OTLP spec says) or base64
(as ``MessageToJson`` writes them), 64-bit integers as strings or numbers, enums as numbers or
names, ``lowerCamelCase`` or ``snake_case`` keys.  Attribute values are typed ``AnyValue``s.

What the spans mean (GenAI semantic conventions, OpenInference, OpenLLMetry) is read by
:mod:`.semconv`; this module only decodes the encoding, and says precisely where a document
breaks it.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pytest_agentops.errors import TrajectoryLoadError

_HEX = re.compile(r"^[0-9a-fA-F]*$")


@dataclass(slots=True)
class Span:
    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    start_ns: int | None
    end_ns: int | None
    attributes: dict[str, Any]
    events: list[tuple[str, int | None, dict[str, Any]]] = field(default_factory=list)
    error: str | None = None
    #: ``(name, version)`` of the instrumentation scope.
    scope: tuple[str, str] = ("", "")
    resource: dict[str, Any] = field(default_factory=dict)
    #: Log events (older GenAI instrumentations): ``(event name, attributes, body)``.
    logs: list[tuple[str, dict[str, Any], Any]] = field(default_factory=list)


def is_otlp(data: Any) -> bool:
    return isinstance(data, dict) and any(
        key in data for key in ("resourceSpans", "resource_spans", "resourceLogs", "resource_logs")
    )


def _get(obj: Any, camel: str, snake: str | None = None) -> Any:
    if not isinstance(obj, dict):
        return None
    value = obj.get(camel)
    if value is None and snake:
        value = obj.get(snake)
    return value


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _list(obj: Any, camel: str, where: str, *older: str) -> list[Any]:
    value = _get(obj, camel, _snake(camel))
    for name in older:
        if value is None:
            value = _get(obj, name, _snake(name))
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Bad(f"{where}.{camel}", f"expected a list, got {type(value).__name__}")
    return value


class _Bad(Exception):
    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")


def decode_id(value: Any, size: int, where: str) -> str | None:
    """A trace (16 bytes) or span (8 bytes) id as lowercase hex; None when empty."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise _Bad(where, f"an id must be a string, got {value!r:.40}")
    if len(value) == size * 2 and _HEX.match(value):
        return value.lower()
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) == size:
        return raw.hex()
    raise _Bad(
        where,
        f"{value!r:.60} is not a {size}-byte id ({size * 2} hex digits as OTLP/JSON writes "
        "it, or base64 as protobuf's JSON mapping does)",
    )


def _int(value: Any, where: str) -> int | None:
    if value in (None, "", 0, "0"):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise _Bad(where, f"expected an integer (nanoseconds), got {value!r:.40}")
    try:
        return int(value)
    except ValueError:
        raise _Bad(where, f"expected an integer (nanoseconds), got {value!r:.40}") from None


def any_value(value: Any, where: str, depth: int = 0) -> Any:
    """A typed OTLP ``AnyValue`` as a plain Python value."""
    if not isinstance(value, dict) or depth > 64:
        raise _Bad(
            where, f"expected an AnyValue object such as {{'stringValue': ...}}, got {value!r:.60}"
        )
    if not value:
        return None
    for key in ("stringValue", "string_value"):
        if key in value:
            text = value[key]
            if not isinstance(text, str):
                raise _Bad(where, f"stringValue must be a string, got {text!r:.40}")
            return text
    for key in ("boolValue", "bool_value"):
        if key in value:
            return bool(value[key])
    for key in ("intValue", "int_value"):
        if key in value:
            number = value[key]
            if isinstance(number, bool) or not isinstance(number, (int, str)):
                raise _Bad(where, f"intValue must be an integer, got {number!r:.40}")
            try:
                return int(number)
            except ValueError:
                raise _Bad(where, f"intValue must be an integer, got {number!r:.40}") from None
    for key in ("doubleValue", "double_value"):
        if key in value:
            number = value[key]
            if isinstance(number, str) and number in ("NaN", "Infinity", "-Infinity"):
                return None  # no trace field can hold them; the value is unknown
            if isinstance(number, bool) or not isinstance(number, (int, float)):
                raise _Bad(where, f"doubleValue must be a number, got {number!r:.40}")
            return float(number)
    for key in ("arrayValue", "array_value"):
        if key in value:
            items = _list(value[key], "values", f"{where}.arrayValue")
            return [any_value(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(items)]
    for key in ("kvlistValue", "kvlist_value"):
        if key in value:
            return attributes(_list(value[key], "values", f"{where}.kvlistValue"), where, depth + 1)
    for key in ("bytesValue", "bytes_value"):
        if key in value:
            return value[key]  # base64 text: kept as it is
    raise _Bad(where, f"unknown AnyValue kind {next(iter(value))!r}")


def attributes(items: Any, where: str, depth: int = 0) -> dict[str, Any]:
    if items is None:
        return {}
    if not isinstance(items, list):
        raise _Bad(where, f"attributes must be a list of {{key, value}}, got {items!r:.40}")
    out: dict[str, Any] = {}
    for index, item in enumerate(items):
        key = item.get("key") if isinstance(item, dict) else None
        if not isinstance(key, str):
            raise _Bad(
                f"{where}[{index}]", f"expected {{'key': ..., 'value': ...}}, got {item!r:.60}"
            )
        out[key] = any_value(item.get("value") or {}, f"{where}.{key}", depth)
    return out


_ERROR_CODES = (2, "2", "STATUS_CODE_ERROR", "ERROR")


def _span(raw: Any, where: str, scope: tuple[str, str], resource: dict[str, Any]) -> Span:
    if not isinstance(raw, dict):
        raise _Bad(where, f"a span must be an object, got {type(raw).__name__}")
    trace_id = decode_id(_get(raw, "traceId", "trace_id"), 16, f"{where}.traceId")
    span_id = decode_id(_get(raw, "spanId", "span_id"), 8, f"{where}.spanId")
    if trace_id is None or span_id is None:
        raise _Bad(where, "a span needs a traceId and a spanId")
    name = raw.get("name", "")
    if not isinstance(name, str):
        raise _Bad(f"{where}.name", f"expected a string, got {name!r:.40}")
    attrs = attributes(raw.get("attributes"), f"span {span_id}.attributes")
    events = []
    for index, event in enumerate(_list(raw, "events", f"span {span_id}")):
        if not isinstance(event, dict):
            raise _Bad(f"span {span_id}.events[{index}]", "an event must be an object")
        events.append(
            (
                str(event.get("name", "")),
                _int(_get(event, "timeUnixNano", "time_unix_nano"), f"span {span_id}.events"),
                attributes(event.get("attributes"), f"span {span_id}.events[{index}].attributes"),
            )
        )
    status = raw.get("status") or {}
    error = None
    if isinstance(status, dict) and status.get("code") in _ERROR_CODES:
        message = status.get("message")
        error = str(message or attrs.get("error.type") or "error")
    return Span(
        trace_id=trace_id,
        span_id=span_id,
        parent_id=decode_id(
            _get(raw, "parentSpanId", "parent_span_id"), 8, f"span {span_id}.parentSpanId"
        ),
        name=name,
        start_ns=_int(
            _get(raw, "startTimeUnixNano", "start_time_unix_nano"),
            f"span {span_id}.startTimeUnixNano",
        ),
        end_ns=_int(
            _get(raw, "endTimeUnixNano", "end_time_unix_nano"), f"span {span_id}.endTimeUnixNano"
        ),
        attributes=attrs,
        events=events,
        error=error,
        scope=scope,
        resource=resource,
    )


def _scope(raw: Any) -> tuple[str, str]:
    scope = (
        _get(raw, "scope") or _get(raw, "instrumentationLibrary", "instrumentation_library") or {}
    )
    if not isinstance(scope, dict):
        return ("", "")
    return (str(scope.get("name") or ""), str(scope.get("version") or ""))


@dataclass(slots=True)
class LogEvent:
    trace_id: str
    span_id: str
    name: str
    attributes: dict[str, Any]
    body: Any


def _logs(document: dict[str, Any], where: str) -> Iterator[LogEvent]:
    for r, resource_logs in enumerate(_list(document, "resourceLogs", where)):
        for s, scope_logs in enumerate(
            _list(
                resource_logs,
                "scopeLogs",
                f"{where}.resourceLogs[{r}]",
                "instrumentationLibraryLogs",
            )
        ):
            at = f"{where}.resourceLogs[{r}].scopeLogs[{s}]"
            for index, record in enumerate(_list(scope_logs, "logRecords", at)):
                if not isinstance(record, dict):
                    raise _Bad(f"{at}.logRecords[{index}]", "a log record must be an object")
                trace_id = decode_id(
                    _get(record, "traceId", "trace_id"), 16, f"{at}.logRecords[{index}].traceId"
                )
                span_id = decode_id(
                    _get(record, "spanId", "span_id"), 8, f"{at}.logRecords[{index}].spanId"
                )
                if trace_id is None or span_id is None:
                    continue  # not about a span: nothing to attach it to
                attrs = attributes(record.get("attributes"), f"{at}.logRecords[{index}].attributes")
                name = _get(record, "eventName", "event_name") or attrs.get("event.name") or ""
                body_raw = record.get("body")
                body = any_value(body_raw, f"{at}.logRecords[{index}].body") if body_raw else None
                yield LogEvent(trace_id, span_id, str(name), attrs, body)


def spans_of(document: Any, where: str) -> tuple[list[Span], list[LogEvent]]:
    """The spans and log events of one OTLP request document."""
    if not is_otlp(document):
        raise _Bad(
            where, "not an OTLP request: expected an object with `resourceSpans` or `resourceLogs`"
        )
    spans: list[Span] = []
    for r, resource_spans in enumerate(_list(document, "resourceSpans", where)):
        at = f"{where}.resourceSpans[{r}]"
        resource_raw = _get(resource_spans, "resource") or {}
        resource = attributes(
            resource_raw.get("attributes") if isinstance(resource_raw, dict) else None,
            f"{at}.resource",
        )
        for s, scope_spans in enumerate(
            _list(resource_spans, "scopeSpans", at, "instrumentationLibrarySpans")
        ):
            scope = _scope(scope_spans)
            for index, raw in enumerate(_list(scope_spans, "spans", f"{at}.scopeSpans[{s}]")):
                spans.append(_span(raw, f"{at}.scopeSpans[{s}].spans[{index}]", scope, resource))
    return spans, list(_logs(document, where))


class Collector:
    """Spans gathered document by document (a trace may span export batches), kept by trace
    id in the order traces first appear; log events attached to their spans at the end."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.traces: dict[str, list[Span]] = {}
        self._logs: list[LogEvent] = []

    def add(self, document: Any, where: str) -> None:
        try:
            spans, events = spans_of(document, where)
        except _Bad as exc:
            raise TrajectoryLoadError(f"{self.source}: {exc}") from None
        for span in spans:
            self.traces.setdefault(span.trace_id, []).append(span)
        self._logs.extend(events)

    def finish(self) -> dict[str, list[Span]]:
        if self._logs:
            by_id = {(s.trace_id, s.span_id): s for spans in self.traces.values() for s in spans}
            for event in self._logs:
                owner = by_id.get((event.trace_id, event.span_id))
                if owner is not None:
                    owner.logs.append((event.name, event.attributes, event.body))
        return self.traces
