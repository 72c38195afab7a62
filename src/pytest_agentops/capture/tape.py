"""Tool replay: ``@tool`` results stored with a test's cassette and played back in order.

While a test records, every ``@tool`` call's name, arguments and outcome (result, or the
exception's type and message) is appended to the cassette's tool tape.  While it replays, a
call is answered from the tape instead of running the function: the first unplayed recording
with the same tool name and the same arguments (JSON-equal), so repeated identical calls replay
in recorded order.  A call that is not on the tape fails the test in replay-only mode; in
``new_episodes`` mode it runs for real and is added.

On disk the tape is the ``agentops`` section of the cassette file (see :class:`ToolTapeFile`).
Each recording is a :class:`~pytest_agentops.ToolCall` (name, arguments, result or error,
duration) plus what it takes to raise the same exception again.
"""

from __future__ import annotations

import importlib
import threading
import warnings
from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pytest_agentops._util import canonical_json, is_json_data
from pytest_agentops.errors import ReplayedToolError
from pytest_agentops.trajectory.model import ToolCall

TAPE_SCHEMA_VERSION = 1

#: The keys of a recording in the file, in the order they are written.
_FILE_KEYS = (
    "name",
    "code",
    "arguments",
    "result",
    "error",
    "error_type",
    "error_message",
    "error_args",
    "duration_ms",
    "replayable",
)


class RecordedToolCall(ToolCall):
    """A tool call as the tape holds it: the step, and how to raise its exception again.

    ``error`` is the exception as the trajectory shows it (``"ValueError: no such order"``).
    """

    #: ``module:qualname`` of the exception class, to raise the same type on replay.
    error_type: str | None = None
    #: ``str(exception)``: the message the rebuilt exception is created with...
    error_message: str | None = None
    #: ... or its ``args``, when they are JSON data (e.g. ``KeyError('x')``).
    error_args: list[Any] | None = None
    #: False when the result was not JSON data: replay then runs the tool for real.
    replayable: bool = True
    #: Fingerprint of the tool function's code when it was recorded (see ``code_fingerprint``).
    code: str | None = None

    def to_file(self) -> dict[str, Any]:
        """The recording as the cassette file holds it (no step id, parent or start time)."""
        data = self.model_dump(mode="json")
        return {key: data[key] for key in _FILE_KEYS}


class ToolTapeFile(BaseModel):
    """The ``agentops`` section of a cassette: recorded tool calls, in call order."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    tools: list[RecordedToolCall] = Field(default_factory=list)

    def to_file(self) -> dict[str, Any]:
        return {"schema_version": self.schema_version, "tools": [t.to_file() for t in self.tools]}


def arguments_key(name: str, arguments: Any) -> str:
    """Tool name and JSON-canonical arguments (dict order ignored, ``1 == 1.0``)."""
    return name + "\x00" + (canonical_json(arguments) or repr(arguments))


def rebuild_exception(call: RecordedToolCall) -> BaseException:
    """The exception a recorded call raised, as close to the original type as possible."""
    message = call.error_message if call.error_message is not None else (call.error or "")
    if call.error_type:
        module_name, _, qualname = call.error_type.partition(":")
        try:
            obj: Any = importlib.import_module(module_name)
            for part in qualname.split("."):
                obj = getattr(obj, part)
            if isinstance(obj, type) and issubclass(obj, Exception):
                if call.error_args is not None:
                    exc = obj(*call.error_args)
                    if str(exc) == message:
                        return exc
                exc = obj(message)
                if str(exc) == message:
                    return exc
        except Exception:
            pass
    return ReplayedToolError(call.error or message)


def exception_type(exc: BaseException) -> str:
    cls = type(exc)
    return f"{cls.__module__}:{cls.__qualname__}"


#: :meth:`ToolTape.take` answer: run the tool for real and do not record it again.
RUN_REAL = RecordedToolCall(name="<run for real>")


class ToolTape:
    """The tool recordings of one test's cassette, with the replay/record rules of its mode."""

    def __init__(
        self,
        recorded: list[RecordedToolCall],
        *,
        replay: bool,
        record: bool,
        real_tools: frozenset[str] = frozenset(),
        on_miss: Callable[[str, dict[str, Any], list[RecordedToolCall]], BaseException]
        | None = None,
        redact: Callable[[Any], Any] | None = None,
        on_changed: Callable[[str], BaseException | None] | None = None,
        by_position: bool = False,
    ) -> None:
        #: Recordings loaded from the cassette (replayed), then new ones (saved).
        self.recorded = list(recorded) if replay else []
        self.new: list[RecordedToolCall] = []
        self.replay = replay
        self.record = record
        self.real_tools = real_tools
        self._on_miss = on_miss
        self._redact = redact or (lambda value: value)
        self._played = [False] * len(self.recorded)
        self._keys = [arguments_key(c.name, c.arguments) for c in self.recorded]
        self._lock = threading.Lock()
        self.misses: list[str] = []
        #: Per tool, the arguments left out of its replay key (they are not data).
        self.loose: dict[str, set[str]] = {}
        #: Per tool, what gives the fingerprint of its code now; tools found changed.
        self.codes: dict[str, Callable[[], str | None]] = {}
        self.changed: set[str] = set()
        self._on_changed = on_changed
        #: Replay by position and name (a promoted incident): the k-th call of a tool gets
        #: its k-th recording whatever the arguments; a call beyond them runs for real.
        self.by_position = by_position

    @property
    def dirty(self) -> bool:
        return bool(self.new)

    def handles(self, name: str) -> bool:
        return name not in self.real_tools

    def take(
        self,
        name: str,
        arguments: dict[str, Any],
        loose: dict[str, str] | None = None,
        code: Callable[[], str | None] | None = None,
    ) -> RecordedToolCall | None:
        """The recording that answers this call, or ``None`` to run the tool for real.

        ``loose``: the arguments that are not data (name -> type name), which cannot be
        compared from one run to the next: they are left out of the key (with a warning).
        ``code``: gives the fingerprint of the tool's code, compared with the recording's.
        Raises (through ``on_miss``) when the call is not recorded and recording is off.
        """
        if loose:
            self._leave_out(name, loose)
        if code is not None:
            self.codes[name] = code
        if not self.replay and self.record:
            return None
        if self.by_position:
            return self._next_of(name)
        key = arguments_key(name, self._redact(self._key_arguments(name, arguments)))
        with self._lock:
            for index, recorded_key in enumerate(self._keys):
                if not self._played[index] and recorded_key == key:
                    self._played[index] = True
                    call = self.recorded[index]
                    break
            else:
                call = None
        if call is not None:
            self._check_code(call, code)
            return call if call.replayable else RUN_REAL
        if self.record:
            return None
        unplayed = [c for c, played in zip(self.recorded, self._played, strict=True) if not played]
        if self._on_miss is None:
            raise ReplayedToolError(f"tool call {name}({arguments}) is not recorded")
        raise self._on_miss(name, arguments, unplayed)

    def _next_of(self, name: str) -> RecordedToolCall | None:
        with self._lock:
            for index, call in enumerate(self.recorded):
                if not self._played[index] and call.name == name:
                    self._played[index] = True
                    return call if call.replayable else RUN_REAL
        return None  # the incident made fewer calls of this tool: it runs for real

    def _check_code(self, call: RecordedToolCall, code: Callable[[], str | None] | None) -> None:
        """A replayed result from an older version of the tool's code is reported (once)."""
        if call.code is None or code is None or call.name in self.changed:
            return
        now = code()
        if now is None or now == call.code:
            return
        self.changed.add(call.name)
        if self._on_changed is not None:
            failure = self._on_changed(call.name)
            if failure is not None:
                raise failure

    def _leave_out(self, name: str, loose: dict[str, str]) -> None:
        known = self.loose.setdefault(name, set())
        for argument, kind in loose.items():
            if argument in known:
                continue
            known.add(argument)
            warnings.warn(
                f"@tool {name}: argument {argument!r} is a {kind}, not JSON data: it is left out "
                "of the replay key (calls are matched on their other arguments) and of the "
                "cassette. If it is a framework's context or a client, leave it out of the "
                f"recording too: @tool(exclude=[{argument!r}]).",
                stacklevel=4,
            )

    def _key_arguments(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        loose = self.loose.get(name)
        if not loose:
            return arguments
        return {k: v for k, v in arguments.items() if k not in loose}

    def store(self, step: Mapping[str, Any], raw_result: Any, exc: BaseException | None) -> None:
        """Add a finished tool call (its step fields) to the tape, secrets redacted.

        ``raw_result`` is what the function returned (the step holds a JSON-able copy): only
        JSON data can be replayed as it was.
        """
        if not self.record:
            return
        name = step["name"]
        replayable = exc is not None or is_json_data(raw_result)
        if not replayable:
            warnings.warn(
                f"@tool {name} returned a {type(raw_result).__name__}, which is not JSON data: its "
                "recording cannot be replayed, so this tool will run for real on replay. Return "
                "JSON data (dicts, lists, strings, numbers) to make it replayable, or opt it out "
                "with @tool(replay=False).",
                stacklevel=2,
            )
        error = step.get("error")
        duration_ms = step.get("duration_ms")
        call = RecordedToolCall(
            name=name,
            arguments=self._redact(self._key_arguments(name, step["arguments"])),
            result=self._redact(step.get("result")),
            error=self._redact(error) if error is not None else None,
            error_type=exception_type(exc) if exc is not None else None,
            error_message=self._redact(str(exc)) if exc is not None else None,
            error_args=self._redact(list(exc.args))
            if exc is not None and is_json_data(list(exc.args))
            else None,
            duration_ms=round(duration_ms, 3) if duration_ms is not None else None,
            replayable=replayable,
            code=self.codes[name]() if name in self.codes else None,
        )
        with self._lock:
            self.new.append(call)

    def to_file(self) -> dict[str, Any]:
        """What to save: in new_episodes mode the loaded calls too, then the new ones."""
        return ToolTapeFile(tools=[*self.recorded, *self.new]).to_file()
