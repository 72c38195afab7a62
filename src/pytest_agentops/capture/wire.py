"""LLM calls read off HTTP traffic: OpenAI chat completions and Responses, Anthropic messages.

The cassette layer sees every request an agent makes and the response it gets (recorded live or
replayed) and hands each one to :func:`observe`, which reports the LLM calls among them to the
active recorder.  :func:`llm_step_fields` turns one interaction into the fields of an ``llm``
step (model, input messages, output message, requested tool calls, tokens, response id), for
plain JSON and for server-sent-event streams, so an agent written against the raw openai or
anthropic SDK is recorded with no instrumentation.  Anything else returns ``None``.

Pure functions over bytes and dicts; no HTTP library is imported.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from pytest_agentops._util import parse_json
from pytest_agentops.trajectory.openai_format import chat_tool_call, from_anthropic, parse_arguments

from .active import ACTIVE, CAPTURE_OFF
from .fields import llm_fields

CHAT = "openai.chat"
RESPONSES = "openai.responses"
ANTHROPIC = "anthropic.messages"


def api_of(method: str, url: str, headers: Mapping[str, Any] | None = None) -> str | None:
    """Which LLM API a request speaks, judged by method and path (``None``: not one we read)."""
    if method.upper() != "POST":
        return None
    path = urlsplit(url).path.rstrip("/")
    if path.endswith("/chat/completions"):
        return CHAT
    if path.endswith("/responses"):
        return RESPONSES
    if path.endswith("/messages") and (
        path.endswith("/v1/messages") or _header(headers, "anthropic-version") is not None
    ):
        return ANTHROPIC
    return None


def _header(headers: Mapping[str, Any] | None, name: str) -> Any:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == name:
            return value[0] if isinstance(value, list) and value else value
    return None


#: Marks the fields of a streamed chat completion that carried no usage.
NO_USAGE = "no_usage"


def _warn_no_usage(model: str) -> None:
    from pytest_agentops.errors import AgentopsWarning

    warnings.warn(
        AgentopsWarning(
            f"a streamed chat completion ({model}) carried no usage: its tokens and cost are "
            "unknown. Ask for them: stream_options={'include_usage': True} (openai SDK), "
            "ChatOpenAI(stream_usage=True) (LangChain)."
        ),
        stacklevel=2,
    )


def observe_interaction(request: Any, response: Mapping[str, Any]) -> None:
    """:func:`observe` for a vcrpy request (its start time kept on it as
    ``_agentops_started`` when the cassette first saw it)."""
    observe(
        request.method,
        request.uri,
        request.headers,
        request.body,
        response,
        getattr(request, "_agentops_started", None),
    )


def observe(
    method: str,
    url: str,
    request_headers: Mapping[str, Any] | None,
    request_body: Any,
    response: Mapping[str, Any],
    started: tuple[float, float] | None = None,
) -> None:
    """Report one HTTP interaction (a vcrpy response dict) to the active recorder, if it is an
    LLM API call.  ``started``: the request's wall-clock and ``perf_counter`` start times."""
    recorder = ACTIVE.recorder
    if recorder is None or CAPTURE_OFF.get() or api_of(method, url, request_headers) is None:
        return
    status = response.get("status") or {}
    fields = llm_step_fields(
        method,
        url,
        request_headers,
        request_body,
        int(status.get("code") or 0),
        response.get("headers"),
        (response.get("body") or {}).get("string"),
    )
    if fields is None:
        return
    if fields.pop(NO_USAGE, False) and recorder.first_time(f"no usage: {fields.get('model')}"):
        _warn_no_usage(str(fields.get("model")))
    wall0, t0 = started or (time.time(), time.perf_counter())
    recorder.wire_llm_call(llm_fields(**fields), wall0, (time.perf_counter() - t0) * 1000)


def sse_events(body: bytes | str) -> Iterator[tuple[str | None, Any]]:
    """``(event name, parsed data)`` for each server-sent event carrying JSON data."""
    text = body.decode("utf-8", "replace") if isinstance(body, (bytes, bytearray)) else body
    for block in text.replace("\r\n", "\n").split("\n\n"):
        event: str | None = None
        data: list[str] = []
        for line in block.split("\n"):
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip())
        if not data:
            continue
        payload = "\n".join(data)
        if payload.strip() == "[DONE]":
            continue
        try:
            yield event, json.loads(payload)
        except ValueError:
            continue


def _is_stream(body: bytes | str, headers: Mapping[str, Any] | None) -> bool:
    content_type = str(_header(headers, "content-type") or "")
    if "text/event-stream" in content_type:
        return True
    head = body[:16].lstrip() if body else b""
    return head.startswith((b"data:", b"event:")) if isinstance(head, bytes) else False


def llm_step_fields(
    method: str,
    url: str,
    request_headers: Mapping[str, Any] | None,
    request_body: Any,
    status: int,
    response_headers: Mapping[str, Any] | None,
    response_body: bytes | str | None,
) -> dict[str, Any] | None:
    """The ``LLMCall`` fields of one interaction, or ``None`` if it is not an LLM API call."""
    api = api_of(method, url, request_headers)
    if api is None:
        return None
    request = parse_json(request_body)
    if not isinstance(request, dict):
        return None
    body = response_body or b""
    fields: dict[str, Any] = {
        "model": str(request.get("model") or "unknown"),
        "provider": "anthropic" if api == ANTHROPIC else "openai",
        "input_messages": _input_messages(api, request),
    }
    if status >= 400:
        fields["error"] = _error_text(status, body)
        return fields
    if _is_stream(body, response_headers):
        parsed = _from_stream(api, body)
    else:
        data = parse_json(body)
        parsed = _from_json(api, data) if isinstance(data, dict) else None
    if parsed is None:
        fields["error"] = f"could not read the {api} response (HTTP {status})"
        return fields
    fields.update(parsed)
    return fields


def _error_text(status: int, body: bytes | str) -> str:
    data = parse_json(body)
    message = None
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict):
            message = error.get("message")
        elif isinstance(error, str):
            message = error
        message = message or data.get("message")
    if not message:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
        message = text.strip()[:300] or "no body"
    return f"HTTP {status}: {message}"


# ---- requests ------------------------------------------------------------------------------


def _input_messages(api: str, request: dict[str, Any]) -> list[dict[str, Any]]:
    if api == CHAT:
        messages = request.get("messages")
        return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []
    if api == ANTHROPIC:
        return from_anthropic(request.get("messages") or [], request.get("system"))
    return _responses_input(request)


def _responses_input(request: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if request.get("instructions"):
        out.append({"role": "system", "content": request["instructions"]})
    items = request.get("input")
    if isinstance(items, str):
        return [*out, {"role": "user", "content": items}]
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "function_call":
            call = chat_tool_call(item.get("call_id"), item.get("name"), item.get("arguments"))
            if out and out[-1].get("role") == "assistant" and out[-1].get("tool_calls"):
                out[-1]["tool_calls"].append(call)
            else:
                out.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            out.append(
                {"role": "tool", "tool_call_id": item.get("call_id"), "content": item.get("output")}
            )
        elif "role" in item:
            out.append({"role": item["role"], "content": _responses_text(item.get("content"))})
    return out


def _responses_text(content: Any) -> Any:
    if isinstance(content, list):
        texts = [
            b.get("text")
            for b in content
            if isinstance(b, dict) and b.get("type") in ("input_text", "output_text", "text")
        ]
        if len(texts) == len(content):
            return "".join(t or "" for t in texts)
    return content


# ---- responses -----------------------------------------------------------------------------


def _result(
    response_id: Any,
    model: Any,
    text: str | None,
    tool_calls: list[dict[str, Any]],
    input_tokens: Any,
    output_tokens: Any,
    cached_tokens: Any,
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if tool_calls:
        message["tool_calls"] = tool_calls
    out: dict[str, Any] = {
        "output_message": message,
        "requested_tool_calls": [
            {
                "id": c.get("id"),
                "name": str(c["function"].get("name") or ""),
                "arguments": parse_arguments(c["function"].get("arguments")),
            }
            for c in tool_calls
        ],
        "input_tokens": int(input_tokens or 0),
        "output_tokens": int(output_tokens or 0),
        "cached_tokens": int(cached_tokens or 0),
        "response_id": str(response_id) if response_id else None,
    }
    if model:
        out["model"] = str(model)
    return out


def _from_json(api: str, data: dict[str, Any]) -> dict[str, Any] | None:
    if api == CHAT:
        choices = data.get("choices") or []
        message = choices[0].get("message") if choices and isinstance(choices[0], dict) else None
        if not isinstance(message, dict):
            return None
        usage = data.get("usage") or {}
        details = usage.get("prompt_tokens_details") or {}
        calls = [c for c in message.get("tool_calls") or [] if isinstance(c, dict)]
        return _result(
            data.get("id"),
            data.get("model"),
            message.get("content"),
            [chat_tool_call(c.get("id"), *_fn(c)) for c in calls],
            usage.get("prompt_tokens"),
            usage.get("completion_tokens"),
            details.get("cached_tokens"),
        )
    if api == ANTHROPIC:
        if data.get("type") == "error":
            return None
        blocks = [b for b in data.get("content") or [] if isinstance(b, dict)]
        usage = data.get("usage") or {}
        return _result(
            data.get("id"),
            data.get("model"),
            "".join(b.get("text", "") for b in blocks if b.get("type") == "text") or None,
            [
                chat_tool_call(b.get("id"), b.get("name"), b.get("input"))
                for b in blocks
                if b.get("type") == "tool_use"
            ],
            usage.get("input_tokens"),
            usage.get("output_tokens"),
            usage.get("cache_read_input_tokens"),
        )
    return _from_responses(data)


def _fn(call: dict[str, Any]) -> tuple[Any, Any]:
    fn = call.get("function") or {}
    return fn.get("name"), fn.get("arguments")


def _from_responses(data: dict[str, Any]) -> dict[str, Any] | None:
    if "output" not in data:
        return None
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for item in data.get("output") or []:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "message":
            for block in item.get("content") or []:
                if isinstance(block, dict) and block.get("type") == "output_text":
                    texts.append(str(block.get("text", "")))
        elif item.get("type") == "function_call":
            calls.append(
                chat_tool_call(item.get("call_id"), item.get("name"), item.get("arguments"))
            )
    usage = data.get("usage") or {}
    details = usage.get("input_tokens_details") or {}
    return _result(
        data.get("id"),
        data.get("model"),
        "".join(texts) or None,
        calls,
        usage.get("input_tokens"),
        usage.get("output_tokens"),
        details.get("cached_tokens"),
    )


def _from_stream(api: str, body: bytes | str) -> dict[str, Any] | None:
    events = list(sse_events(body))
    if not events:
        return None
    if api == CHAT:
        return _chat_stream([data for _, data in events if isinstance(data, dict)])
    if api == ANTHROPIC:
        return _anthropic_stream(events)
    for _, data in reversed(events):  # Responses: the final event holds the whole response
        if (
            isinstance(data, dict)
            and isinstance(data.get("response"), dict)
            and data.get("type") in ("response.completed", "response.incomplete", None)
        ):
            return _from_responses(data["response"])
    return None


def _chat_stream(chunks: list[dict[str, Any]]) -> dict[str, Any] | None:
    response_id = model = None
    text: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    usage: dict[str, Any] = {}
    for chunk in chunks:
        response_id = response_id or chunk.get("id")
        model = model or chunk.get("model")
        if isinstance(chunk.get("usage"), dict):
            usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if not isinstance(delta, dict):
                continue
            if isinstance(delta.get("content"), str):
                text.append(delta["content"])
            for part in delta.get("tool_calls") or []:
                slot = calls.setdefault(int(part.get("index", len(calls))), {"arguments": ""})
                if part.get("id"):
                    slot["id"] = part["id"]
                fn = part.get("function") or {}
                if fn.get("name"):
                    slot["name"] = fn["name"]
                if fn.get("arguments"):
                    slot["arguments"] += fn["arguments"]
    if response_id is None and not text and not calls:
        return None
    details = usage.get("prompt_tokens_details") or {}
    out = _result(
        response_id,
        model,
        "".join(text) or None,
        [
            chat_tool_call(c.get("id"), c.get("name"), c["arguments"])
            for _, c in sorted(calls.items())
        ],
        usage.get("prompt_tokens"),
        usage.get("completion_tokens"),
        details.get("cached_tokens"),
    )
    if not usage:  # the client did not ask for it (stream_options.include_usage)
        out[NO_USAGE] = True
    return out


def _anthropic_stream(events: list[tuple[str | None, Any]]) -> dict[str, Any] | None:
    response_id = model = None
    input_tokens = output_tokens = cached = 0
    blocks: dict[int, dict[str, Any]] = {}
    for _, data in events:
        if not isinstance(data, dict):
            continue
        kind = data.get("type")
        if kind == "message_start":
            message = data.get("message") or {}
            response_id, model = message.get("id"), message.get("model")
            usage = message.get("usage") or {}
            input_tokens = usage.get("input_tokens") or 0
            output_tokens = usage.get("output_tokens") or 0
            cached = usage.get("cache_read_input_tokens") or 0
        elif kind == "content_block_start":
            block = dict(data.get("content_block") or {})
            block.setdefault("text", "")
            block["json"] = ""
            blocks[int(data.get("index", len(blocks)))] = block
        elif kind == "content_block_delta":
            block = blocks.setdefault(int(data.get("index", 0)), {"type": "text", "text": ""})
            delta = data.get("delta") or {}
            if delta.get("type") == "text_delta":
                block["text"] = block.get("text", "") + str(delta.get("text", ""))
            elif delta.get("type") == "input_json_delta":
                block["json"] = block.get("json", "") + str(delta.get("partial_json", ""))
        elif kind == "message_delta":
            usage = data.get("usage") or {}
            output_tokens = usage.get("output_tokens", output_tokens) or output_tokens
            input_tokens = usage.get("input_tokens") or input_tokens
    if response_id is None:
        return None
    ordered = [blocks[i] for i in sorted(blocks)]
    return _result(
        response_id,
        model,
        "".join(b.get("text", "") for b in ordered if b.get("type") == "text") or None,
        [
            chat_tool_call(b.get("id"), b.get("name"), b.get("json") or b.get("input") or {})
            for b in ordered
            if b.get("type") == "tool_use"
        ],
        input_tokens,
        output_tokens,
        cached,
    )
