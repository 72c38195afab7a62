"""One test's cassette: a vcrpy cassette that fits LLM traffic and agent tests.

:class:`Cassette` (the ``agentops_cassette`` fixture's value) wraps a vcrpy cassette
(:class:`AgentCassette`) and is active from the test's first fixture to its teardown:

- **matching** (:mod:`.matching`): semantic, by method, host, path, query and JSON body;
  identical requests replay in recorded order;
- **misses** raise pytest's failure exception, which is a ``BaseException``: the openai SDK
  and litellm retry (and sleep) on any ``Exception``, so vcrpy's own error would surface
  seconds later as "Connection error".  The message names the request, the closest recording
  and how they differ, and the flag that records it;
- **secrets** never reach the file: credential headers are dropped, keys in URLs and bodies
  (by shape, by the values of secret environment variables and of the auth headers seen) are
  replaced, then ``pytest_agentops_redact`` runs;
- **the tool tape** (:mod:`..capture.tape`) lives in the same file (:mod:`.storage`);
- **wire capture**: each interaction recorded or replayed is handed to
  :func:`..capture.wire.observe`, which records the LLM calls among them.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from vcr.cassette import Cassette as VcrCassette
from vcr.cassette import CassetteContextDecorator
from vcr.record_mode import RecordMode
from vcr.request import Request
from vcr.serializers import compat

from pytest_agentops._util import LeftTemporaryFiles
from pytest_agentops.capture.active import ACTIVE
from pytest_agentops.capture.tape import RecordedToolCall, ToolTape
from pytest_agentops.capture.wire import observe_interaction
from pytest_agentops.redact import Redactor

from .matching import call_text, caller, closest, describe_request, llm_request, request_key
from .storage import Persister, Serializer, decode_body, header_values

#: vcrpy's patch groups (``CassettePatcherBuilder.build``) and the module each one needs.
_PATCH_GROUPS = {
    "requests": "requests",
    "boto3": "botocore",
    "urllib3": "urllib3",
    "httplib2": "httplib2",
    "tornado": "tornado",
    "aiohttp": "aiohttp",
    "httpx": "httpx",
    "httpx2": "httpx2",
}


@functools.cache
def absent_http_libraries() -> frozenset[str]:
    """The patch groups whose library is not installed (looked up once per process)."""
    return frozenset(
        group for group, module in _PATCH_GROUPS.items() if importlib.util.find_spec(module) is None
    )


class AgentCassette(VcrCassette):  # type: ignore[misc]
    """A vcrpy cassette that matches LLM requests semantically and reports misses clearly."""

    def __init__(self, path: str, *, agentops_owner: Cassette, **kwargs: Any) -> None:
        super().__init__(path, **kwargs)
        self._owner = agentops_owner
        self._loading = False
        #: vcrpy's patch groups whose library is not installed: vcrpy would try to import
        #: each of them for every test, and skip it.
        self.skip_patchers = absent_http_libraries()

    def _load(self) -> None:
        if self._owner.mode == "rewrite":
            return  # start from nothing; the file is replaced at the end
        self._loading = True
        try:
            super()._load()
        finally:
            self._loading = False

    def _responses(self, request: Request) -> Any:
        redactor = self._owner.redactor
        key = request_key(request, redactor)
        for index, (stored, response) in enumerate(self.data):
            if request_key(stored, redactor) == key:
                yield index, response

    def can_play_response_for(self, request: Request) -> bool:
        request._agentops_started = (time.time(), time.perf_counter())
        self._owner.redactor.remember_headers(request.headers)
        if (
            self.record_mode != RecordMode.ALL
            and (self.rewound or self.allow_playback_repeats)
            and request in self
        ):
            return True
        if self.write_protected:
            raise self._owner.miss(request, self)
        return False

    def play_response(self, request: Request) -> Any:
        response = super().play_response(request)
        self._owner.observe(request, response)
        return response

    def append(self, request: Request, response: Any) -> None:
        before = len(self.data)
        super().append(request, response)
        if not self._loading and len(self.data) > before:
            self._owner.observe(request, self.data[-1][1])


class Cassette:
    """The cassette of one test (the ``agentops_cassette`` fixture's value).

    Attributes: ``path``, ``mode`` (the record mode in effect), ``recording`` (whether new
    interactions may be recorded, i.e. live calls can happen), ``misses`` (messages of
    requests and tool calls that were not found).
    """

    def __init__(
        self,
        path: Path,
        mode: str,
        *,
        nodeid: str,
        real_tools: frozenset[str] = frozenset(),
        replay_tools: bool = True,
        capture_http: bool = True,
        redact_hook: Callable[[dict[str, Any]], None] | None = None,
        display_path: str | None = None,
        strict_tools: bool = False,
        interrupted: Callable[[], bool] = lambda: False,
        left_files: LeftTemporaryFiles | None = None,
    ) -> None:
        self.path = path
        self.mode = mode
        self.nodeid = nodeid
        self.display_path = display_path or str(path)
        self.real_tools = real_tools
        self.replay_tools = replay_tools
        self.capture_http = capture_http
        self.strict_tools = strict_tools
        #: Whether the run was interrupted (Ctrl-C): then nothing is saved.
        self._interrupted = interrupted
        self.redactor = Redactor()
        self._redact_hook = redact_hook
        self._left_files = left_files or LeftTemporaryFiles()
        self.loaded_tools: list[RecordedToolCall] = []
        self.tape: ToolTape | None = None
        self.misses: list[str] = []
        self.written = False
        self.existed = False
        self._context: Any = None
        self.cassette: AgentCassette | None = None

    # -- lifecycle --
    def __enter__(self) -> Cassette:
        self._left_files.remove(self.path)  # left by a write that was killed
        vcr_mode = {
            "none": RecordMode.NONE,
            "once": RecordMode.ONCE,
            "new_episodes": RecordMode.NEW_EPISODES,
            "all": RecordMode.ALL,
            "rewrite": RecordMode.ALL,
        }[self.mode]
        self._context = CassetteContextDecorator.from_args(
            AgentCassette,
            path=str(self.path),
            agentops_owner=self,
            persister=Persister(self),
            serializer=Serializer,
            record_mode=vcr_mode,
            match_on=(llm_request,),
            before_record_response=decode_body,
            record_on_exception=True,
        )
        self.cassette = self._context.__enter__()
        self.existed = bool(self.cassette.rewound)
        self.tape = self._make_tape()
        return self

    def _make_tape(self) -> ToolTape | None:
        if not self.replay_tools:
            return None
        replay = self.existed and self.mode in ("none", "once", "new_episodes")
        record = self.recording
        if not replay and not record:
            return None  # nothing recorded and nothing to record: tools run for real
        return ToolTape(
            self.loaded_tools,
            replay=replay,
            record=record,
            real_tools=self.real_tools,
            on_miss=self.tool_miss,
            redact=self.redactor.value,
            on_changed=self.tool_changed,
        )

    def __exit__(self, *exc_info: Any) -> None:
        cassette = self.cassette
        interrupted = self._interrupted()
        if cassette is not None:
            if interrupted:
                cassette.dirty = False  # a partial recording must not replace the file
            elif self.tape is not None and self.tape.dirty:
                cassette.dirty = True  # tool calls alone are worth saving
        try:
            self._context.__exit__(*exc_info)
        finally:
            self._context = None
        if (
            not interrupted
            and self.mode == "rewrite"
            and not self.written
            and self.path.is_file()
            and cassette is not None
            and not cassette.data
        ):
            self.path.unlink()  # rewritten to nothing: the old recording is stale

    @property
    def recording(self) -> bool:
        """Whether requests not in the cassette go to the real server (and get recorded)."""
        if self.mode in ("new_episodes", "all", "rewrite"):
            return True
        return self.mode == "once" and not self.existed

    @property
    def replaying(self) -> bool:
        """Whether recorded interactions are played back."""
        return self.existed and self.mode in ("none", "once", "new_episodes")

    @property
    def interactions(self) -> int:
        return len(self.cassette.data) if self.cassette is not None else 0

    # -- capture --
    def observe(self, request: Request, response: dict[str, Any]) -> None:
        """Hand an interaction (recorded or replayed) to the wire capture."""
        if self.capture_http:
            observe_interaction(request, response)

    # -- secrets --
    def redact_interaction(
        self, request: Request, response: dict[str, Any]
    ) -> dict[str, Any] | None:
        redactor = self.redactor
        req = compat.convert_to_unicode(copy.deepcopy(request._to_dict()))
        req["uri"] = redactor.url(req["uri"])
        req["headers"] = redactor.headers(header_values(req.get("headers") or {}))
        if isinstance(req.get("body"), str):
            req["body"] = redactor.text(req["body"])
        resp = compat.convert_to_unicode(copy.deepcopy(response))
        resp["headers"] = redactor.headers(header_values(resp.get("headers") or {}))
        body = resp.get("body")
        if isinstance(body, dict) and isinstance(body.get("string"), str):
            body["string"] = redactor.text(body["string"])
        interaction = {"request": req, "response": resp}
        if self._redact_hook is not None:
            self._redact_hook(interaction)
        return interaction

    # -- misses --
    def _record_hint(self) -> str:
        if not self.existed:
            return (
                f"No cassette for {self.nodeid} (looked in {self.display_path}). Re-run with "
                "--agentops-record=once to record it (this calls the real model)."
            )
        return (
            "Re-run with --agentops-record=new_episodes to add it (this calls the real model), "
            "or --agentops-record=rewrite to record the whole test again."
        )

    def miss(self, request: Request, cassette: AgentCassette) -> BaseException:
        lines = [f"Cassette miss: {describe_request(request)} is not in {self.display_path}."]
        where = caller()
        if where:
            lines.append(f"Requested at {where}")
        if self.existed:
            alike = closest(request, cassette.data, cassette.play_counts, self.redactor)
            if alike:
                lines.extend(alike)
            else:
                lines.append(f"The cassette has no request to {request.method} that URL.")
        lines.append(self._record_hint())
        return self.fail("\n".join(lines))

    def fail(self, message: str) -> BaseException:
        """Record a miss (a request, a tool call, a blocked connection) and return the
        exception that fails the test where it happened."""
        self.misses.append(message)
        recorder = ACTIVE.recorder
        if recorder is not None:  # litellm will never report how the call ended
            recorder.abandon_pending(message.splitlines()[0])
        return pytest.fail.Exception(message, pytrace=False)

    def tool_changed(self, name: str) -> BaseException | None:
        """A tool replays results recorded from other code: a warning, or with
        ``--agentops-strict-tools`` the exception that fails the test."""
        message = (
            f"the code of @tool {name} changed since its results were recorded in "
            f"{self.display_path}: the replayed results may not be what it returns now. "
            "Record them again with --agentops-record=rewrite, or let the tool run for real: "
            f"@tool(replay=False) or @pytest.mark.agentops_cassette(real_tools=[{name!r}])."
        )
        if self.strict_tools:
            return self.fail(f"{message} (Failing: --agentops-strict-tools.)")
        from pytest_agentops.errors import AgentopsWarning

        warnings.warn(AgentopsWarning(message), stacklevel=2)
        return None

    def tool_miss(
        self, name: str, arguments: dict[str, Any], unplayed: list[RecordedToolCall]
    ) -> BaseException:
        lines = [
            f"Tool call not recorded: {call_text(name, arguments)} is not in {self.display_path}."
        ]
        where = caller()
        if where:
            lines.append(f"Called at {where}")
        same = [c for c in unplayed if c.name == name]
        if same:
            lines.append(
                "Recorded and not replayed yet: "
                + ", ".join(call_text(c.name, c.arguments) for c in same[:3])
            )
        lines.append(
            "Re-run with --agentops-record=new_episodes to record it (this runs the real tool), "
            "or let this tool run for real: @tool(replay=False), or "
            f"@pytest.mark.agentops_cassette(real_tools=[{name!r}])."
        )
        return self.fail("\n".join(lines))
