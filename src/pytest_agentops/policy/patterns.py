"""The regexes of a policy, with bounded work: trace text is attacker-controlled.

Python's ``re`` backtracks without limit, so a pattern such as ``(?:x+x+)+y`` on a few thousand
characters of a production trace would hang ``pytest-agentops check``.  A policy's patterns are
written and validated in ``re`` syntax (its messages name the position of a mistake) and run
by the ``regex`` package (already installed with litellm, through tiktoken), whose searches
take a timeout: past :data:`REGEX_TIMEOUT_S` on one text the search stops with
:class:`PatternTimeout`, and the rule reports that it could not be checked.  The ``regex``
engine is compiled on first use, so loading a policy of thousands of patterns stays fast.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

#: Seconds one search of one text may take before the rule is reported as not checked.
REGEX_TIMEOUT_S = 1.0


class PatternTimeout(Exception):
    """A policy regex did not finish on a text within :data:`REGEX_TIMEOUT_S`."""

    def __init__(self, pattern: str, length: int) -> None:
        super().__init__(
            f"regex /{pattern}/ did not finish within {REGEX_TIMEOUT_S:g} s on a "
            f"{length}-character text (catastrophic backtracking: nested repetition such as "
            "(a+)+ takes exponential time on some texts), so the rule could not be checked: "
            "rewrite the pattern so that each part of a text can match in only one way"
        )
        self.pattern = pattern
        self.length = length


class Pattern:
    """A policy regex: ``re`` syntax and semantics, every search bounded in time."""

    __slots__ = ("_engine", "pattern")

    def __init__(self, pattern: str) -> None:
        re.compile(pattern)  # re's syntax and messages: raises re.error
        self.pattern = pattern
        self._engine: Any = None

    def _compiled(self) -> Any:
        engine = self._engine
        if engine is None:
            import regex

            try:
                engine = regex.compile(self.pattern)
            except regex.error:  # re syntax regex (V0) does not read: run it unbounded
                engine = _Unbounded(re.compile(self.pattern))
            self._engine = engine
        return engine

    def search(self, text: str) -> bool:
        """Whether ``text`` contains a match (``re.search``)."""
        try:
            return self._compiled().search(text, timeout=REGEX_TIMEOUT_S) is not None
        except TimeoutError:
            raise PatternTimeout(self.pattern, len(text)) from None

    def finditer(self, text: str) -> Iterator[tuple[int, str]]:
        """Where each match starts, and its text (``re.finditer``)."""
        try:
            for match in self._compiled().finditer(text, timeout=REGEX_TIMEOUT_S):
                yield match.start(), match.group()
        except TimeoutError:
            raise PatternTimeout(self.pattern, len(text)) from None


class _Unbounded:
    """An ``re`` pattern with the ``regex`` call signature (``timeout`` is ignored)."""

    __slots__ = ("_compiled",)

    def __init__(self, compiled: re.Pattern[str]) -> None:
        self._compiled = compiled

    def search(self, text: str, timeout: float) -> re.Match[str] | None:
        return self._compiled.search(text)

    def finditer(self, text: str, timeout: float) -> Iterator[re.Match[str]]:
        return self._compiled.finditer(text)
