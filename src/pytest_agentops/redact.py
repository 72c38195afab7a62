"""Secrets out of everything written to disk: cassettes, tool recordings, traces and reports.

Standard library only.  Three layers, each cheap:

- header names that carry credentials (``authorization``, ``x-api-key``, ``api-key``,
  ``openai-organization``, ``cookie``, provider-specific ones) are dropped;
- URL query parameters that carry keys (``key``, ``api_key``, ``access_token``...) are
  replaced with :data:`PLACEHOLDER`;
- in any text (bodies, URLs, tool results), well-known API-key shapes (OpenAI/Anthropic
  ``sk-...``, AWS, GitHub, Slack, Google, Stripe), ``Bearer`` tokens, and the values of
  secret-looking environment variables (``*_API_KEY``, ``*_TOKEN``, ``*_SECRET``...) are
  replaced with :data:`PLACEHOLDER`.
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
    r"|[rs]k_live_[A-Za-z0-9]{20,}"  # Stripe live keys
    r")(?![\w-])",
    re.ASCII,
)
_BEARER = re.compile(r"(?i)\b(bearer\s+)[^\s\"',;]{8,}")
_SECRET_ENV_NAME = re.compile(
    r"(API_?KEY|_TOKEN|_SECRET|SECRET_KEY|_PASSWORD|ACCESS_KEY)$", re.IGNORECASE
)
#: Environment values shorter than this are not treated as secrets (too likely to be words).
_MIN_SECRET_LEN = 8


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


class Redactor:
    """Replaces secrets in text; ``extra`` values (e.g. keys seen in auth headers) too."""

    def __init__(self, extra: Iterable[str] = ()) -> None:
        self._values: list[str] = []
        self.add(env_secrets())
        self.add(extra)

    def add(self, values: Iterable[str]) -> None:
        new = {v for v in values if len(v) >= _MIN_SECRET_LEN and v not in self._values}
        if new:
            self._values = sorted({*self._values, *new}, key=len, reverse=True)

    def text(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, PLACEHOLDER)
        text = API_KEY.sub(PLACEHOLDER, text)
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
        """A copy of JSON-like data with every string redacted (keys included)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {
                (self.text(k) if isinstance(k, str) else k): self.value(v) for k, v in value.items()
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
