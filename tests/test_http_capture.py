"""LLM steps read off the wire: OpenAI chat/Responses and Anthropic messages, JSON and SSE;
and the redaction applied to everything saved."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_agentops.capture.wire import api_of, llm_step_fields, sse_events
from pytest_agentops.redact import PLACEHOLDER, Redactor, env_secrets, secret_header


def sse(events: list[tuple[str | None, Any]], done: bool = False) -> bytes:
    out = []
    for name, data in events:
        head = f"event: {name}\n" if name else ""
        out.append(f"{head}data: {json.dumps(data)}\n\n")
    if done:
        out.append("data: [DONE]\n\n")
    return "".join(out).encode()


def fields(url: str, request: dict[str, Any], body: Any, status: int = 200, **kw: Any) -> Any:
    stream = isinstance(body, bytes)
    headers = {"content-type": ["text/event-stream" if stream else "application/json"]}
    raw = body if stream else json.dumps(body).encode()
    return llm_step_fields(
        "POST",
        url,
        kw.get("request_headers", {}),
        json.dumps(request).encode(),
        status,
        headers,
        raw,
    )


def test_api_detection() -> None:
    assert api_of("POST", "https://api.openai.com/v1/chat/completions") == "openai.chat"
    assert api_of("POST", "http://127.0.0.1:8000/v1/chat/completions/") == "openai.chat"
    assert (
        api_of(
            "POST", "https://x.openai.azure.com/openai/deployments/d/chat/completions?api-version=1"
        )
        == "openai.chat"
    )
    assert api_of("POST", "https://api.openai.com/v1/responses") == "openai.responses"
    assert api_of("POST", "https://api.anthropic.com/v1/messages") == "anthropic.messages"
    assert api_of("POST", "https://proxy/messages", {"anthropic-version": ["2023-06-01"]})
    assert api_of("POST", "https://proxy/messages") is None
    assert api_of("GET", "https://api.openai.com/v1/models") is None
    assert api_of("POST", "https://api.openai.com/v1/embeddings") is None


CHAT_REQUEST = {
    "model": "gpt-4o-mini",
    "messages": [{"role": "user", "content": "weather in Paris and Rome?"}],
}


def test_openai_chat_json_with_tool_calls() -> None:
    response = {
        "id": "chatcmpl-1",
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
                        },
                        {
                            "id": "c2",
                            "type": "function",
                            "function": {"name": "weather", "arguments": "{not json"},
                        },
                    ],
                }
            }
        ],
        "usage": {
            "prompt_tokens": 12,
            "completion_tokens": 7,
            "prompt_tokens_details": {"cached_tokens": 4},
        },
    }
    out = fields("https://api.openai.com/v1/chat/completions", CHAT_REQUEST, response)
    assert out["model"] == "gpt-4o-mini-2024-07-18"
    assert out["provider"] == "openai"
    assert out["input_messages"] == CHAT_REQUEST["messages"]
    assert out["response_id"] == "chatcmpl-1"
    assert (out["input_tokens"], out["output_tokens"], out["cached_tokens"]) == (12, 7, 4)
    assert [(c["id"], c["name"], c["arguments"]) for c in out["requested_tool_calls"]] == [
        ("c1", "weather", {"city": "Paris"}),
        ("c2", "weather", "{not json"),
    ]


def test_openai_chat_stream_assembles_text_tool_calls_and_usage() -> None:
    head = {"id": "chatcmpl-2", "model": "gpt-4o-mini"}
    body = sse(
        [
            (None, {**head, "choices": [{"delta": {"role": "assistant", "content": "Let "}}]}),
            (None, {**head, "choices": [{"delta": {"content": "me check."}}]}),
            (
                None,
                {
                    **head,
                    "choices": [
                        {
                            "delta": {
                                "tool_calls": [
                                    {
                                        "index": 0,
                                        "id": "c1",
                                        "function": {"name": "weather", "arguments": '{"ci'},
                                    }
                                ]
                            }
                        }
                    ],
                },
            ),
            (
                None,
                {
                    **head,
                    "choices": [
                        {
                            "delta": {
                                "tool_calls": [
                                    {"index": 0, "function": {"arguments": 'ty": "Rome"}'}}
                                ]
                            }
                        }
                    ],
                },
            ),
            (None, {**head, "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 3}}),
        ],
        done=True,
    )
    out = fields(
        "https://api.openai.com/v1/chat/completions", {**CHAT_REQUEST, "stream": True}, body
    )
    assert out["output_message"]["content"] == "Let me check."
    assert out["requested_tool_calls"] == [
        {"id": "c1", "name": "weather", "arguments": {"city": "Rome"}}
    ]
    assert (out["input_tokens"], out["output_tokens"]) == (9, 3)
    assert out["response_id"] == "chatcmpl-2"


def test_http_errors_become_failed_steps() -> None:
    out = fields(
        "https://api.openai.com/v1/chat/completions",
        CHAT_REQUEST,
        {"error": {"message": "Rate limit reached", "type": "rate_limit"}},
        status=429,
    )
    assert out["error"] == "HTTP 429: Rate limit reached"
    assert "output_message" not in out


RESPONSES_REQUEST = {
    "model": "gpt-4.1",
    "instructions": "Be brief.",
    "input": [
        {"role": "user", "content": [{"type": "input_text", "text": "Weather in Oslo?"}]},
        {
            "type": "function_call",
            "call_id": "fc1",
            "name": "weather",
            "arguments": '{"city":"Oslo"}',
        },
        {"type": "function_call_output", "call_id": "fc1", "output": '{"temp": 3}'},
    ],
}
RESPONSES_OUTPUT = {
    "id": "resp_1",
    "model": "gpt-4.1-2025-04-14",
    "output": [
        {"type": "reasoning", "summary": []},
        {"type": "message", "content": [{"type": "output_text", "text": "It is 3°C."}]},
    ],
    "usage": {"input_tokens": 30, "output_tokens": 6, "input_tokens_details": {"cached_tokens": 0}},
}


def test_openai_responses_json_and_stream() -> None:
    url = "https://api.openai.com/v1/responses"
    out = fields(url, RESPONSES_REQUEST, RESPONSES_OUTPUT)
    assert out["input_messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Oslo?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "fc1",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city":"Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "fc1", "content": '{"temp": 3}'},
    ]
    assert out["output_message"]["content"] == "It is 3°C."
    assert (out["input_tokens"], out["output_tokens"], out["response_id"]) == (30, 6, "resp_1")
    body = sse(
        [
            ("response.created", {"type": "response.created", "response": {"id": "resp_1"}}),
            ("response.output_text.delta", {"type": "response.output_text.delta", "delta": "It"}),
            ("response.completed", {"type": "response.completed", "response": RESPONSES_OUTPUT}),
        ]
    )
    streamed = fields(url, {**RESPONSES_REQUEST, "stream": True}, body)
    assert streamed["output_message"] == out["output_message"]
    calls = {
        **RESPONSES_OUTPUT,
        "output": [
            {
                "type": "function_call",
                "call_id": "fc2",
                "name": "weather",
                "arguments": '{"city":"Bergen"}',
            }
        ],
    }
    out = fields(url, {"model": "gpt-4.1", "input": "Bergen?"}, calls)
    assert out["input_messages"] == [{"role": "user", "content": "Bergen?"}]
    assert out["requested_tool_calls"] == [
        {"id": "fc2", "name": "weather", "arguments": {"city": "Bergen"}}
    ]


ANTHROPIC_REQUEST = {
    "model": "claude-sonnet-4-5",
    "system": "You are terse.",
    "max_tokens": 100,
    "messages": [
        {"role": "user", "content": "Weather in Lima?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "tu1", "name": "weather", "input": {"city": "Lima"}},
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "tu1", "content": "18C"}],
        },
    ],
}


def test_anthropic_messages_json() -> None:
    response = {
        "id": "msg_1",
        "type": "message",
        "model": "claude-sonnet-4-5-20250929",
        "content": [
            {"type": "text", "text": "Also checking Cusco."},
            {"type": "tool_use", "id": "tu2", "name": "weather", "input": {"city": "Cusco"}},
        ],
        "usage": {"input_tokens": 50, "output_tokens": 20, "cache_read_input_tokens": 10},
    }
    out = fields("https://api.anthropic.com/v1/messages", ANTHROPIC_REQUEST, response)
    assert out["provider"] == "anthropic"
    assert out["input_messages"][0] == {"role": "system", "content": "You are terse."}
    assert out["input_messages"][2]["tool_calls"][0]["function"]["name"] == "weather"
    assert out["input_messages"][3] == {"role": "tool", "tool_call_id": "tu1", "content": "18C"}
    assert out["output_message"]["content"] == "Also checking Cusco."
    assert out["requested_tool_calls"] == [
        {"id": "tu2", "name": "weather", "arguments": {"city": "Cusco"}}
    ]
    assert (out["input_tokens"], out["output_tokens"], out["cached_tokens"]) == (50, 20, 10)


def test_anthropic_messages_stream() -> None:
    body = sse(
        [
            (
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": "msg_2",
                        "model": "claude-sonnet-4-5",
                        "usage": {"input_tokens": 40, "output_tokens": 1},
                    },
                },
            ),
            (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            ),
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": "Hi "},
                },
            ),
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": "there."},
                },
            ),
            (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 1,
                    "content_block": {
                        "type": "tool_use",
                        "id": "tu3",
                        "name": "weather",
                        "input": {},
                    },
                },
            ),
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 1,
                    "delta": {"type": "input_json_delta", "partial_json": '{"city": '},
                },
            ),
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 1,
                    "delta": {"type": "input_json_delta", "partial_json": '"Quito"}'},
                },
            ),
            ("message_delta", {"type": "message_delta", "usage": {"output_tokens": 15}}),
            ("message_stop", {"type": "message_stop"}),
        ]
    )
    out = fields(
        "https://api.anthropic.com/v1/messages", {**ANTHROPIC_REQUEST, "stream": True}, body
    )
    assert out["output_message"]["content"] == "Hi there."
    assert out["requested_tool_calls"] == [
        {"id": "tu3", "name": "weather", "arguments": {"city": "Quito"}}
    ]
    assert (out["input_tokens"], out["output_tokens"], out["response_id"]) == (40, 15, "msg_2")


def test_unreadable_bodies_do_not_crash() -> None:
    url = "https://api.openai.com/v1/chat/completions"
    assert llm_step_fields("POST", url, {}, b"not json", 200, {}, b"{}") is None
    out = llm_step_fields("POST", url, {}, json.dumps(CHAT_REQUEST), 200, {}, b"<html>")
    assert out["error"].startswith("could not read the openai.chat response")
    assert list(sse_events(b"data: {broken\n\ndata: [DONE]\n\n")) == []


# ---- redaction ------------------------------------------------------------------------------


def test_redactor_text_url_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_API_KEY", "acme-0000-1111-2222")
    monkeypatch.setenv("SHORT_TOKEN", "abc")  # too short to be treated as a secret
    assert "acme-0000-1111-2222" in env_secrets()
    r = Redactor()
    text = (
        "keys: sk-proj-ABCDEFGHIJKLMNOP0123456789 sk-ant-api03-abcdefghijklmnop1234 "
        "AKIAABCDEFGHIJKLMNOP AIzaSyA1234567890abcdefghijklmnopqrstuv "
        "acme-0000-1111-2222 Bearer eyJhbGciOiJIUzI1NiJ9.payload abc"
    )
    out = r.text(text)
    assert out.count(PLACEHOLDER) == 6
    assert out.endswith(" abc")
    assert r.url("https://g.example/v1/models?key=AIzaSecret&alt=sse") == (
        f"https://g.example/v1/models?key={PLACEHOLDER}&alt=sse"
    )
    assert r.url("https://user:hunter2secret@proxy.example/x") == (
        f"https://user:{PLACEHOLDER}@proxy.example/x"
    )
    headers = {
        "Authorization": ["Bearer live-token-123456"],
        "x-api-key": ["k"],
        "OpenAI-Organization": ["org-1"],
        "X-Custom-Auth-Token": ["t"],
        "content-type": ["application/json"],
    }
    r.remember_headers(headers)
    assert r.headers(headers) == {"content-type": ["application/json"]}
    assert r.text("echo live-token-123456") == f"echo {PLACEHOLDER}"
    assert secret_header("Api-Key")
    assert not secret_header("content-length")
    assert r.value({"a": ["sk-proj-ABCDEFGHIJKLMNOP0123456789", 1]}) == {"a": [PLACEHOLDER, 1]}
