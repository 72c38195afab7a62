"""The Recorder behind the ``agent_trace`` fixture.

Hot paths (``@tool`` calls) append plain records without taking a lock; pydantic models are
built only when the trajectory is read.  Events that arrive from litellm's callback threads or
its async logging worker are tracked as *pending* until their completion event lands, and
reading the trajectory first waits for (and, for async calls, drives) their delivery, so a test
never sees a half-recorded run.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from pydantic_core import to_jsonable_python

from . import _state
from .models import (
    LLMCall,
    MessageStep,
    RequestedToolCall,
    SpanStep,
    Step,
    ToolCall,
    Trajectory,
)
from .tool_replay import RUN_REAL, RecordedToolCall, ToolTape, rebuild_exception

_LATE = "litellm did not report how this call ended"
_ASYNC_LOST = (
    f"{_LATE}: the event loop closed while litellm was still logging this acompletion() "
    "call, so litellm cancelled it. `await agent_trace.settle()` (or `await asyncio.sleep(0)` "
    "a few times) before the coroutine you pass to asyncio.run returns."
)

#: How long reading a trajectory waits for litellm to deliver outstanding completion events.
FLUSH_TIMEOUT_S = 5.0


def jsonable(value: Any) -> Any:
    """A JSON-compatible copy of ``value`` (objects that JSON cannot hold become their repr)."""
    return to_jsonable_python(value, fallback=repr, serialize_unknown=True)


def error_text(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _wall(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, tz=timezone.utc) if ts is not None else None


class _Record:
    """One step as recorded, mutable until finished; converted to a pydantic Step on read."""

    __slots__ = (
        "done",
        "fields",
        "id",
        "is_async",
        "kind",
        "origin",
        "parent_id",
        "store",
        "t0",
        "wall0",
    )

    def __init__(self, kind: str, step_id: str, parent_id: str | None, fields: dict[str, Any]):
        self.kind = kind
        self.id = step_id
        self.parent_id = parent_id
        self.fields = fields
        self.wall0 = time.time()
        self.t0 = time.perf_counter()
        self.done = False
        self.is_async = False
        self.origin: str | None = None  # "http": seen by the cassette layer, maybe a duplicate
        self.store = False  # a tool call to add to the cassette's tool tape when it finishes


class Recorder:
    """Captures everything an agent does during one test (the ``agent_trace`` fixture).

    Automatic capture: ``@tool`` functions and litellm calls.  Manual API: :meth:`tool_call`,
    :meth:`llm_call`, :meth:`message`, :meth:`step`, :meth:`set_input`, :meth:`set_output`.
    Read :attr:`trajectory` at any time, e.g. ``assert agent_trace.trajectory.tool_names == [...]``.
    """

    def __init__(
        self,
        name: str | None = None,
        metadata: dict[str, Any] | None = None,
        *,
        capture_litellm: bool = True,
    ) -> None:
        self.name = name
        #: Whether litellm's callback events are recorded (ini ``agentops_capture_litellm``).
        self.capture_litellm = capture_litellm
        self.metadata: dict[str, Any] = dict(metadata or {})
        self._records: list[_Record] = []
        self._ids = itertools.count(1)
        self._pending: dict[str, _Record] = {}
        self._llm_by_call_id: dict[str, _Record] = {}
        self._cond = threading.Condition()
        self._input: Any = None
        self._output: Any = None
        self._has_input = False
        self._has_output = False
        self._started = time.time()
        self._ended: float | None = None
        self._previous: Recorder | None = None
        self._trajectory_id = f"{int(self._started * 1000):x}-{id(self) & 0xFFFF:04x}"
        #: The test cassette's tool tape while tools are replayed or recorded (else None).
        self._tool_replay: ToolTape | None = None

    # ---- activation ---------------------------------------------------------------------
    def start(self) -> Recorder:
        """Make this the recorder that ``@tool`` and litellm capture report to.

        Recorders nest: :meth:`stop` hands recording back to the one that was active before.
        """
        if _state.ACTIVE.recorder is not self:
            self._previous = _state.ACTIVE.recorder
            _state.ACTIVE.recorder = self
        return self

    def stop(self) -> None:
        if _state.ACTIVE.recorder is self:
            _state.ACTIVE.recorder = self._previous
        self._previous = None
        if self._ended is None:
            self._ended = time.time()

    @property
    def active(self) -> bool:
        return _state.ACTIVE.recorder is self

    def __enter__(self) -> Recorder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _next_id(self) -> str:
        return f"s{next(self._ids)}"

    # ---- hot path used by @tool ---------------------------------------------------------
    def _tool_started(
        self, name: str, arguments: dict[str, Any], replayable: bool = True
    ) -> tuple[_Record, Any, RecordedToolCall | None]:
        """Record a tool call's start; the third item is its recorded outcome when the
        cassette replays it (then the function must not run: see :meth:`_tool_replayed`)."""
        rec = _Record("tool", self._next_id(), _state.CURRENT_PARENT.get(), {})
        rec.fields["name"] = name
        rec.fields["arguments"] = jsonable(arguments)
        self._records.append(rec)
        tape = self._tool_replay
        replayed = None
        if tape is not None and replayable and tape.handles(name):
            replayed = tape.take(name, rec.fields["arguments"])
            if replayed is RUN_REAL:
                replayed = None
            elif replayed is None:
                rec.store = tape.record
        return rec, _state.CURRENT_PARENT.set(rec.id), replayed

    def _tool_finished(
        self, pending: tuple[_Record, Any, Any], result: Any, exc: BaseException | None
    ) -> None:
        rec, token, _ = pending
        rec.fields["duration_ms"] = (time.perf_counter() - rec.t0) * 1000
        if exc is None:
            rec.fields["result"] = jsonable(result)
        else:
            rec.fields["error"] = error_text(exc)
        rec.done = True
        if rec.store and self._tool_replay is not None:
            f = rec.fields
            self._tool_replay.store(
                f["name"],
                f["arguments"],
                f.get("result"),
                result,
                exc,
                f.get("error"),
                f["duration_ms"],
            )
        try:  # noqa: SIM105  (hot path: contextlib.suppress costs a context manager per call)
            _state.CURRENT_PARENT.reset(token)
        except ValueError:  # finished in another context than it started (rare): leave it
            pass

    def _tool_replayed(self, pending: tuple[_Record, Any, RecordedToolCall | None]) -> Any:
        """Finish a replayed tool call: return its recorded result or raise its exception."""
        rec, token, recorded = pending
        assert recorded is not None
        rec.fields["duration_ms"] = recorded.duration_ms
        rec.done = True
        try:  # noqa: SIM105
            _state.CURRENT_PARENT.reset(token)
        except ValueError:
            pass
        if recorded.error is not None:
            rec.fields["error"] = recorded.error
            raise rebuild_exception(recorded)
        rec.fields["result"] = recorded.result
        return copy.deepcopy(recorded.result)

    # ---- HTTP capture (called by the cassette layer) ------------------------------------
    def _http_llm_call(self, fields: dict[str, Any], wall0: float, duration_ms: float) -> None:
        """An LLM call seen on the wire; dropped when reading if litellm reported it too."""
        rec = _Record("llm", self._next_id(), _state.CURRENT_PARENT.get(), fields)
        rec.wall0 = wall0
        rec.fields.setdefault("duration_ms", duration_ms)
        rec.origin = "http"
        rec.done = True
        with self._cond:
            self._records.append(rec)

    # ---- litellm capture (called from litellm's threads) --------------------------------
    def _llm_started(self, call_id: str, fields: dict[str, Any], is_async: bool) -> None:
        rec = _Record("llm", self._next_id(), _state.CURRENT_PARENT.get(), fields)
        rec.is_async = is_async
        with self._cond:
            self._pending[call_id] = rec
            self._llm_by_call_id[call_id] = rec
            self._records.append(rec)

    def _llm_finished(self, call_id: str | None, fields: dict[str, Any]) -> None:
        with self._cond:
            rec = self._llm_by_call_id.get(call_id) if call_id else None
            if call_id:
                self._pending.pop(call_id, None)
            if rec is None:  # no pre-call event (e.g. a cache hit): record it now
                rec = _Record("llm", self._next_id(), _state.CURRENT_PARENT.get(), {})
                self._records.append(rec)
            elif rec.fields.get("error", "").startswith(_LATE):  # arrived after all
                del rec.fields["error"]
            rec.fields.update(fields)
            rec.done = True
            self._cond.notify_all()

    def _abandon_pending(self, error: str) -> None:
        """The test is failing (a cassette miss): stop waiting for litellm's events."""
        with self._cond:
            for rec in self._pending.values():
                rec.fields.setdefault("error", error)
                rec.done = True
            self._pending.clear()
            self._cond.notify_all()

    def pending_llm_calls(self) -> int:
        with self._cond:
            return len(self._pending)

    def flush(self, timeout: float = FLUSH_TIMEOUT_S) -> None:
        """Wait until litellm has delivered every outstanding completion event.

        Sync calls are delivered by litellm's callback thread pool; async calls are queued on
        litellm's async logging worker, which is drained here on a private event loop.  When
        called inside a running event loop with async events outstanding, this cannot block
        the loop, so it raises and tells you to ``await agent_trace.settle()``.
        """
        with self._cond:
            if not self._pending:
                return
            has_async = any(r.is_async for r in self._pending.values())
        if has_async:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                from .litellm_capture import drain_async_logging

                drain_async_logging(timeout)
            else:
                raise RuntimeError(
                    f"{self.pending_llm_calls()} litellm call(s) made with acompletion() have "
                    "not been delivered by litellm's async logging worker yet. In an async test, "
                    "`await agent_trace.settle()` before reading `agent_trace.trajectory`."
                )
        with self._cond:
            # Async events still missing after the drain were lost inside litellm (its logging
            # task was cancelled when the event loop closed): only sync ones can still come.
            wait = timeout if any(not r.is_async for r in self._pending.values()) else 0.0
            self._cond.wait_for(lambda: not self._pending, wait)
            for rec in self._pending.values():
                rec.fields.setdefault(
                    "error",
                    _ASYNC_LOST
                    if rec.is_async
                    else (
                        f"{_LATE} within {timeout:g}s (its completion event never arrived; "
                        "was a streamed response left unconsumed?)"
                    ),
                )
                rec.done = True
            self._pending.clear()

    async def settle(self, timeout: float = FLUSH_TIMEOUT_S) -> None:
        """Async tests: let litellm's async logging worker deliver outstanding events."""
        deadline = time.monotonic() + timeout
        while self.pending_llm_calls() and time.monotonic() < deadline:
            from .litellm_capture import flush_async_logging

            await flush_async_logging(max(deadline - time.monotonic(), 0.01))
            if self.pending_llm_calls():
                await asyncio.sleep(0.01)
        self.flush(timeout=0)

    # ---- manual API ---------------------------------------------------------------------
    def tool_call(
        self,
        name: str,
        arguments: dict[str, Any] | None = None,
        *,
        result: Any = None,
        error: str | BaseException | None = None,
        call_id: str | None = None,
        duration_ms: float | None = None,
    ) -> str:
        """Record a tool call made outside ``@tool``; returns the step id."""
        fields: dict[str, Any] = {
            "name": name,
            "arguments": jsonable(arguments or {}),
            "result": jsonable(result),
            "call_id": call_id,
            "duration_ms": duration_ms,
        }
        if error is not None:
            fields["error"] = error_text(error) if isinstance(error, BaseException) else error
        return self._append_done("tool", fields)

    def llm_call(
        self,
        model: str,
        *,
        input_messages: list[dict[str, Any]] | None = None,
        output: str | dict[str, Any] | None = None,
        requested_tool_calls: list[dict[str, Any]] | None = None,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cached_tokens: int = 0,
        cost_usd: float | None = None,
        provider: str | None = None,
        duration_ms: float | None = None,
        error: str | None = None,
    ) -> str:
        """Record an LLM call made outside litellm; returns the step id.

        ``output`` is the assistant's text or message dict.  When ``cost_usd`` is None and
        tokens are given, the cost comes from litellm's price table for ``model``.
        """
        message = {"role": "assistant", "content": output} if isinstance(output, str) else output
        if cost_usd is None and (input_tokens or output_tokens):
            from .prices import cost_usd as price

            cost_usd = price(model, input_tokens, output_tokens, provider)
        fields = {
            "model": model,
            "provider": provider,
            "input_messages": jsonable(input_messages or []),
            "output_message": jsonable(message),
            "requested_tool_calls": [
                RequestedToolCall.model_validate(c) for c in requested_tool_calls or []
            ],
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cached_tokens": cached_tokens,
            "cost_usd": cost_usd,
            "duration_ms": duration_ms,
            "error": error,
        }
        return self._append_done("llm", fields)

    def message(self, role: str, content: Any) -> str:
        """Record a conversation message (e.g. a user turn in a multi-turn test)."""
        return self._append_done("message", {"role": role, "content": jsonable(content)})

    @contextmanager
    def step(self, name: str, **attributes: Any) -> Iterator[str]:
        """A named span; tool and LLM calls made inside it become its children."""
        rec = _Record("span", self._next_id(), _state.CURRENT_PARENT.get(), {"name": name})
        rec.fields["attributes"] = jsonable(attributes)
        self._records.append(rec)
        token = _state.CURRENT_PARENT.set(rec.id)
        try:
            yield rec.id
        except BaseException as exc:
            rec.fields["error"] = error_text(exc)
            raise
        finally:
            _state.CURRENT_PARENT.reset(token)
            rec.fields["duration_ms"] = (time.perf_counter() - rec.t0) * 1000
            rec.done = True

    def set_input(self, value: Any) -> None:
        self._input, self._has_input = jsonable(value), True

    def set_output(self, value: Any) -> None:
        self._output, self._has_output = jsonable(value), True

    def _append_done(self, kind: str, fields: dict[str, Any]) -> str:
        rec = _Record(kind, self._next_id(), _state.CURRENT_PARENT.get(), fields)
        rec.done = True
        self._records.append(rec)
        return rec.id

    # ---- reading ------------------------------------------------------------------------
    @property
    def trajectory(self) -> Trajectory:
        """The run so far as a :class:`Trajectory` (waits for pending litellm events first)."""
        self.flush()
        return self._build()

    def _build(self) -> Trajectory:
        steps: list[Step] = []
        records = list(self._records)
        dropped, merged = _deduplicate(records)
        for rec in records:
            if rec.id in dropped:
                continue
            if rec.origin == "http" and "cost_usd" not in rec.fields:
                rec.fields["cost_usd"] = _http_cost(rec.fields)
            common = {
                "id": rec.id,
                "parent_id": rec.parent_id,
                "started_at": _wall(rec.wall0),
            }
            fields = {k: v for k, v in merged.get(rec.id, rec.fields).items() if v is not None}
            if not rec.done and "duration_ms" not in fields:
                fields["error"] = (
                    fields.get("error") or "still running when the trajectory was read"
                )
            if rec.kind == "tool":
                steps.append(ToolCall(**common, **fields))
            elif rec.kind == "llm":
                steps.append(LLMCall(**common, **fields))
            elif rec.kind == "message":
                steps.append(MessageStep(**common, **fields))
            else:
                steps.append(SpanStep(**common, **fields))
        _link_tool_calls(steps)
        traj = Trajectory(
            id=self._trajectory_id,
            name=self.name,
            input=self._input if self._has_input else _derive_input(steps),
            output=self._output if self._has_output else _derive_output(steps),
            steps=steps,
            metadata=dict(self.metadata),
            started_at=_wall(self._started),
            ended_at=_wall(self._ended if self._ended is not None else time.time()),
        )
        return traj


def _deduplicate(records: list[_Record]) -> tuple[set[str], dict[str, dict[str, Any]]]:
    """LLM calls seen both by litellm and on the wire are kept once, as litellm reported them.

    Pairs are made by the provider's response id, then by identical input messages.  When
    litellm never delivered its completion event (see ``_ASYNC_LOST``), the wire's copy fills
    it in.  Returns the ids of the wire records to drop and the merged fields by record id.
    """
    wire = [r for r in records if r.origin == "http"]
    if not wire:
        return set(), {}
    own = [r for r in records if r.kind == "llm" and r.origin is None]
    dropped: set[str] = set()
    merged: dict[str, dict[str, Any]] = {}
    paired: set[str] = set()

    def pair(http: _Record, rec: _Record) -> None:
        paired.add(rec.id)
        dropped.add(http.id)
        if not rec.done or str(rec.fields.get("error") or "").startswith(_LATE):
            fields = {**rec.fields, **{k: v for k, v in http.fields.items() if v is not None}}
            if "error" not in http.fields:
                fields.pop("error", None)
            fields["duration_ms"] = rec.fields.get("duration_ms", http.fields.get("duration_ms"))
            merged[rec.id] = fields

    by_id: dict[str, list[_Record]] = {}
    for rec in own:
        response_id = rec.fields.get("response_id")
        if response_id:
            by_id.setdefault(response_id, []).append(rec)
    rest = []
    for http in wire:
        candidates = by_id.get(http.fields.get("response_id") or "", [])
        match = next((r for r in candidates if r.id not in paired), None)
        if match is not None:
            pair(http, match)
        else:
            rest.append(http)
    for http in rest:
        messages = _conversation(http.fields.get("input_messages"))
        match = next(
            (
                r
                for r in own
                if r.id not in paired
                and (not r.fields.get("response_id") or not r.done)
                and _conversation(r.fields.get("input_messages")) == messages
            ),
            None,
        )
        if match is not None:
            pair(http, match)
    return dropped, merged


def _conversation(messages: Any) -> list[tuple[str, str, tuple[str, ...]]]:
    """Messages as (role, text, tool call ids): litellm's copy of a request and the one on
    the wire differ in details (``content: None`` dropped, extra keys) but not in these."""
    out = []
    for message in messages if isinstance(messages, list) else []:
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        text = content if isinstance(content, str) else json.dumps(content, sort_keys=True)
        calls = tuple(
            str(c.get("id")) for c in message.get("tool_calls") or [] if isinstance(c, dict)
        )
        out.append((str(message.get("role")), "" if content is None else text, calls))
    return out


def _http_cost(fields: dict[str, Any]) -> float | None:
    if not (fields.get("input_tokens") or fields.get("output_tokens")):
        return None
    from .prices import cost_usd

    return cost_usd(
        str(fields.get("model") or ""),
        fields["input_tokens"],
        fields["output_tokens"],
        fields.get("provider"),
    )


def _link_tool_calls(steps: list[Step]) -> None:
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


def _derive_input(steps: list[Step]) -> Any:
    for step in steps:
        if isinstance(step, LLMCall):
            users = [m for m in step.input_messages if m.get("role") == "user"]
            return users[-1].get("content") if users else None
    return None


def _derive_output(steps: list[Step]) -> Any:
    for step in reversed(steps):
        if isinstance(step, LLMCall) and step.ok and not step.requested_tool_calls:
            return step.output_text
    return None
