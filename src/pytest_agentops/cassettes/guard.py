"""Network blocking while tests replay: no live LLM call, and optionally no connection at all.

Two levels, chosen per test by the plugin:

- ``"llm"``: a test replaying its cassette cannot resolve a known LLM API host (OpenAI,
  Anthropic, Gemini, Azure OpenAI, Bedrock, Mistral, Groq, ...): a client that vcrpy does not
  patch (websockets, gRPC, a vendored HTTP stack) fails at once instead of spending money.
  In record mode ``none`` the whole session is held to it (tests without a cassette, threads
  that outlive their test, code between tests) unless a test records.
- ``"all"`` (``--agentops-block-network``): every connection except loopback is refused.

Blocked LLM hosts fail the test at once with pytest's failure exception (a ``BaseException``,
so SDK retry loops do not swallow it); other blocked connections raise
:class:`~pytest_agentops.errors.NetworkBlockedError`, a ``ConnectionRefusedError`` that
ordinary code handles.
Standard library only; sockets are patched from the first test that needs it until pytest
exits, and let everything through while the policy is ``"off"``.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pytest_agentops._util import is_loopback_host
from pytest_agentops.errors import NetworkBlockedError

#: Hosts (exact or, with a leading dot, any subdomain) of hosted LLM APIs.
LLM_HOSTS = (
    "api.openai.com",
    "api.anthropic.com",
    "generativelanguage.googleapis.com",
    "aiplatform.googleapis.com",
    ".openai.azure.com",
    ".cognitiveservices.azure.com",
    ".services.ai.azure.com",
    "api.mistral.ai",
    "api.groq.com",
    "api.cohere.ai",
    "api.cohere.com",
    "api.together.xyz",
    "api.together.ai",
    "api.deepseek.com",
    "api.x.ai",
    "openrouter.ai",
    "api.fireworks.ai",
    "api.perplexity.ai",
    "api-inference.huggingface.co",
    "router.huggingface.co",
    "api.replicate.com",
    "bedrock-runtime.amazonaws.com",
)


def is_llm_host(host: str) -> bool:
    host = host.lower().rstrip(".")
    if host.startswith("bedrock-runtime.") and host.endswith(".amazonaws.com"):
        return True
    return any(host == h or (h.startswith(".") and host.endswith(h)) for h in LLM_HOSTS)


class _Guard:
    """The process-wide socket patches and the policy of the running test."""

    def __init__(self) -> None:
        self.policy = "off"
        self.nodeid = ""
        self.fail: Callable[[str], BaseException] | None = None
        #: Why the policy holds: "replay" (the test replays its cassette), "session" (record
        #: mode none holds for the whole session) or "network" (--agentops-block-network).
        self.why = "network"
        self._lock = threading.Lock()
        self._originals: dict[str, Any] = {}

    # -- policy --
    @contextmanager
    def applied(
        self,
        policy: str,
        nodeid: str,
        fail: Callable[[str], BaseException] | None,
        *,
        why: str = "network",
    ) -> Iterator[None]:
        """Apply ``policy`` to the test ``nodeid`` ("" between tests) for the block; the
        previous one after it.  ``why`` says what a blocked call is told (see :attr:`why`);
        ``fail`` makes the exception for a blocked LLM call (None: NetworkBlockedError)."""
        with self._lock:
            previous = (self.policy, self.nodeid, self.fail, self.why)
            self.policy, self.nodeid, self.fail, self.why = policy, nodeid, fail, why
            if policy != "off":
                self._install()
        try:
            yield
        finally:
            with self._lock:
                self.policy, self.nodeid, self.fail, self.why = previous

    # -- patches --
    def _install(self) -> None:
        if self._originals:
            return
        self._originals = {
            "getaddrinfo": socket.getaddrinfo,
            "connect": socket.socket.connect,
            "connect_ex": socket.socket.connect_ex,
        }
        original_getaddrinfo = self._originals["getaddrinfo"]
        original_connect = self._originals["connect"]
        original_connect_ex = self._originals["connect_ex"]
        guard = self

        def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            guard.check(host, args[0] if args else kwargs.get("port"))
            return original_getaddrinfo(host, *args, **kwargs)

        def connect(sock: socket.socket, address: Any) -> Any:
            guard.check_address(sock, address)
            return original_connect(sock, address)

        def connect_ex(sock: socket.socket, address: Any) -> Any:
            guard.check_address(sock, address)
            return original_connect_ex(sock, address)

        socket.getaddrinfo = getaddrinfo
        socket.socket.connect = connect  # type: ignore[method-assign,assignment]
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign,assignment]

    def uninstall(self) -> None:
        with self._lock:
            if not self._originals:
                return
            socket.getaddrinfo = self._originals["getaddrinfo"]
            socket.socket.connect = self._originals["connect"]  # type: ignore[method-assign]
            socket.socket.connect_ex = self._originals["connect_ex"]  # type: ignore[method-assign]
            self._originals = {}
            self.policy = "off"

    # -- checks --
    def check(self, host: Any, port: Any) -> None:
        policy = self.policy
        if policy == "off" or host is None or is_loopback_host(host):
            return
        name = host.decode() if isinstance(host, bytes) else str(host)
        where = f"{name}:{port}" if port not in (None, 0, "") else name
        who = self.nodeid or "code running between tests"
        thread = threading.current_thread()
        if thread is not threading.main_thread():
            who += f" (thread {thread.name!r}: a thread an earlier test started may still run)"
        if is_llm_host(name):
            if self.why == "replay":
                message = (
                    f"Network blocked: {who} tried to reach the LLM API at {where} while "
                    "replaying its cassette. A client the cassette layer does not intercept "
                    "made a live call; record with --agentops-record=once, or route the "
                    "client through httpx/aiohttp/requests."
                )
            elif self.why == "session":
                message = (
                    f"Network blocked: {who} tried to reach the LLM API at {where} outside a "
                    "recording. In record mode `none` the session makes no live LLM call: "
                    "give the test a cassette (use agent_trace, or mark it agentops_cassette) "
                    "and record it with --agentops-record=once, mark it agentops_live to let "
                    "it call live, or set the ini option agentops_session_guard = false."
                )
            else:
                message = (
                    f"Network blocked: {who} tried to reach the LLM API at {where} "
                    "(--agentops-block-network allows loopback only)."
                )
            raise self.fail(message) if self.fail is not None else NetworkBlockedError(message)
        if policy == "all":
            message = (
                f"Network blocked: {who} tried to connect to {where} "
                "(--agentops-block-network allows loopback only)."
            )
            raise NetworkBlockedError(message)

    def check_address(self, sock: socket.socket, address: Any) -> None:
        if self.policy != "all" or sock.family not in (socket.AF_INET, socket.AF_INET6):
            return
        if isinstance(address, tuple) and address:
            self.check(address[0], address[1] if len(address) > 1 else None)


GUARD = _Guard()
