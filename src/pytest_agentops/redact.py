"""Secrets out of everything written to disk: cassettes, tool recordings, traces and reports.

Standard library only.  Three layers, each cheap:

- header names that carry credentials (``authorization``, ``x-api-key``, ``api-key``,
  ``openai-organization``, ``cookie``, provider-specific ones) are dropped;
- URL query parameters that carry keys (``key``, ``api_key``, ``access_token``...) are
  replaced with :data:`PLACEHOLDER`;
- in any text (bodies, URLs, tool results), well-known API-key shapes (OpenAI/Anthropic
  ``sk-...``, AWS, GitHub, Slack, Google, Stripe, Hugging Face, Groq, JWTs), private-key
  blocks, secrets under a key's name (``api-key: ...``, ``aws_secret_access_key=...``),
  ``Bearer`` tokens, the values of secret-looking environment variables (``*_API_KEY``,
  ``*_KEY``, ``*_TOKEN``, ``*_SECRET``, ``*_JWT``, ``*AUTH*``...) and every value seen in a
  credential header in this process are replaced with :data:`PLACEHOLDER`.

Every file the plugin writes goes through :class:`Redactor`: cassettes and their tool tapes,
the JSON report, dumped trajectories.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

PLACEHOLDER = "<REDACTED>"

#: Request/response headers that are never saved (compared lower-case).
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",  # Anthropic
        "api-key",  # Azure OpenAI
        "openai-organization",
        "openai-project",
        "cookie",
        "set-cookie",
        "x-goog-api-key",  # Gemini
        "x-goog-user-project",
        "x-amz-security-token",  # Bedrock
        "x-amz-date",
        "x-amz-content-sha256",
        "anthropic-organization-id",
        "x-stainless-api-key",
        "ocp-apim-subscription-key",
        "x-portkey-api-key",
        "x-litellm-api-key",
        "helicone-auth",
        "cf-aig-authorization",
    }
)
_SECRET_HEADER_WORDS = re.compile(r"(api[-_]?key|secret|token|password|auth)", re.IGNORECASE)

#: Query parameters whose values are replaced.
SECRET_PARAMS = frozenset(
    {"key", "api_key", "api-key", "apikey", "access_token", "token", "secret", "password", "sig"}
)

#: API keys by shape.  Also used by the ``api_key`` detector of policies.
API_KEY = re.compile(
    r"(?<![\w-])(?:"
    r"sk-(?=[\w-]*\d)[\w-]{20,}"  # OpenAI sk-, sk-proj-, sk-svcacct-; Anthropic sk-ant-
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}"  # AWS access key ids
    r"|gh[pousr]_[A-Za-z0-9]{36,}"  # GitHub tokens
    r"|github_pat_\w{22,}"  # GitHub fine-grained tokens
    r"|xox[abprs]-[A-Za-z0-9-]{10,}"  # Slack tokens
    r"|AIza[\w-]{35}"  # Google API keys
    r"|ya29\.[\w-]{20,}"  # Google OAuth access tokens
    r"|[rs]k_(?:live|test)_[A-Za-z0-9]{20,}"  # Stripe keys
    r"|hf_[A-Za-z0-9]{30,}"  # Hugging Face tokens
    r"|gsk_[A-Za-z0-9]{40,}"  # Groq keys
    r"|eyJ[\w-]{10,}\.eyJ[\w-]{10,}\.[\w-]{10,}"  # JWTs (header.payload.signature)
    r")(?![\w-])",
    re.ASCII,
)
#: A PEM private key, whole (also with its newlines escaped, as in JSON).
_PRIVATE_KEY = re.compile(
    r"-----BEGIN [A-Z ]{0,40}PRIVATE KEY-----.*?-----END [A-Z ]{0,40}PRIVATE KEY-----", re.S
)
#: Secrets known by the name they are given: an AWS secret access key under its name or
#: next to its key id, and any long value under an API key's name (an Azure key is 32 hex).
_NAMED = re.compile(
    r"(?i)((?:aws_?secret_?access_?key|secret_?access_?key)(?:\\?[\"'])?\s*[:=]\s*(?:\\?[\"'])?)"
    r"([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"
    r"|((?:azure|openai|api)[\w-]{0,30}?key(?:\\?[\"'])?\s*[:=]\s*(?:\\?[\"'])?)"
    r"([A-Za-z0-9/+=_.-]{16,})"
    r"|((?:AKIA|ASIA)[0-9A-Z]{16}[\\\"'\s:,=;|]{1,8})([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"
)
_BEARER = re.compile(r"(?i)\b(bearer\s+)[^\s\"',;]{8,}")
_SECRET_ENV_NAME = re.compile(
    r"(API_?KEY|_KEY|_TOKEN|_SECRET|SECRET_KEY|_PASSWORD|ACCESS_KEY|_JWT)$|AUTH", re.IGNORECASE
)
#: Environment values shorter than this are not treated as secrets (too likely to be words).
_MIN_SECRET_LEN = 8
#: No pattern above matches fewer characters (a Slack token, a bearer token with its word).
_SHORTEST_MATCH = 15
#: What a redactor remembers of the texts it redacted: at most this many, this long each.
_REMEMBERED_TEXTS = 4096
_REMEMBERED_CHARS = 4000


def secret_header(name: str) -> bool:
    lower = name.lower()
    return lower in SECRET_HEADERS or bool(_SECRET_HEADER_WORDS.search(lower))


def env_secrets(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of environment variables whose names say they hold a secret, longest first."""
    env = os.environ if environ is None else environ
    values = {
        value
        for name, value in env.items()
        if _SECRET_ENV_NAME.search(name) and len(value.strip()) >= _MIN_SECRET_LEN
    }
    return sorted(values, key=len, reverse=True)


class _Learned:
    """Secret values seen in credential headers in this process: every redactor hides them,
    whichever test, cassette or report they turn up in next."""

    def __init__(self) -> None:
        self.values: frozenset[str] = frozenset()

    def add(self, values: Iterable[str]) -> None:
        new = {v for v in values if len(v) >= _MIN_SECRET_LEN} - self.values
        if new:
            self.values = self.values | new


LEARNED = _Learned()


class Redactor:
    """Replaces secrets in text; ``extra`` values (e.g. keys seen in auth headers) too."""

    def __init__(self, extra: Iterable[str] = ()) -> None:
        self._own: set[str] = set()
        self._values: list[str] = []
        self._learned: frozenset[str] | None = None
        #: Texts already redacted with the current values (a conversation's messages recur in
        #: every later LLM call of a run): bounded, and emptied when the values change.
        self._done: dict[str, str] = {}
        self.add(env_secrets())
        self.add(extra)

    def add(self, values: Iterable[str]) -> None:
        new = {v for v in values if len(v) >= _MIN_SECRET_LEN} - self._own
        if new:
            self._own |= new
            self._learned = None  # recompute the list (and forget what was redacted)

    def _known(self) -> list[str]:
        if self._learned is not LEARNED.values:
            self._learned = LEARNED.values
            self._values = sorted(self._own | self._learned, key=len, reverse=True)
            self._done = {}
        return self._values

    def text(self, text: str) -> str:
        if len(text) < _MIN_SECRET_LEN:
            return text  # most strings of a document: keys, roles, short values
        known = self._known()
        done = self._done.get(text)
        if done is not None:
            return done
        redacted = self._redact(text, known)
        if len(text) <= _REMEMBERED_CHARS and len(self._done) < _REMEMBERED_TEXTS:
            self._done[text] = redacted
        return redacted

    @staticmethod
    def _redact(text: str, known: list[str]) -> str:
        for value in known:
            if value in text:
                text = text.replace(value, PLACEHOLDER)
        if len(text) < _SHORTEST_MATCH:
            return text
        text = _NAMED.sub(_keep_name, text)  # first: it reads the AWS key id beside a secret
        text = API_KEY.sub(PLACEHOLDER, text)
        if "PRIVATE KEY-----" in text:
            text = _PRIVATE_KEY.sub(PLACEHOLDER, text)
        if "earer" in text or "EARER" in text:
            text = _BEARER.sub(lambda m: m.group(1) + PLACEHOLDER, text)
        return text

    def url(self, url: str) -> str:
        parts = urlsplit(url)
        if parts.query:
            query = [
                (k, PLACEHOLDER if k.lower() in SECRET_PARAMS else v)
                for k, v in parse_qsl(parts.query, keep_blank_values=True)
            ]
            # urlencode would escape the placeholder's brackets: keep it readable.
            encoded = urlencode(query).replace("%3CREDACTED%3E", PLACEHOLDER)
            parts = parts._replace(query=encoded)
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", f":{PLACEHOLDER}@")
            parts = parts._replace(netloc=netloc)
        return self.text(urlunsplit(parts))

    def value(self, value: Any) -> Any:
        """A copy of JSON-like data with every string redacted (keys included); a value under
        a secret's name (``aws_secret_access_key``, ``api-key``) as :data:`_NAMED` reads it in
        text."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {
                (self.text(k) if isinstance(k, str) else k): (
                    PLACEHOLDER if _secret_by_name(k, v) else self.value(v)
                )
                for k, v in value.items()
            }
        if isinstance(value, (list, tuple)):
            return [self.value(v) for v in value]
        return value

    def headers(self, headers: Mapping[str, Any]) -> dict[str, Any]:
        """Headers without the secret ones; remaining values redacted as text."""
        kept: dict[str, Any] = {}
        for name, values in headers.items():
            if secret_header(name):
                continue
            if isinstance(values, list):
                kept[name] = [self.text(v) if isinstance(v, str) else v for v in values]
            else:
                kept[name] = self.text(values) if isinstance(values, str) else values
        return kept

    def remember_headers(self, headers: Mapping[str, Any]) -> None:
        """Learn the secret values in credential headers, so copies elsewhere are caught."""
        found = []
        for name, values in headers.items():
            if not secret_header(name):
                continue
            for value in values if isinstance(values, list) else [values]:
                if isinstance(value, bytes):
                    value = value.decode("latin-1")
                if isinstance(value, str):
                    found.append(value)
                    scheme, _, token = value.partition(" ")
                    if token and scheme.lower() in ("bearer", "basic", "token"):
                        found.append(token)
        self.add(found)
        LEARNED.add(found)


def _secret_by_name(key: Any, value: Any) -> bool:
    """Whether ``value``, stored under ``key``, is a secret by that name (every name
    :data:`_NAMED` knows ends in "key")."""
    if not (isinstance(key, str) and isinstance(value, str) and "key" in key.lower()):
        return False
    text = f"{key}: {value}"
    match = _NAMED.search(text)
    if match is None or match.end() != len(text):
        return False
    secret = 2 if match.group(2) is not None else 4 if match.group(4) is not None else 6
    return match.start(secret) == len(key) + 2


def _keep_name(match: re.Match[str]) -> str:
    """A :data:`_NAMED` match with its name kept and its value replaced."""
    for name in (1, 3, 5):
        if match.group(name) is not None:
            return match.group(name) + PLACEHOLDER
    return PLACEHOLDER


def redact_document(data: Any) -> Any:
    """A JSON-like document (a report, a trajectory) with every string redacted."""
    return Redactor().value(data)
