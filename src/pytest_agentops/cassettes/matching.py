"""Which recorded request answers a request, and what to say when none does.

A request matches a recording with the same :func:`request_key`: method, host (the port only
for non-loopback hosts), path, query (secrets blanked) and the JSON body compared semantically
(key order ignored, volatile SDK fields in :data:`VOLATILE_BODY_KEYS` dropped).  Headers are
never compared.  A miss is explained by :func:`describe_request`, :func:`closest` and
:func:`differences`.
"""

from __future__ import annotations

import hashlib
import json
import linecache
import os
import sys
import sysconfig
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from vcr.request import Request

from pytest_agentops._util import NOT_JSON, body_text, is_loopback_host, parse_json, truncate
from pytest_agentops.redact import PLACEHOLDER, SECRET_PARAMS, Redactor

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


class RequestKey(tuple[str, str, str, str, str]):
    """``(method, host, path, query, body)`` with everything volatile normalised away."""

    __slots__ = ()


def semantic_body(body: Any, redactor: Redactor | None = None) -> Any:
    """The request body as compared: parsed JSON without volatile fields, secrets blanked."""
    data = body_text(body)
    if isinstance(data, str):
        parsed = parse_json(data)
        data = data if parsed is NOT_JSON else parsed
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
    return truncate(text, limit)


def closest(
    request: Request, recorded: list[tuple[Request, Any]], play_counts: Any, redactor: Redactor
) -> list[str]:
    """For a miss: the recorded request most like ``request`` (same method, host and path;
    fewest differences; unplayed first), and how the two differ.  Empty when none is alike."""
    key = request_key(request, redactor)
    best: tuple[int, int, int] | None = None
    best_lines: list[str] = []
    now = semantic_body(request.body, redactor)
    for index, (stored, _) in enumerate(recorded):
        other = request_key(stored, redactor)
        if other[:3] != key[:3]:
            continue
        played = play_counts[index] > 0
        diff = differences(semantic_body(stored.body, redactor), now, limit=50)
        if other == key and played:
            diff = ["already played: the test makes this request more often than recorded"]
        if other[3] != key[3]:
            diff.insert(0, f"query: recorded {other[3]}, now {key[3]}")
        rank = (len(diff), int(played), index)
        if best is None or rank < best:
            best = rank
            state = "already played" if played else "not played yet"
            best_lines = [
                f"Closest recorded request: #{index + 1} of {len(recorded)} ({state}): "
                f"{describe_request(stored)}",
                *(f"  differs in {line}" for line in diff[:4]),
            ]
            if len(diff) > 4:
                best_lines.append(f"  ... and {len(diff) - 4} more differences")
    return best_lines


def caller() -> str | None:
    """Where the agent's own code is on the stack: ``file:line in function: source``.

    The innermost frame that belongs neither to this plugin, nor to an installed library, nor
    to the standard library (the agent's code, or else the test).
    """
    here = str(Path(__file__).resolve().parents[1])
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(("<", here, *_LIBRARY_DIRS)):
            line = linecache.getline(filename, frame.f_lineno).strip()
            try:
                shown = os.path.relpath(filename)
            except ValueError:  # another drive (Windows)
                shown = filename
            if shown.startswith(".."):
                shown = filename
            return f"{shown}:{frame.f_lineno} in {frame.f_code.co_name}: {line}"
        frame = frame.f_back  # type: ignore[assignment]
    return None


_LIBRARY_DIRS = tuple(
    {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
)


def call_text(name: str, arguments: dict[str, Any]) -> str:
    """A tool call as a miss message shows it: ``lookup(order_id='A1')``, cut to 120."""
    return f"{name}({truncate(', '.join(f'{k}={v!r}' for k, v in arguments.items()), 120)})"
