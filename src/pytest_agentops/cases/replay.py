"""Replaying an incident: its model answers by position, its tool results by position and name.

Production prompts cannot be reproduced byte for byte (timestamps, other system prompts), so a
case does not match requests: the k-th call the agent makes to an LLM API (OpenAI chat
completions, Responses, Anthropic messages; streamed or not) gets the incident's k-th model
answer, written in that API's shape (:mod:`.wire_answers`).  The k-th call of a tool gets the
incident's k-th result of that tool; a tool the incident never called (or called fewer times)
runs for real.  One call more than the incident had fails the test: the agent diverged from
the incident, so it must be recorded against a live model (``--agentops-record=once``, which
makes the case's cassette an ordinary one).

HTTP is intercepted with vcrpy (every client it patches); requests to anything but an LLM API
go through untouched.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from vcr.cassette import Cassette as VcrCassette
from vcr.cassette import CassetteContextDecorator
from vcr.persisters.filesystem import CassetteNotFoundError
from vcr.record_mode import RecordMode
from vcr.request import Request

from pytest_agentops.capture.active import ACTIVE, CAPTURE_OFF
from pytest_agentops.capture.tape import RecordedToolCall, ToolTape
from pytest_agentops.capture.wire import ANTHROPIC, RESPONSES, api_of, observe_interaction
from pytest_agentops.trajectory.steps import LLMCall, ToolCall

from . import wire_answers
from .case import Case

DIVERGED = "the agent diverged from the incident"


class _NoFile:
    """A persister with nothing to load and nothing to save: the answers come from the case."""

    @staticmethod
    def load_cassette(cassette_path: str, serializer: Any) -> Any:
        raise CassetteNotFoundError()

    @staticmethod
    def save_cassette(cassette_path: str, cassette_dict: Any, serializer: Any) -> None:
        return None


class IncidentCassette(VcrCassette):  # type: ignore[misc]
    """Answers LLM API calls from the incident in order; lets every other request through."""

    def __init__(self, path: str, *, incident: IncidentReplay, **kwargs: Any) -> None:
        super().__init__(path, **kwargs)
        self._incident = incident

    def can_play_response_for(self, request: Request) -> bool:
        request._agentops_started = (time.time(), time.perf_counter())
        if api_of(request.method, request.uri, request.headers) is None:
            return False  # not a model: the request goes through
        if CAPTURE_OFF.get():  # the LLM judge, not the agent: no incident answer is its
            raise self._incident.fail(
                "the case's judge criteria need a model to judge with, and an incident "
                "replay has none: record the case with --agentops-record=once (the judge's "
                "verdicts are then recorded with it), or answer judgements with a "
                "pytest_agentops_judge hook of your own"
            )
        return True

    def play_response(self, request: Request) -> Any:
        response = self._incident.answer(request)
        self._incident.observe(request, response)
        return response

    def append(self, request: Request, response: Any) -> None:
        return None  # a request that went through: nothing to keep


class IncidentReplay:
    """The incident's answers for one run of a case (see the module docstring)."""

    def __init__(
        self,
        case: Case,
        *,
        display: str,
        capture_http: bool = True,
        replay_tools: bool = True,
    ) -> None:
        self.case = case
        self.display = display
        self.capture_http = capture_http
        self.answers: list[LLMCall] = case.incident.llm_calls
        self.served = 0
        self.misses: list[str] = []
        self.tape = (
            ToolTape(
                [_recorded(call) for call in case.incident.tool_calls],
                replay=True,
                record=False,
                real_tools=frozenset(case.expect.real_tools),
                by_position=True,
            )
            if replay_tools
            else None
        )

    @contextmanager
    def active(self) -> Iterator[IncidentReplay]:
        context = CassetteContextDecorator.from_args(
            IncidentCassette,
            path=self.display,
            incident=self,
            persister=_NoFile,
            record_mode=RecordMode.ALL,
        )
        with context:
            yield self

    def answer(self, request: Request) -> dict[str, Any]:
        """The next incident answer, in the shape of the API ``request`` calls."""
        if self.served >= len(self.answers):
            raise self.fail(
                f"{DIVERGED} after step {self._last_step()}: it made LLM call "
                f"#{self.served + 1}, and the incident {self.display} has "
                f"{len(self.answers)}. The fix changed what the agent does, so the case needs "
                "the model's answers to the new conversation: record them from a live model "
                "with --agentops-record=once (the case then replays its ordinary cassette)."
            )
        step = self.answers[self.served]
        self.served += 1
        api = api_of(request.method, request.uri, request.headers)
        body = _json(request.body)
        completion = _completion(step, self.served)
        if api == RESPONSES:
            response = wire_answers.chat_as_response(completion)
            if body.get("stream"):
                return _http(wire_answers.named_events(wire_answers.response_events(response)))
            return _http(json.dumps(response).encode(), "application/json")
        if api == ANTHROPIC:
            message = wire_answers.chat_as_message(completion)
            if body.get("stream"):
                return _http(wire_answers.named_events(wire_answers.message_events(message)))
            return _http(json.dumps(message).encode(), "application/json")
        if body.get("stream"):
            usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return _http(wire_answers.chat_events(wire_answers.chat_chunks(completion, usage)))
        return _http(json.dumps(completion).encode(), "application/json")

    def _last_step(self) -> int:
        """The number, in the incident, of the last step the run went through."""
        if not self.answers:
            return 0
        last = self.answers[self.served - 1] if self.served else None
        steps = self.case.incident.steps
        return next((i for i, s in enumerate(steps, start=1) if s is last), 0)

    def observe(self, request: Request, response: dict[str, Any]) -> None:
        if self.capture_http:
            observe_interaction(request, response)

    def fail(self, message: str) -> BaseException:
        self.misses.append(message)
        recorder = ACTIVE.recorder
        if recorder is not None:
            recorder.abandon_pending(message.splitlines()[0])
        return pytest.fail.Exception(message, pytrace=False)


def _recorded(call: ToolCall) -> RecordedToolCall:
    return RecordedToolCall.model_validate(
        {
            "name": call.name,
            "arguments": call.arguments,
            "result": call.result,
            "error": call.error,
            "error_message": call.error,
        }
    )


def _json(body: Any) -> dict[str, Any]:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        data = json.loads(body) if isinstance(body, str) else None
    except ValueError:
        data = None
    return data if isinstance(data, dict) else {}


def _completion(step: LLMCall, number: int) -> dict[str, Any]:
    """The incident's model answer as a chat completion."""
    output = step.output_message or {"role": "assistant", "content": None}
    message: dict[str, Any] = {"role": "assistant", "content": output.get("content")}
    if not isinstance(message["content"], (str, type(None))):
        message["content"] = json.dumps(message["content"])
    calls = [
        {
            "id": call.id or f"call_incident_{number}_{index}",
            "type": "function",
            "function": {
                "name": call.name,
                "arguments": call.arguments
                if isinstance(call.arguments, str)
                else json.dumps(call.arguments),
            },
        }
        for index, call in enumerate(step.requested_tool_calls)
    ]
    if calls:
        message["tool_calls"] = calls
    return {
        "id": step.response_id or f"chatcmpl-incident-{number}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": step.model,
        "system_fingerprint": "pytest-agentops-incident",
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if calls else "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": step.input_tokens,
            "completion_tokens": step.output_tokens,
            "total_tokens": step.input_tokens + step.output_tokens,
        },
    }


def _http(body: bytes, content_type: str = "text/event-stream") -> dict[str, Any]:
    return {
        "status": {"code": 200, "message": "OK"},
        "headers": {"content-type": [content_type], "content-length": [str(len(body))]},
        "body": {"string": body},
    }
