"""What ``forbid_output`` rules look for in text: personal data and secrets.

- the text of steps, many texts scanned as one (:class:`JoinedText`, :func:`json_text`);
- the :class:`Detector` objects that find personal data and secrets in it (:data:`DETECTORS`,
  :func:`regex_detector`), masked for messages (:func:`mask`, :func:`redact`).

The built-in detectors are tuned to miss little while staying quiet on the numbers agents
print all the time: order numbers (``ORD-1001``), prices, dates, times, IP addresses and bare
ids.  Every regex here runs in linear time: runs are matched greedily with nothing after them
that could force backtracking, and the fiddly decisions (digit counts, Luhn) are made in
Python on each candidate.
"""

from __future__ import annotations

import bisect
import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pytest_agentops.redact import API_KEY

from .patterns import Pattern
from .values import is_number

# ---- text ------------------------------------------------------------------------------------

_JSON = json.JSONEncoder(ensure_ascii=False, default=str)
#: The same text without the check for reference cycles (about 10% faster); a cycle recurses
#: until RecursionError instead of raising ValueError, and callers fall back to :data:`_JSON`.
_FAST_JSON = json.JSONEncoder(ensure_ascii=False, default=str, check_circular=False)


def json_text(value: Any) -> str:
    """``value`` as JSON (``str()`` for what JSON cannot hold; ``repr`` if even that fails)."""
    try:
        return _JSON.encode(value)
    except (TypeError, ValueError, RecursionError):  # odd keys, cycles, absurd nesting
        return repr(value)


#: Between joined texts: a line holding a NUL character, which no built-in detector crosses.
_SEPARATOR = "\n\x00\n"


class JoinedText:
    """Many texts as one, so that a detector scans them all in one pass.

    One pass over a long text costs far less than one pass per short text; :meth:`owner`
    tells which of the texts a match is in.
    """

    def __init__(self, text: str, starts: Callable[[], list[int]]) -> None:
        self.text = text
        self._starts = starts
        self._known_starts: list[int] | None = None

    @classmethod
    def of_texts(cls, texts: list[str]) -> JoinedText:
        """The texts, with :data:`_SEPARATOR` between them."""
        starts = [0, *itertools.accumulate(len(text) + len(_SEPARATOR) for text in texts)]
        return cls(_SEPARATOR.join(texts), lambda: starts[:-1])

    @classmethod
    def of_json(cls, values: list[Any]) -> JoinedText:
        """Values as one JSON list; where each starts is worked out only if something matched."""
        try:
            text = _FAST_JSON.encode(values)
        except (TypeError, ValueError, RecursionError):
            text = "[" + ", ".join(map(json_text, values)) + "]"

        def starts() -> list[int]:
            ends = itertools.accumulate(len(json_text(value)) + 2 for value in values)
            return [1, *ends][: len(values)]  # after "[", then after each ", "

        return cls(text, starts)

    def owner(self, offset: int) -> int:
        """The index of the text that holds ``offset`` in :attr:`text`."""
        if self._known_starts is None:
            self._known_starts = self._starts()
        return max(bisect.bisect_right(self._known_starts, offset) - 1, 0)


# ---- detectors -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Detector:
    """Finds one kind of forbidden text; ``label`` names it in a sentence ("an email address").

    ``find(text)`` yields ``(offset, matched text)`` pairs.  Built-in detectors first make a
    cheap test (a substring the match needs) so that most texts cost almost nothing.
    """

    name: str
    label: str
    find: Callable[[str], Iterator[tuple[int, str]]]


def regex_detector(pattern: Pattern) -> Detector:
    """A detector for a user's ``{regex: ...}`` pattern (``re.search`` semantics, bounded)."""
    return Detector(name="regex", label=f"text matching /{pattern.pattern}/", find=pattern.finditer)


def mask(secret: str) -> str:
    """Show a secret without revealing it: its first few characters and its length."""
    keep = min(4, len(secret) // 4)
    return f"{secret[:keep]}… ({len(secret)} chars)"


def redact(value: Any, detectors: Iterable[Detector], numbers: bool = True) -> Any:
    """``value`` with everything the detectors find in it masked (strings, and numbers unless
    ``numbers`` is False)."""
    if isinstance(value, dict):
        return {key: redact(item, detectors, numbers) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item, detectors, numbers) for item in value]
    if not (isinstance(value, str) or (numbers and is_number(value))):
        return value
    text = original = str(value)
    for detector in detectors:
        for found in {found for _, found in detector.find(text)}:
            text = text.replace(found, mask(found))
    return value if text == original else text


_ZERO_DIGITS = str.maketrans("0123456789", "0000000000")
_DROP_DIGITS = str.maketrans("", "", "0123456789")


# ---- email ---------------------------------------------------------------------------------
# Found from each "@": the local part just before it (at most 64 characters, as in RFC 5321),
# then the whole address.  Scanning a long text with the address regex would cost far more.
_EMAIL_LOCAL = re.compile(r"[\w.%+-]{1,64}$")
_EMAIL = re.compile(r"[\w.%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}\b")


def _find_emails(text: str) -> Iterator[tuple[int, str]]:
    end = 0  # of the last address found
    at = text.find("@")
    while at >= 0:
        local = _EMAIL_LOCAL.search(text, max(at - 64, end), at)
        match = _EMAIL.match(text, local.start()) if local else None
        if match:
            end = match.end()
            yield match.start(), match.group()
        at = text.find("@", max(at + 1, end))


# ---- phone numbers -------------------------------------------------------------------------
# A candidate is a maximal run of digit groups joined by single separators, optionally led by
# "+" and with groups in parentheses: "+44 (0)20 7946 0958", "(415) 555-2671", "06 12 34 56 78".
# It must not be glued to a word, an amount or a code ("ORD-1001", "$1 250", "#4411").
_PHONE_RUN = re.compile(r"(?<![\w+#$€£/.,-])\+?\(?\d+\)?(?:[ .-]?\(?\d+\)?)*")
_DIGITS = re.compile(r"\d+")
_DATE_START = re.compile(r"(?:19|20)\d\d[-./ ](?:0?[1-9]|1[0-2])(?:[-./ ]|$)")


def _is_phone(candidate: str, following: str) -> bool:
    if following[:1].isalnum() or following[:1] == "_":
        return False  # glued to a word: an id such as 555-123-4567x
    if following[:1] in ".,:/" and following[1:2].isdigit():
        return False  # a decimal, a time or a path goes on: "1 234 567.89", "2024-01-15 10:30"
    groups = _DIGITS.findall(candidate)
    if not 10 <= sum(len(group) for group in groups) <= 15:
        return False
    if candidate.startswith("+"):
        return True  # "+14155552671" is E.164: anything led by "+" is meant as a phone number
    if len(groups) < 2 or _DATE_START.match(candidate):
        return False  # a bare run of digits is more likely an id or a timestamp
    # "1 234 567 890", "192.168.100.200" and "1234 5678 9012" are grouped numbers, not phones.
    tail = {len(group) for group in groups[1:]}
    return tail != {3} and not (tail == {4} and len(groups[0]) == 4)


def _find_phones(text: str) -> Iterator[tuple[int, str]]:
    if len(text) - len(text.translate(_DROP_DIGITS)) < 10:
        return
    for match in _PHONE_RUN.finditer(text):
        candidate = match.group()
        if _is_phone(candidate, text[match.end() : match.end() + 2]):
            yield match.start(), candidate


# ---- credit card numbers -------------------------------------------------------------------
# A candidate is a run of at least 13 digits, with single spaces or dashes between groups.
_CARD_RUN = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12}(?:[ -]?\d)*")
_CARD_SEPARATOR = re.compile(r"[ -]")
#: A card number holds one of these once its digits are zeroed: 13 digits in a row, or a
#: group of four followed by a separator and at least three more digits.
_CARD_SHAPES = ("0" * 13, "0000 000", "0000-000")


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum that every payment card number satisfies."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card_numbers(run: str) -> Iterator[tuple[int, str]]:
    """Card numbers in a run: one group of 13-19 digits, or groups like 4-4-4-4 and 4-6-5."""
    groups = _CARD_SEPARATOR.split(run)
    starts = [0]
    for group in groups:
        starts.append(starts[-1] + len(group) + 1)
    first = 0
    while first < len(groups):
        end = _card_end(groups, first)
        if end is None:
            first += 1
        else:
            yield starts[first], run[starts[first] : starts[end] - 1]
            first = end


def _card_end(groups: list[str], first: int) -> int | None:
    """One past the last group of the longest valid card number from ``groups[first]``."""
    if 13 <= len(groups[first]) <= 19:
        return first + 1 if luhn_valid(groups[first]) else None
    if len(groups[first]) != 4:
        return None
    digits, end = groups[first], None
    for last in range(first + 1, len(groups)):
        if not 3 <= len(groups[last]) <= 6 or len(digits) + len(groups[last]) > 19:
            break
        digits += groups[last]
        if len(digits) >= 13 and luhn_valid(digits):
            end = last + 1
    return end


def _find_cards(text: str) -> Iterator[tuple[int, str]]:
    zeroed = text.translate(_ZERO_DIGITS)
    if not any(shape in zeroed for shape in _CARD_SHAPES):
        return
    for match in _CARD_RUN.finditer(text):
        following = text[match.end() : match.end() + 1]
        if not (following.isalnum() or following == "_"):
            for offset, number in _card_numbers(match.group()):
                yield match.start() + offset, number


# ---- API keys ------------------------------------------------------------------------------
_API_KEY = API_KEY
#: Where keys are looked for: each occurrence of a prefix, minus the characters before it.
_API_KEY_ANCHORS = (
    ("sk-", 0),
    ("AKIA", 0),
    ("ASIA", 0),
    ("gh", 0),
    ("github_pat_", 0),
    ("xox", 0),
    ("AIza", 0),
    ("ya29.", 0),
    ("k_live_", 1),
    ("k_test_", 1),
    ("hf_", 0),
    ("gsk_", 0),
    ("eyJ", 0),
)


def _find_api_keys(text: str) -> Iterator[tuple[int, str]]:
    found: dict[int, str] = {}
    for anchor, before in _API_KEY_ANCHORS:
        at = text.find(anchor)
        while at >= 0:
            match = _API_KEY.match(text, max(at - before, 0))
            if match:
                found[match.start()] = match.group()
            at = text.find(anchor, at + 1)
    for start in sorted(found):
        yield start, found[start]


#: The built-in ``pii`` detectors of ``forbid_output``, by name.
DETECTORS: dict[str, Detector] = {
    detector.name: detector
    for detector in (
        Detector("email", "an email address", _find_emails),
        Detector("phone", "a phone number", _find_phones),
        Detector("credit_card", "a credit card number", _find_cards),
        Detector("api_key", "an API key", _find_api_keys),
    )
}
