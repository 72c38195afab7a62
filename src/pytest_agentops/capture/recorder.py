"""The Recorder behind the ``agent_trace`` fixture, and its interface for producers.

Producers report what the agent does to the active recorder (:data:`.active.ACTIVE`) through
its public methods: the ``@tool`` decorator (:meth:`Recorder.tool_started`,
:meth:`~Recorder.tool_finished`, :meth:`~Recorder.tool_replayed`), litellm's callback
(:meth:`~Recorder.llm_started`, :meth:`~Recorder.llm_finished`), the wire capture
(:meth:`~Recorder.wire_llm_call`), and a cassette that fails the test
(:meth:`~Recorder.abandon_pending`).  The test's tool tape, when its cassette has one, is
given to the recorder when it is made.

Hot paths (``@tool`` calls) append plain records without taking a lock; pydantic models are
built only when the trajectory is read (:mod:`.build`).  Events that arrive from litellm's
callback threads or its async logging worker are tracked as *pending* until their completion
event lands, and reading the trajectory first waits for (and, for async calls, drives) their
delivery, so a test never sees a half-recorded run.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pytest_agentops._util import error_text
from pytest_agentops.trajectory.derive import derive_input, derive_output
from pytest_agentops.trajectory.model import Trajectory

from .active import ACTIVE, CURRENT_PARENT
from .build import LATE, build_steps, wall
from .fields import LLMFields, jsonable, jsonable_arguments, llm_fields
from .tape import RUN_REAL, RecordedToolCall, ToolTape, rebuild_exception

ASYNC_LOST = (
    f"{LATE}: the event loop closed while litellm was still logging this acompletion() "
    "call, so litellm cancelled it. `await agent_trace.settle()` (or `await asyncio.sleep(0)` "
    "a few times) before the coroutine you pass to asyncio.run returns."
)

#: How long reading a trajectory waits for litellm to deliver outstanding completion events.
FLUSH_TIMEOUT_S = 5.0

# Hot path helpers, bound once.  (Calling `CURRENT_PARENT.get()` on the imported name would
# compile to LOAD_ATTR, not LOAD_METHOD, in CPython 3.11: a bound method made on every call.)
_wall_clock, _clock = time.time, time.perf_counter
_parent, _enter, _leave = CURRENT_PARENT.get, CURRENT_PARENT.set, CURRENT_PARENT.reset


class StepRecord:
    """One step as recorded, mutable until finished; built into a pydantic step on read.

    For a tool call it is also the handle that :meth:`Recorder.tool_started` returns:
    ``replayed`` is the recorded outcome when the cassette answers the call (then the function
    must not run: pass the record to :meth:`Recorder.tool_replayed`).  ``replayed`` and
    ``token`` are set by :meth:`Recorder.tool_started` only (tool calls are the hot path).
    """

    __slots__ = (
        "done",
        "fields",
        "id",
        "is_async",
        "kind",
        "origin",
        "parent_id",
        "replayed",
        "store",
        "t0",
        "token",
        "wall0",
    )

    def __init__(self, kind: str, step_id: str, parent_id: str | None, fields: dict[str, Any]):
        self.kind = kind
        self.id = step_id
        self.parent_id = parent_id
        self.fields = fields
        self.wall0 = _wall_clock()
        self.t0 = _clock()
        self.done = False
        self.is_async = False
        self.origin: str | None = None  # "wire": seen by the cassette layer, maybe a duplicate
        self.store = False  # a tool call to add to the cassette's tool tape when it finishes
        self.replayed: RecordedToolCall | None  # the tape's answer (tool calls only)
        self.token: Any  # resets CURRENT_PARENT when the tool call finishes (tool calls only)


class Recorder:
    """Captures everything an agent does during one test (the ``agent_trace`` fixture).

    Automatic capture: ``@tool`` functions, litellm calls, LLM API calls on the wire.  Manual
    API: :meth:`tool_call`, :meth:`llm_call`, :meth:`message`, :meth:`step`,
    :meth:`set_input`, :meth:`set_output`.  Read :attr:`trajectory` at any time, e.g.
    ``assert agent_trace.trajectory.tool_names == [...]``.
    """

    def __init__(
        self,
        name: str | None = None,
        metadata: dict[str, Any] | None = None,
        *,
        capture_litellm: bool = True,
        tool_tape: ToolTape | None = None,
        capture_otel: bool = True,
    ) -> None:
        self.name = name
        #: Whether OpenTelemetry spans of the agent are recorded (ini ``agentops_capture_otel``).
        self.capture_otel = capture_otel
        #: Whether litellm's callback events are recorded (ini ``agentops_capture_litellm``).
        self.capture_litellm = capture_litellm
        #: The test cassette's tool tape: ``@tool`` calls are replayed from it or stored in it.
        self.tool_tape = tool_tape
        self.metadata: dict[str, Any] = dict(metadata or {})
        self._records: list[StepRecord] = []
        self._ids = itertools.count(1)
        self._pending: dict[str, StepRecord] = {}
        self._llm_by_call_id: dict[str, StepRecord] = {}
        self._cond = threading.Condition()
        self._input: Any = None
        self._output: Any = None
        self._has_input = False
        self._has_output = False
        self._started = time.time()
        self._ended: float | None = None
        self._previous: Recorder | None = None
        self._trajectory_id = f"{int(self._started * 1000):x}-{id(self) & 0xFFFF:04x}"
        self._notices: set[str] = set()
        #: The pytest item whose recorder this is (set by ``agent_trace``), or None.
        self.item: Any = None
        #: OpenTelemetry spans of the agent that ended while recording (``capture/otel.py``).
        self._otel: list[tuple[Any, str | None]] = []

    # ---- activation ---------------------------------------------------------------------
    def start(self) -> Recorder:
        """Make this the recorder that producers (``@tool``, litellm, the wire) report to.

        Recorders nest: :meth:`stop` hands recording back to the one that was active before.
        """
        if ACTIVE.recorder is not self:
            self._previous = ACTIVE.recorder
            ACTIVE.recorder = self
        return self

    def stop(self) -> None:
        if ACTIVE.recorder is self:
            ACTIVE.recorder = self._previous
        self._previous = None
        if self._ended is None:
            self._ended = time.time()

    @property
    def active(self) -> bool:
        return ACTIVE.recorder is self

    def __enter__(self) -> Recorder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _next_id(self) -> str:
        return f"s{next(self._ids)}"

    # ---- producers: @tool (the hot path) -------------------------------------------------
    def tool_started(
        self,
        name: str,
        arguments: dict[str, Any],
        replayable: bool = True,
        code: Callable[[], str | None] | None = None,
    ) -> StepRecord:
        """A tool call starts; steps made until it finishes are its children.

        When the tool tape replays this call, the returned record's ``replayed`` holds the
        recorded outcome: finish with :meth:`tool_replayed` instead of running the tool.
        Otherwise run it and finish with :meth:`tool_finished`.  ``code`` gives the
        fingerprint of the tool's code, kept with its recordings to tell when it changed.
        """
        tape = self.tool_tape
        if tape is None or not replayable or not tape.handles(name):
            rec = StepRecord(
                "tool",
                f"s{next(self._ids)}",
                _parent(),
                {"name": name, "arguments": jsonable(arguments)},
            )
            self._records.append(rec)
            rec.replayed = None
        else:
            data, loose = jsonable_arguments(arguments)
            rec = StepRecord(
                "tool", f"s{next(self._ids)}", _parent(), {"name": name, "arguments": data}
            )
            self._records.append(rec)
            replayed = tape.take(name, data, loose, code)
            if replayed is RUN_REAL:
                replayed = None
            elif replayed is None:
                rec.store = tape.record
            rec.replayed = replayed
        rec.token = _enter(rec.id)
        return rec

    def tool_finished(self, rec: StepRecord, result: Any, exc: BaseException | None) -> None:
        """The tool ran: record its result, or the exception it raised."""
        fields = rec.fields
        fields["duration_ms"] = (_clock() - rec.t0) * 1000
        if exc is None:
            fields["result"] = jsonable(result)
        else:
            fields["error"] = error_text(exc)
        rec.done = True
        if rec.store and self.tool_tape is not None:
            self.tool_tape.store(fields, result, exc)
        token, rec.token = rec.token, None  # a kept token would cost the GC on every call
        try:  # noqa: SIM105  (hot path: contextlib.suppress costs a context manager per call)
            _leave(token)
        except ValueError:  # finished in another context than it started (rare): leave it
            pass

    def tool_replayed(self, rec: StepRecord) -> Any:
        """Finish a replayed tool call: return its recorded result or raise its exception."""
        recorded = rec.replayed
        assert recorded is not None
        rec.fields["duration_ms"] = recorded.duration_ms
        rec.done = True
        token, rec.token = rec.token, None
        try:  # noqa: SIM105
            _leave(token)
        except ValueError:
            pass
        if recorded.error is not None:
            rec.fields["error"] = recorded.error
            raise rebuild_exception(recorded)
        rec.fields["result"] = recorded.result
        return copy.deepcopy(recorded.result)

    # ---- producers: the wire and litellm -------------------------------------------------
    def wire_llm_call(self, fields: LLMFields, started: float, duration_ms: float) -> None:
        """An LLM call seen on the wire (``started``: wall-clock time); kept once when litellm
        reported it too."""
        rec = StepRecord("llm", self._next_id(), _parent(), dict(fields))
        rec.wall0 = started
        rec.fields.setdefault("duration_ms", duration_ms)
        rec.origin = "wire"
        rec.done = True
        with self._cond:
            self._records.append(rec)

    def llm_started(self, call_id: str, fields: LLMFields, is_async: bool) -> None:
        """A litellm call starts (in the caller's context: this fixes its place and parent);
        its completion arrives later, maybe from another thread, through :meth:`llm_finished`."""
        rec = StepRecord("llm", self._next_id(), _parent(), dict(fields))
        rec.is_async = is_async
        with self._cond:
            self._pending[call_id] = rec
            self._llm_by_call_id[call_id] = rec
            self._records.append(rec)

    def llm_finished(self, call_id: str | None, fields: LLMFields) -> None:
        """A litellm call ended (successfully or not)."""
        with self._cond:
            rec = self._llm_by_call_id.get(call_id) if call_id else None
            if call_id:
                self._pending.pop(call_id, None)
            if rec is None:  # no pre-call event (e.g. a cache hit): record it now
                rec = StepRecord("llm", self._next_id(), _parent(), {})
                self._records.append(rec)
            elif rec.fields.get("error", "").startswith(LATE):  # arrived after all
                del rec.fields["error"]
            rec.fields.update(fields)
            rec.done = True
            self._cond.notify_all()

    def otel_span(self, span: Any, parent_id: str | None) -> None:
        """An OpenTelemetry span of the agent's (GenAI conventions, OpenInference,
        OpenLLMetry) ended; read into steps with the trajectory, duplicates dropped."""
        with self._cond:
            self._otel.append((span, parent_id))

    def _otel_records(self) -> list[StepRecord]:
        if not self._otel:
            return []
        from .otel import span_records

        def new_record(
            kind: str, parent_id: str | None, fields: dict[str, Any], started: float | None
        ) -> StepRecord:
            rec = StepRecord(kind, self._next_id(), parent_id, fields)
            rec.wall0 = started if started is not None else rec.wall0
            rec.origin = "otel"
            rec.done = True
            return rec

        with self._cond:
            spans = list(self._otel)
        return span_records(spans, new_record)

    def abandon_pending(self, error: str) -> None:
        """The test is failing (a cassette miss): stop waiting for litellm's events; the
        calls still pending end with ``error``."""
        with self._cond:
            for rec in self._pending.values():
                rec.fields.setdefault("error", error)
                rec.done = True
            self._pending.clear()
            self._cond.notify_all()

    def first_time(self, notice: str) -> bool:
        """Whether ``notice`` is new to this recording (for what is said once per test)."""
        with self._cond:
            if notice in self._notices:
                return False
            self._notices.add(notice)
            return True

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
                from .litellm import drain_async_logging

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
                    ASYNC_LOST
                    if rec.is_async
                    else (
                        f"{LATE} within {timeout:g}s (its completion event never arrived; "
                        "was a streamed response left unconsumed?)"
                    ),
                )
                rec.done = True
            self._pending.clear()

    async def settle(self, timeout: float = FLUSH_TIMEOUT_S) -> None:
        """Async tests: let litellm's async logging worker deliver outstanding events."""
        deadline = time.monotonic() + timeout
        while self.pending_llm_calls() and time.monotonic() < deadline:
            from .litellm import flush_async_logging

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
            from pytest_agentops.trajectory.prices import cost_usd as price

            cost_usd = price(model, input_tokens, output_tokens, provider)
        fields = llm_fields(
            model=model,
            provider=provider,
            input_messages=jsonable(input_messages or []),
            output_message=jsonable(message),
            requested_tool_calls=requested_tool_calls or [],
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cached_tokens=cached_tokens,
            cost_usd=cost_usd,
            duration_ms=duration_ms,
            error=error,
        )
        return self._append_done("llm", dict(fields))

    def message(self, role: str, content: Any) -> str:
        """Record a conversation message (e.g. a user turn in a multi-turn test)."""
        return self._append_done("message", {"role": role, "content": jsonable(content)})

    @contextmanager
    def step(self, name: str, **attributes: Any) -> Iterator[str]:
        """A named span; tool and LLM calls made inside it become its children."""
        rec = StepRecord("span", self._next_id(), _parent(), {"name": name})
        rec.fields["attributes"] = jsonable(attributes)
        self._records.append(rec)
        token = _enter(rec.id)
        try:
            yield rec.id
        except BaseException as exc:
            rec.fields["error"] = error_text(exc)
            raise
        finally:
            _leave(token)
            rec.fields["duration_ms"] = (time.perf_counter() - rec.t0) * 1000
            rec.done = True

    def set_input(self, value: Any) -> None:
        self._input, self._has_input = jsonable(value), True

    def set_output(self, value: Any) -> None:
        self._output, self._has_output = jsonable(value), True

    def _append_done(self, kind: str, fields: dict[str, Any]) -> str:
        rec = StepRecord(kind, self._next_id(), _parent(), fields)
        rec.done = True
        self._records.append(rec)
        return rec.id

    # ---- baselines ----------------------------------------------------------------------
    def assert_matches_baseline(
        self,
        name: str | None = None,
        *,
        cost_tolerance: float | None = 0.2,
        tokens_tolerance: float | None = 0.2,
        mode: str = "strict",
        compare_output: bool = False,
    ) -> None:
        """Assert the test's trajectory matches its stored golden trajectory,
        ``baselines/<module path>/<test>.yaml`` (``name``: another file in that folder).

        Tool calls must match the baseline's with exact arguments under ``mode`` (as in
        ``assert_tool_calls``); the number of LLM calls must be the same (``strict`` and
        ``unordered``); total cost and tokens may change by the relative tolerances (None:
        not compared); the output counts with ``compare_output=True``.  Ids, timestamps and
        latencies are ignored.  ``--agentops-update-baselines`` writes missing baselines and
        rewrites those the run does not match (see :mod:`pytest_agentops.cases.baseline`).
        """
        __tracebackhide__ = True
        from pytest_agentops.cases.baseline import assert_matches_baseline

        assert_matches_baseline(
            self,
            name,
            cost_tolerance=cost_tolerance,
            tokens_tolerance=tokens_tolerance,
            mode=mode,
            compare_output=compare_output,
        )

    # ---- reading ------------------------------------------------------------------------
    @property
    def trajectory(self) -> Trajectory:
        """The run so far as a :class:`Trajectory` (waits for pending litellm events first)."""
        self.flush()
        steps = build_steps(list(self._records), self._otel_records())
        return Trajectory(
            id=self._trajectory_id,
            name=self.name,
            input=self._input if self._has_input else derive_input(steps),
            output=self._output if self._has_output else derive_output(steps),
            steps=steps,
            metadata=dict(self.metadata),
            started_at=wall(self._started),
            ended_at=wall(self._ended if self._ended is not None else time.time()),
        )
