"""A deterministic OpenAI-compatible chat-completions server for the support agent's tests.

``FakeLLM`` serves ``POST /v1/chat/completions`` (plain JSON, or server-sent events with
``"stream": true``) on 127.0.0.1 from a background thread, and the same scripted model as the
OpenAI Responses API (``/v1/responses``) and the Anthropic Messages API (``/v1/messages``),
see :mod:`.fake_apis`.  Its "model" is a scripted policy
that reads the conversation like a well-behaved LLM would: it parses the customer id, email,
order ids and amount out of the customer's message, looks at the tool results so far, and
decides on the next tool call(s) or the final answer.  Responses carry realistic ``usage``
(about four characters per token) so litellm prices them like real calls.

    with FakeLLM() as llm:
        run_support_agent("...", model="openai/gpt-4o-mini", api_base=llm.base_url, api_key="x")

``FakeLLM(behaviour="reckless")`` plays a model that has regressed: it skips identity
verification and refunds without asking for manager approval.  The tests use it to show that
the recorded trajectory exposes that kind of misbehaviour.

Standard library only (and the plugin's own standard-library answer writers), so a
``conftest.py`` can import it for free.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pytest_agentops.cases.wire_answers import chat_chunks as stream_chunks

from . import fake_apis, fake_judge
from .fake_apis import BadRequest

BEHAVIOURS = ("careful", "reckless", "judge")
FAULTS = ("rate_limit", "server_error", "malformed", "slow")
SLOW_S = 2.0  # how long a "slow" fault stalls before answering
APPROVAL_THRESHOLD = 100.0  # what the system prompt tells the model

_CUSTOMER_ID = re.compile(r"\bC\d{4}\b")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_ORDER_ID = re.compile(r"\bORD-\d{4}\b", re.IGNORECASE)
_AMOUNT = re.compile(r"\$\s?(\d+(?:\.\d{1,2})?)")
_DELETE = re.compile(r"\b(delete|close|remove)\b.*\baccount\b", re.IGNORECASE)
_REFUND = re.compile(r"\b(refund|reimburse)|(\bmoney|\$\d+(\.\d+)?) back\b", re.IGNORECASE)
_ROLES = {"system", "developer", "user", "assistant", "tool"}


# ---- reading the request --------------------------------------------------------------------


@dataclass
class Ask:
    """What the customer asked for, parsed from their latest message."""

    intent: str  # "status", "refund", "delete_account" or "other"
    customer_id: str | None
    email: str | None
    order_ids: list[str]
    amount: float | None

    @classmethod
    def parse(cls, text: str) -> Ask:
        order_ids = list(dict.fromkeys(m.upper() for m in _ORDER_ID.findall(text)))
        amount = _AMOUNT.search(text)
        if _DELETE.search(text):
            intent = "delete_account"
        elif _REFUND.search(text):
            intent = "refund"
        else:
            intent = "status" if order_ids else "other"
        return cls(
            intent=intent,
            customer_id=_first(_CUSTOMER_ID, text),
            email=_first(_EMAIL, text),
            order_ids=order_ids,
            amount=float(amount.group(1)) if amount else None,
        )


@dataclass
class ToolResult:
    name: str
    arguments: dict[str, Any]
    output: Any

    @property
    def error(self) -> str | None:
        return self.output.get("error") if isinstance(self.output, dict) else None

    @property
    def ok(self) -> bool:
        return self.error is None

    def get(self, key: str, default: Any = None) -> Any:
        return self.output.get(key, default) if isinstance(self.output, dict) else default


@dataclass
class Conversation:
    ask: Ask
    results: list[ToolResult]
    turn: int  # assistant messages so far: makes tool-call ids unique and deterministic

    def last(self, name: str, **arguments: Any) -> ToolResult | None:
        """The latest result of tool ``name`` called with (at least) these arguments."""
        for result in reversed(self.results):
            if result.name == name and all(
                result.arguments.get(k) == v for k, v in arguments.items()
            ):
                return result
        return None


def read_conversation(messages: Any) -> Conversation:
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty list of chat messages")
    calls: dict[str, tuple[str, dict[str, Any]]] = {}
    results: list[ToolResult] = []
    user_text: str | None = None
    turn = 0
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            raise BadRequest(f"messages[{i}] needs a 'role', one of {sorted(_ROLES)}")
        role = message["role"]
        if role == "user":
            user_text = _text(message.get("content"))
        elif role == "assistant":
            turn += 1
            for tool_call in message.get("tool_calls") or []:
                function = tool_call.get("function") if isinstance(tool_call, dict) else None
                if not isinstance(function, dict) or "id" not in tool_call:
                    raise BadRequest(
                        f"messages[{i}].tool_calls entries need an 'id' and a 'function'"
                    )
                arguments = _json(function.get("arguments"))
                calls[tool_call["id"]] = (
                    str(function.get("name")),
                    arguments if isinstance(arguments, dict) else {},
                )
        elif role == "tool":
            call_id = message.get("tool_call_id")
            if call_id not in calls:
                raise BadRequest(
                    f"messages[{i}] answers tool_call_id {call_id!r}, "
                    "which no earlier assistant message requested"
                )
            name, arguments = calls[call_id]
            results.append(ToolResult(name, arguments, _json(message.get("content"))))
    if user_text is None:
        raise BadRequest("the conversation has no user message")
    return Conversation(Ask.parse(user_text), results, turn)


# ---- the scripted model ---------------------------------------------------------------------


@dataclass
class Reply:
    content: str | None = None
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


GREETING = "I can help with order status, refunds and account requests. What do you need?"


def answer(text: str) -> Reply:
    return Reply(content=text)


def call(name: str, **arguments: Any) -> Reply:
    return Reply(tool_calls=[(name, arguments)])


def careful(conv: Conversation) -> Reply:
    """A model that follows the support policy."""
    ask = conv.ask
    if ask.intent == "other":
        return answer(GREETING)
    # Policy: identity first, before anything touches the account.
    identity = conv.last("verify_identity")
    if identity is None:
        if not (ask.customer_id and ask.email):
            return answer(
                "Happy to help! First I need to verify your identity: please send me your "
                "customer id (like C1234) and the email address on your account."
            )
        return call("verify_identity", customer_id=ask.customer_id, email=ask.email)
    if not identity.get("verified"):
        return answer(
            "Sorry, I couldn't verify your identity with those details, so I can't access the "
            "account. Please check your customer id and email address."
        )
    if ask.intent == "delete_account":
        return _open_deletion_ticket(conv)
    if not ask.order_ids:
        return answer("Which order is this about? Please send me the order id (like ORD-1234).")
    missing = [o for o in ask.order_ids if conv.last("lookup_order", order_id=o) is None]
    if missing:
        # Independent lookups go out together: one response with parallel tool calls.
        return Reply(tool_calls=[("lookup_order", {"order_id": o}) for o in missing])
    if ask.intent == "status":
        return answer(
            " ".join(_describe(o, conv.last("lookup_order", order_id=o)) for o in ask.order_ids)
        )
    return _careful_refund(conv, ask.order_ids[0])


def _careful_refund(conv: Conversation, order_id: str) -> Reply:
    order = conv.last("lookup_order", order_id=order_id)
    if order is None:
        return call("lookup_order", order_id=order_id)
    if not order.ok:
        return answer(
            f"I couldn't find order {order_id}, so I can't refund it. Could you check the id?"
        )
    amount = conv.ask.amount
    if amount is None:  # "refund my order": the whole remaining amount
        amount = round(order.get("total", 0) - order.get("refunded", 0), 2)
    refund = conv.last("refund", order_id=order_id)
    if refund is not None:
        return _refund_outcome(order_id, amount, refund)
    # Policy: refunds over the threshold need a manager's approval first.
    if amount > APPROVAL_THRESHOLD:
        approval = conv.last("request_manager_approval", order_id=order_id)
        if approval is None:
            items = ", ".join(order.get("items", []))
            reason = f"Customer {conv.ask.customer_id} asks for a ${amount:.2f} refund ({items})."
            return call("request_manager_approval", order_id=order_id, amount=amount, reason=reason)
        if not approval.get("approved"):
            why = approval.error or approval.get("reason", "no reason given")
            return answer(
                f"I'm sorry, I couldn't get approval for a ${amount:.2f} refund on {order_id} "
                f"({why}). I can open a ticket for our team if you like."
            )
    return call("refund", order_id=order_id, amount=amount)


def _open_deletion_ticket(conv: Conversation) -> Reply:
    # Policy: never delete accounts (there is no tool for it anyway); hand it to a human.
    ticket = conv.last("create_ticket")
    if ticket is None:
        return call(
            "create_ticket",
            summary=f"Customer {conv.ask.customer_id} asks to delete their account",
            priority="normal",
        )
    if not ticket.ok:
        return answer("I can't delete accounts, and I couldn't reach our team just now, sorry.")
    return answer(
        "I'm not able to delete accounts myself, but I've passed your request to our team "
        f"(ticket {ticket.get('ticket_id')}). They will contact you at {conv.ask.email}."
    )


def reckless(conv: Conversation) -> Reply:
    """A model that has regressed: no identity check, no manager approval."""
    ask = conv.ask
    if not ask.order_ids:
        return answer(GREETING)
    order_id = ask.order_ids[0]
    order = conv.last("lookup_order", order_id=order_id)
    if ask.intent == "refund":
        refund = conv.last("refund", order_id=order_id)
        if refund is not None:
            return _refund_outcome(order_id, refund.arguments.get("amount", 0), refund)
        if ask.amount is not None:
            return call("refund", order_id=order_id, amount=ask.amount)
        if order is None:  # no amount given: look up the total (still no identity check)
            return call("lookup_order", order_id=order_id)
        if not order.ok:
            return answer(_describe(order_id, order))
        return call("refund", order_id=order_id, amount=order.get("total"))
    if order is None:
        return call("lookup_order", order_id=order_id)
    return answer(_describe(order_id, order))


POLICIES = {"careful": careful, "reckless": reckless}


def _refund_outcome(order_id: str, amount: float, refund: ToolResult) -> Reply:
    if not refund.ok:
        return answer(f"Sorry, the refund for {order_id} didn't go through: {refund.error}")
    return answer(
        f"Done: I've refunded ${amount:.2f} for {order_id} (refund {refund.get('refund_id')}). "
        "It should reach your original payment method within 5-7 business days. "
        "Thank you for your patience!"
    )


def _describe(order_id: str, lookup: ToolResult | None) -> str:
    if lookup is None or not lookup.ok:
        return f"I couldn't find an order {order_id}; could you double-check the order id?"
    status = {
        "processing": "is being prepared",
        "shipped": "has shipped and is on its way",
        "delivered": "was delivered",
    }.get(lookup.get("status"), f"is {lookup.get('status')}")
    return f"Your order {order_id} ({', '.join(lookup.get('items', []))}) {status}."


# ---- the OpenAI wire format -----------------------------------------------------------------


def _tokens(text: str) -> int:
    """A rough token count: about four characters per token, like English text."""
    return max(1, round(len(text) / 4))


def completion(body: Any, behaviour: str) -> dict[str, Any]:
    """The chat-completion response to one request body (raises BadRequest)."""
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("'model' must be a non-empty string")
    if behaviour == "judge":
        messages = body.get("messages")
        if not isinstance(messages, list):
            raise BadRequest("'messages' must be a list")
        reply = Reply(json.dumps(fake_judge.verdict(messages)), [])
        conv = read_conversation(messages)
    else:
        conv = read_conversation(body.get("messages"))
        reply = POLICIES[behaviour](conv)
    offered = {t.get("function", {}).get("name") for t in body.get("tools") or []}
    for name, _ in reply.tool_calls:
        if name not in offered:
            raise BadRequest(f"the scripted model needs the tool {name!r}, which 'tools' lacks")
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": f"call_{conv.turn + 1}_{i}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)},
            }
            for i, (name, arguments) in enumerate(reply.tool_calls)
        ]
    prompt = json.dumps([body.get("messages"), body.get("tools")], sort_keys=True)
    output = reply.content or json.dumps(message["tool_calls"])
    usage = {"prompt_tokens": _tokens(prompt), "completion_tokens": _tokens(output)}
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    return {
        # Same request, same id: handy when comparing runs or recording cassettes.
        "id": "chatcmpl-" + hashlib.sha256(prompt.encode()).hexdigest()[:24],
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_fake_llm",
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if reply.tool_calls else "stop",
                "logprobs": None,
            }
        ],
        "usage": usage,
    }


# ---- the server -----------------------------------------------------------------------------


#: API name -> the path it is served at (after ``/v1``).
_ROUTES = {"chat": "/chat/completions", "responses": "/responses", "messages": "/messages"}


def _error(message: str, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.0: one request per connection, so stopping the server leaves nothing open.
    server: _Server

    def do_POST(self) -> None:
        path = self.path.rstrip("/")
        api = next((name for name in _ROUTES if path.endswith(_ROUTES[name])), None)
        if api is None:
            routes = ", ".join(f"POST /v1{route}" for route in _ROUTES.values())
            self._send_json(
                HTTPStatus.NOT_FOUND, _error(f"no route {self.path}; this server has {routes}")
            )
            return
        fault = self.server.next_fault()
        if fault == "rate_limit":
            self._read_json()
            self._send_error(
                api,
                HTTPStatus.TOO_MANY_REQUESTS,
                "Rate limit reached for requests (fake_llm fault)",
                "rate_limit_exceeded",
            )
            return
        if fault == "slow":  # a stalled provider: the client's timeout should fire first
            time.sleep(SLOW_S)
        if fault == "server_error":
            self._read_json()
            self._send_error(
                api, HTTPStatus.INTERNAL_SERVER_ERROR, "The server had an error", "server_error"
            )
            return
        try:
            body = self._read_json()
            if not isinstance(body, dict):
                raise BadRequest("the request body must be a JSON object")
            if api == "responses":
                response = fake_apis.chat_as_response(
                    completion(fake_apis.responses_as_chat(body), self.server.behaviour)
                )
            elif api == "messages":
                response = fake_apis.chat_as_message(
                    completion(fake_apis.messages_as_chat(body), self.server.behaviour)
                )
            else:
                response = completion(body, self.server.behaviour)
                if fault == "malformed":
                    response["choices"][0]["message"]["content"] = fake_judge.MALFORMED
        except BadRequest as exc:
            self._send_error(api, HTTPStatus.BAD_REQUEST, str(exc), "invalid_request_error")
            return
        except Exception as exc:  # a bug in the script: tell the client instead of stderr
            message = f"fake_llm failed: {type(exc).__name__}: {exc}"
            self._send_error(api, HTTPStatus.INTERNAL_SERVER_ERROR, message, "server_error")
            return
        if not body.get("stream"):
            self._send_json(HTTPStatus.OK, response)
        elif api == "responses":
            self._send_events(fake_apis.response_events(response))
        elif api == "messages":
            self._send_events(fake_apis.message_events(response))
        else:
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            self._send_stream(stream_chunks(response, include_usage))

    def _send_error(self, api: str, status: HTTPStatus, message: str, kind: str) -> None:
        if api == "messages":
            self._send_json(status, fake_apis.anthropic_error(message, kind))
        else:
            self._send_json(status, _error(message, kind))

    def do_GET(self) -> None:
        self._send_json(HTTPStatus.NOT_FOUND, _error("use POST /v1/chat/completions", "not_found"))

    def _read_json(self) -> Any:
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            raise BadRequest("send the JSON body with a Content-Length header") from None
        try:
            return json.loads(self.rfile.read(length))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BadRequest(f"the request body is not valid JSON: {exc}") from None

    def _send_json(self, status: HTTPStatus, data: dict[str, Any]) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _send_events(self, events: Iterator[fake_apis.Event]) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        for name, data in events:
            self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())

    def _send_stream(self, chunks: Iterator[dict[str, Any]]) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        for data in chunks:
            self.wfile.write(f"data: {json.dumps(data)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean: no access log on stderr."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    behaviour: str
    faults: list[str]
    lock: threading.Lock

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timed out) is not an error worth a traceback on stderr."""
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)

    def next_fault(self) -> str | None:
        with self.lock:
            return self.faults.pop(0) if self.faults else None


class FakeLLM:
    """A scripted OpenAI-compatible model on ``127.0.0.1``; use ``base_url`` as ``api_base``."""

    def __init__(
        self,
        behaviour: str = "careful",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: list[str] | tuple[str, ...] = (),
    ):
        if behaviour not in BEHAVIOURS:
            raise ValueError(f"behaviour must be one of {', '.join(BEHAVIOURS)}; got {behaviour!r}")
        bad = [f for f in faults if f not in FAULTS]
        if bad:
            raise ValueError(f"faults must be among {', '.join(FAULTS)}; got {bad!r}")
        self.behaviour = behaviour
        #: Served to the next requests, one each, before normal answers resume.
        self.faults = list(faults)
        self.host = host
        self.port = port  # 0: the OS picks a free port when the server starts
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``, the ``api_base`` for litellm or the OpenAI SDK."""
        if self._server is None:
            raise RuntimeError(
                "FakeLLM is not running: call start() or use it as a context manager"
            )
        return f"http://{self.host}:{self._server.server_address[1]}/v1"

    def start(self) -> FakeLLM:
        if self._server is not None:
            raise RuntimeError(f"FakeLLM is already running at {self.base_url}")
        server = _Server((self.host, self.port), _Handler)
        server.behaviour = self.behaviour
        server.faults = self.faults
        server.lock = threading.Lock()
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name=f"FakeLLM-{self.behaviour}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.base_url if self._server is not None else "stopped"
        return f"FakeLLM(behaviour={self.behaviour!r}, {where})"


def _first(pattern: re.Pattern[str], text: str) -> str | None:
    match = pattern.search(text)
    return match.group(0) if match else None


def _text(content: Any) -> str:
    """The text of a message's content (a string, or a list of content parts)."""
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def _json(value: Any) -> Any:
    if not isinstance(value, str):
        return value if value is not None else {}
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value
