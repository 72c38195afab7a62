"""vcrpy cassettes for agent tests: LLM-aware matching, clear misses, redaction, tool tapes.

One :class:`Cassette` per test wraps a vcrpy cassette (:class:`AgentCassette`) and is
active from the test's first fixture to its teardown:

- **matching** (:func:`request_key`): method, host (the port only for non-loopback hosts),
  path, query (secrets blanked) and the JSON body compared semantically: key order ignored,
  volatile SDK fields (:data:`VOLATILE_BODY_KEYS`) dropped; headers are never compared.
  Identical requests replay in recorded order.
- **misses** raise pytest's failure exception, which is a ``BaseException``: the openai SDK
  and litellm retry (and sleep) on any ``Exception``, so vcrpy's own error would surface
  seconds later as "Connection error".  The message names the request, the closest recording
  and how they differ, and the flag that records it.
- **secrets** never reach the file: credential headers are dropped, keys in URLs and bodies
  (by shape, by the values of secret environment variables and of the auth headers seen) are
  replaced, then ``pytest_agentops_redact`` runs; compressed bodies are stored decoded.
- **the tool tape** (:mod:`.tool_replay`) is saved in the same file, under ``agentops``.
- **HTTP capture**: each LLM interaction recorded or replayed is handed to the active
  recorder as an ``llm`` step (:mod:`.http_capture`).

Files are written atomically, once per test, so xdist workers and killed runs never leave a
torn cassette.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import yaml
from pydantic import ValidationError
from vcr.cassette import Cassette as VcrCassette
from vcr.cassette import CassetteContextDecorator
from vcr.filters import decode_response
from vcr.persisters.filesystem import CassetteNotFoundError
from vcr.record_mode import RecordMode
from vcr.request import Request
from vcr.serializers import compat, yamlserializer

from . import _state
from ._io import atomic_write_text
from .errors import AgentopsError
from .http_capture import api_of, llm_step_fields
from .network import is_loopback_host
from .redact import PLACEHOLDER, SECRET_PARAMS, Redactor
from .tool_replay import RecordedToolCall, ToolTape, ToolTapeFile

#: Request-body fields that SDKs fill with per-run or per-user values; not part of a match.
VOLATILE_BODY_KEYS = frozenset(
    {
        "user",
        "metadata",
        "stream_options",
        "request_id",
        "client_request_id",
        "safety_identifier",
        "prompt_cache_key",
        "litellm_call_id",
        "litellm_session_id",
    }
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_CASSETTE_VERSION = 1


class CassetteFileError(AgentopsError, ValueError):
    """A cassette file exists but cannot be used: names the file, the problem and the fix."""


# ---- matching ------------------------------------------------------------------------------


class RequestKey(tuple[str, str, str, str, str]):
    """``(method, host, path, query, body)`` with everything volatile normalised away."""

    __slots__ = ()


def _parse_body(body: Any) -> Any:
    if body is None:
        return None
    if hasattr(body, "read"):  # vcrpy keeps file bodies as BytesIO
        body = body.getvalue() if hasattr(body, "getvalue") else b""
    if isinstance(body, (bytes, bytearray)):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            return bytes(body)
    if not isinstance(body, str) or not body:
        return body or None
    try:
        return json.loads(body)
    except ValueError:
        return body


def semantic_body(body: Any, redactor: Redactor | None = None) -> Any:
    """The request body as compared: parsed JSON without volatile fields, secrets blanked."""
    data = _parse_body(body)
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k not in VOLATILE_BODY_KEYS}
    if redactor is not None and not isinstance(data, bytes):
        data = redactor.value(data)
    return data


def request_key(request: Request, redactor: Redactor | None = None) -> RequestKey:
    """The match key of a request (cached on the request object)."""
    cached: RequestKey | None = getattr(request, "_agentops_key", None)
    if cached is not None:
        return cached
    parts = urlsplit(request.uri)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port and not is_loopback_host(host) and port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{port}"
    query = sorted(
        (k, PLACEHOLDER if k.lower() in SECRET_PARAMS else v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    )
    body = semantic_body(request.body, redactor)
    if isinstance(body, bytes):
        body_key = "bytes:" + hashlib.sha256(body).hexdigest()
    else:
        body_key = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    key = RequestKey(
        (
            request.method.upper(),
            host,
            parts.path.rstrip("/") or "/",
            json.dumps(query),
            body_key,
        )
    )
    request._agentops_key = key
    return key


def llm_request(r1: Request, r2: Request) -> bool:
    """vcrpy matcher: the two requests are the same call (see :func:`request_key`)."""
    return request_key(r1) == request_key(r2)


def describe_request(request: Request) -> str:
    """``POST http://host/v1/chat/completions (model gpt-4o-mini, 3 messages, digest ab12cd34)``."""
    parts = urlsplit(request.uri)
    host = parts.hostname or ""
    if parts.port and not is_loopback_host(host):
        host = f"{host}:{parts.port}"
    where = f"{request.method.upper()} {parts.scheme}://{host}{parts.path}"
    data = semantic_body(request.body)
    if not isinstance(data, dict):
        return where
    facts = []
    if data.get("model"):
        facts.append(f"model {data['model']}")
    conversation = data.get("messages", data.get("input"))
    if isinstance(conversation, list):
        facts.append(f"{len(conversation)} message{'s' if len(conversation) != 1 else ''}")
    if conversation is not None:
        digest = hashlib.sha256(
            json.dumps(conversation, sort_keys=True, default=str).encode()
        ).hexdigest()[:8]
        facts.append(f"digest {digest}")
    if data.get("stream"):
        facts.append("streamed")
    return f"{where} ({', '.join(facts)})" if facts else where


def differences(recorded: Any, now: Any, path: str = "", limit: int = 4) -> list[str]:
    """Up to ``limit`` lines ``path: recorded X, now Y`` between two JSON values."""
    out: list[str] = []

    def walk(a: Any, b: Any, where: str) -> None:
        if len(out) >= limit or a == b:
            return
        if isinstance(a, dict) and isinstance(b, dict):
            for key in [*a, *(k for k in b if k not in a)]:
                sub = f"{where}.{key}" if where else str(key)
                if key not in b:
                    out.append(f"{sub}: recorded {_short(a[key])}, now absent")
                elif key not in a:
                    out.append(f"{sub}: absent when recorded, now {_short(b[key])}")
                else:
                    walk(a[key], b[key], sub)
                if len(out) >= limit:
                    return
            return
        if isinstance(a, list) and isinstance(b, list):
            for index, (x, y) in enumerate(zip(a, b, strict=False)):
                walk(x, y, f"{where}[{index}]")
            if len(a) != len(b) and len(out) < limit:
                out.append(f"{where or 'body'}: recorded {len(a)} items, now {len(b)}")
            return
        out.append(f"{where or 'body'}: recorded {_short(a)}, now {_short(b)}")

    walk(recorded, now, path)
    return out


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, bytes) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---- files ---------------------------------------------------------------------------------


def _header_values(headers: dict[str, Any]) -> dict[str, list[Any]]:
    return {k: (v if isinstance(v, list) else [v]) for k, v in headers.items()}


class _Persister:
    """vcrpy persister: atomic writes, readable errors, the tool tape in the same file."""

    def __init__(self, owner: Cassette) -> None:
        self.owner = owner

    def load_cassette(self, cassette_path: str, serializer: Any) -> tuple[list[Any], list[Any]]:
        path = Path(cassette_path)
        if not path.is_file():
            raise CassetteNotFoundError()
        shown = self.owner.display_path
        fix = "Delete it and record it again with --agentops-record=rewrite."
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CassetteFileError(f"{shown}: cannot read the cassette ({exc}). {fix}") from None
        if not text.strip():
            raise CassetteNotFoundError()
        try:
            data = serializer.deserialize(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise CassetteFileError(
                f"{shown}{where}: not a valid YAML cassette: {problem}. {fix}"
            ) from None
        except ValueError as exc:
            raise CassetteFileError(f"{shown}: {exc}. {fix}") from None
        if not isinstance(data, dict) or not isinstance(data.get("interactions"), list):
            raise CassetteFileError(
                f"{shown}: not a cassette (expected a mapping with an `interactions` list). {fix}"
            )
        requests, responses = [], []
        for index, interaction in enumerate(data["interactions"]):
            try:
                request = Request._from_dict(interaction["request"])
                response = compat.convert_to_bytes(interaction["response"])
                response["status"]["code"]  # shape check
            except (KeyError, TypeError) as exc:
                raise CassetteFileError(
                    f"{shown}: interaction #{index + 1} is malformed (missing {exc}). {fix}"
                ) from None
            requests.append(request)
            responses.append(response)
        section = data.get("agentops")
        if section is not None:
            try:
                self.owner.loaded_tools = ToolTapeFile.model_validate(section).tools
            except ValidationError as exc:
                first = exc.errors()[0]
                field = ".".join(str(p) for p in first["loc"])
                raise CassetteFileError(
                    f"{shown}: field `agentops.{field}`: {first['msg']}. {fix}"
                ) from None
        return requests, responses

    def save_cassette(
        self, cassette_path: str, cassette_dict: dict[str, Any], serializer: Any
    ) -> None:
        owner = self.owner
        interactions = []
        for request, response in zip(
            cassette_dict["requests"], cassette_dict["responses"], strict=True
        ):
            saved = owner.redact_interaction(request, response)
            if saved is not None:
                interactions.append(saved)
        data: dict[str, Any] = {"version": _CASSETTE_VERSION, "interactions": interactions}
        tape = owner.tape
        if tape is not None and (tape.recorded or tape.new):
            data["agentops"] = tape.to_file().model_dump(mode="json")
        atomic_write_text(cassette_path, serializer.serialize(data))
        owner.written = True


class _Serializer:
    """YAML as vcrpy reads it, written with keys in their recorded order (vcrpy sorts them,
    which reorders replayed tool results and so changes what the agent sends next)."""

    _Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

    @staticmethod
    def deserialize(text: str) -> Any:
        return yamlserializer.deserialize(text)

    @classmethod
    def serialize(cls, data: Any) -> str:
        return yaml.dump(data, Dumper=cls._Dumper, sort_keys=False, allow_unicode=True, width=100)


def _decode_body(response: dict[str, Any]) -> dict[str, Any]:
    """Store bodies decompressed (httpx records them compressed, aiohttp already decoded)."""
    headers = {k.lower(): v for k, v in response.get("headers", {}).items()}
    if "content-encoding" not in headers:
        return response
    try:
        return decode_response(response)  # type: ignore[no-any-return]
    except (zlib.error, OSError, ValueError, TypeError):
        response = copy.deepcopy(response)
        response["headers"] = {
            k: v
            for k, v in response["headers"].items()
            if k.lower() not in ("content-encoding", "content-length")
        }
        return response


class AgentCassette(VcrCassette):  # type: ignore[misc]
    """A vcrpy cassette that matches LLM requests semantically and reports misses clearly."""

    def __init__(self, path: str, *, agentops_owner: Cassette, **kwargs: Any) -> None:
        super().__init__(path, **kwargs)
        self._owner = agentops_owner
        self._loading = False

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


# ---- one test's cassette -------------------------------------------------------------------


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
    ) -> None:
        self.path = path
        self.mode = mode
        self.nodeid = nodeid
        self.display_path = display_path or str(path)
        self.real_tools = real_tools
        self.replay_tools = replay_tools
        self.capture_http = capture_http
        self.redactor = Redactor()
        self._redact_hook = redact_hook
        self.loaded_tools: list[RecordedToolCall] = []
        self.tape: ToolTape | None = None
        self.misses: list[str] = []
        self.written = False
        self.existed = False
        self._context: Any = None
        self.cassette: AgentCassette | None = None

    # -- lifecycle --
    def __enter__(self) -> Cassette:
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
            persister=_Persister(self),
            serializer=_Serializer,
            record_mode=vcr_mode,
            match_on=(llm_request,),
            before_record_response=_decode_body,
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
        )

    def __exit__(self, *exc_info: Any) -> None:
        cassette = self.cassette
        if cassette is not None and self.tape is not None and self.tape.dirty:
            cassette.dirty = True  # tool calls alone are worth saving
        try:
            self._context.__exit__(*exc_info)
        finally:
            self._context = None
        if (
            self.mode == "rewrite"
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
        recorder = _state.ACTIVE.recorder
        if recorder is None or not self.capture_http or _state.CAPTURE_OFF.get():
            return
        if api_of(request.method, request.uri, request.headers) is None:
            return
        status = response.get("status") or {}
        fields = llm_step_fields(
            request.method,
            request.uri,
            request.headers,
            request.body,
            int(status.get("code") or 0),
            response.get("headers"),
            (response.get("body") or {}).get("string"),
        )
        if fields is None:
            return
        wall0, t0 = getattr(request, "_agentops_started", (time.time(), time.perf_counter()))
        recorder._http_llm_call(fields, wall0, (time.perf_counter() - t0) * 1000)

    # -- secrets --
    def redact_interaction(
        self, request: Request, response: dict[str, Any]
    ) -> dict[str, Any] | None:
        redactor = self.redactor
        req = compat.convert_to_unicode(copy.deepcopy(request._to_dict()))
        req["uri"] = redactor.url(req["uri"])
        req["headers"] = redactor.headers(_header_values(req.get("headers") or {}))
        if isinstance(req.get("body"), str):
            req["body"] = redactor.text(req["body"])
        resp = compat.convert_to_unicode(copy.deepcopy(response))
        resp["headers"] = redactor.headers(_header_values(resp.get("headers") or {}))
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
        if self.existed:
            closest = self._closest(request, cassette)
            if closest:
                lines.extend(closest)
            else:
                lines.append(f"The cassette has no request to {request.method} that URL.")
        lines.append(self._record_hint())
        return self.fail("\n".join(lines))

    def fail(self, message: str) -> BaseException:
        """Record a miss (a request, a tool call, a blocked connection) and return the
        exception that fails the test where it happened."""
        self.misses.append(message)
        recorder = _state.ACTIVE.recorder
        if recorder is not None:  # litellm will never report how the call ended
            recorder._abandon_pending(message.splitlines()[0])
        return pytest.fail.Exception(message, pytrace=False)

    def _closest(self, request: Request, cassette: AgentCassette) -> list[str]:
        key = request_key(request, self.redactor)
        best: tuple[int, int, int] | None = None
        best_lines: list[str] = []
        now = semantic_body(request.body, self.redactor)
        for index, (stored, _) in enumerate(cassette.data):
            other = request_key(stored, self.redactor)
            if other[:3] != key[:3]:
                continue
            played = cassette.play_counts[index] > 0
            diff = differences(semantic_body(stored.body, self.redactor), now, limit=50)
            if other == key and played:
                diff = ["already played: the test makes this request more often than recorded"]
            if other[3] != key[3]:
                diff.insert(0, f"query: recorded {other[3]}, now {key[3]}")
            rank = (len(diff), int(played), index)
            if best is None or rank < best:
                best = rank
                state = "already played" if played else "not played yet"
                best_lines = [
                    f"Closest recorded request: #{index + 1} of {len(cassette.data)} ({state}): "
                    f"{describe_request(stored)}",
                    *(f"  differs in {line}" for line in diff[:4]),
                ]
                if len(diff) > 4:
                    best_lines.append(f"  ... and {len(diff) - 4} more differences")
        return best_lines

    def tool_miss(
        self, name: str, arguments: dict[str, Any], unplayed: list[RecordedToolCall]
    ) -> BaseException:
        call = f"{name}({_args_text(arguments)})"
        lines = [f"Tool call not recorded: {call} is not in {self.display_path}."]
        same = [c for c in unplayed if c.name == name]
        if same:
            lines.append(
                "Recorded and not replayed yet: "
                + ", ".join(f"{c.name}({_args_text(c.arguments)})" for c in same[:3])
            )
        lines.append(
            "Re-run with --agentops-record=new_episodes to record it (this runs the real tool), "
            "or let this tool run for real: @tool(replay=False), or "
            f"@pytest.mark.agentops_cassette(real_tools=[{name!r}])."
        )
        return self.fail("\n".join(lines))


def _args_text(arguments: dict[str, Any]) -> str:
    text = ", ".join(f"{k}={v!r}" for k, v in arguments.items())
    return text if len(text) <= 120 else text[:117] + "..."
