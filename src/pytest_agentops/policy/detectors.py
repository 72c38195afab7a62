"""What policy rules look for in a trajectory's values: pure matching, no pydantic, no YAML.

- JSON-value equality (:func:`canonical`; for a column of values, :func:`canonical_values`;
  for the items of mappings, :func:`members`) and dotted paths into arguments (:func:`resolve`);
- condition operators compiled to predicates, for one value or a whole column of them
  (:func:`compile_checks`, :func:`failure`, :func:`failing`);
- the text of steps (:func:`message_text`, :class:`JoinedText`) and the :class:`Detector`
  objects that find personal data and secrets in it, masked for messages (:func:`mask`).

The built-in detectors (:data:`DETECTORS`) are tuned to miss little while staying quiet on the
numbers agents print all the time: order numbers (``ORD-1001``), prices, dates, times, IP
addresses and bare ids.  Every regex here runs in linear time: runs are matched greedily with
nothing after them that could force backtracking, and the fiddly decisions (digit counts,
Luhn) are made in Python on each candidate.
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
import operator
import re
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from itertools import repeat
from typing import Any, NamedTuple

from pytest_agentops.redact import API_KEY


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


#: What :func:`resolve` returns for a path that leads nowhere.
MISSING = _Missing()
_BOOL, _LIST, _MAP, _OTHER = (object() for _ in range(4))


def canonical(value: Any) -> Hashable:
    """A hashable stand-in for a JSON value, equal exactly when the values are equal as JSON.

    Key order is ignored, ``250 == 250.0``, and ``true`` is not ``1``.
    """
    if type(value) is str or type(value) is int or value is None:
        return value
    if isinstance(value, bool):
        return (_BOOL, value)
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, int):  # IntEnum and friends
        return int(value)
    if isinstance(value, str):
        return str.__str__(value)  # the text, not an enum member's name
    if isinstance(value, dict):
        return (_MAP, frozenset((str(key), canonical(item)) for key, item in value.items()))
    if isinstance(value, (list, tuple)):
        return (_LIST, tuple(canonical(item) for item in value))
    return (_OTHER, repr(value))


def arguments_key(arguments: dict[str, Any]) -> Hashable:
    """Equal for equal arguments (as :func:`canonical`), fast for flat str/int arguments."""
    if all(type(value) is str or type(value) is int for value in arguments.values()):
        return frozenset(arguments.items())
    return frozenset((key, canonical(value)) for key, value in arguments.items())


def canonical_values(values: list[Any]) -> list[Any]:
    """:func:`canonical` of each value, with :data:`MISSING` left as it is."""
    if set(map(type, values)) <= _STR_INT:
        return values
    return [
        value if type(value) is str or type(value) is int or value is MISSING else canonical(value)
        for value in values
    ]


_NOT_A_MAPPING, _SEVERAL = object(), object()


def members(values: list[Any], key: str) -> list[Hashable]:
    """For each value, a function of its :func:`canonical` form (values equal as JSON have equal
    members): for a mapping, the canonical value of its item ``key`` (:data:`MISSING` if it has
    none).  C-level passes for dicts with string keys, the usual arguments.
    """
    try:
        found = list(map(dict.get, values, repeat(key), repeat(MISSING)))
    except TypeError:  # not all of them are dicts
        pass
    else:  # checked after the lookups, when the dicts are in the CPU cache
        key_types = set(map(type, itertools.chain.from_iterable(values)))
        if set(map(type, values)) == {dict} and key_types <= _STR:
            return canonical_values(found)
    return [_member(value, key) for value in values]


def _member(value: Any, key: str) -> Hashable:
    form = canonical(value)
    if not (type(form) is tuple and form[0] is _MAP):  # canonical() tags what is not plain
        return _NOT_A_MAPPING
    # canonical() turns keys into strings, so 1 and "1" are both the item "1"
    found: set[Hashable] = {item for name, item in form[1] if name == key}
    if len(found) == 1:
        return found.pop()
    return (_SEVERAL, frozenset(found)) if found else MISSING


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def resolve(value: Any, parts: tuple[str, ...]) -> Any:
    """Follow a split dotted path (``customer.id``, ``items.0.sku``) into mappings and lists."""
    for part in parts:
        if isinstance(value, dict):
            value = value.get(part, MISSING)
        elif isinstance(value, list) and part.isdecimal() and int(part) < len(value):
            value = value[int(part)]
        else:
            return MISSING
    return value


def show(value: Any, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def number_text(value: float) -> str:
    """``500.0`` as ``500``, other numbers as they are."""
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


# ---- condition operators ---------------------------------------------------------------------

OPERATORS = ("eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "regex")
_ORDERING: dict[str, tuple[str, Callable[[Any, Any], bool]]] = {
    "lt": ("<", operator.lt),
    "le": ("<=", operator.le),
    "gt": (">", operator.gt),
    "ge": (">=", operator.ge),
}


#: ``bulk(values, types)``: ``holds`` of each of ``values`` in one C-level pass, or ``None``
#: unless ``types`` (the exact types of the values) are all types it treats exactly as ``holds``.
Bulk = Callable[[list[Any], set[type]], Iterable[Any] | None]
_STR: frozenset[type] = frozenset({str})
_STR_INT: frozenset[type] = frozenset({str, int})
_NUMBERS: frozenset[type] = frozenset({int, float})


class Check(NamedTuple):
    """One compiled operator: ``holds(value)``, and what it requires in words ("<= 500")."""

    holds: Callable[[Any], bool]
    expected: str
    #: ``holds`` takes numbers only: anything else fails as "expected a number ...".
    numeric: bool = False
    #: ``holds`` for many values at once (see :func:`failing`).
    bulk: Bulk | None = None


def _equal_to(expected: Any, negate: bool) -> tuple[Callable[[Any], bool], Bulk]:
    key = canonical(expected)
    compare = operator.ne if negate else operator.eq

    def bulk(values: list[Any], types: set[type]) -> Iterable[Any] | None:
        # canonical() of a str or an int is the value itself
        return map(compare, values, repeat(key)) if types <= _STR_INT else None

    return (lambda value: (canonical(value) == key) != negate), bulk


def _one_of(items: Iterable[Any], negate: bool) -> tuple[Callable[[Any], bool], Bulk]:
    keys = frozenset(canonical(item) for item in items)

    def bulk(values: list[Any], types: set[type]) -> Iterable[Any] | None:
        if not types <= _STR_INT:
            return None
        found = map(keys.__contains__, values)
        return map(operator.not_, found) if negate else found

    return (lambda value: (canonical(value) in keys) != negate), bulk


def _compared(
    compare: Callable[[Any, Any], bool], bound: float
) -> tuple[Callable[[Any], bool], Bulk]:
    def bulk(values: list[Any], types: set[type]) -> Iterable[Any] | None:
        return map(compare, values, repeat(bound)) if types <= _NUMBERS else None

    return (lambda value: compare(value, bound)), bulk


def _searched(pattern: str) -> tuple[Callable[[Any], bool], Bulk]:
    search = re.compile(pattern).search

    def bulk(values: list[Any], types: set[type]) -> Iterable[Any] | None:
        return map(search, values) if types <= _STR else None  # a match is truthy

    return (lambda value: search(str(value)) is not None), bulk


def compile_checks(operators: dict[str, Any]) -> tuple[Check, ...]:
    """Predicates for validated operators (:data:`OPERATORS`), in that order.

    ``eq``/``ne``/``in``/``not_in`` compare as JSON (:func:`canonical`); ``lt``..``ge`` take
    numbers; ``regex`` is ``re.search`` on ``str(value)``.
    """
    checks = []
    for name in OPERATORS:
        if name not in operators:
            continue
        operand = operators[name]
        if name in ("eq", "ne"):
            text = show(operand) if name == "eq" else f"anything but {show(operand)}"
            holds, bulk = _equal_to(operand, negate=name == "ne")
            checks.append(Check(holds, text, bulk=bulk))
        elif name in _ORDERING:
            symbol, compare = _ORDERING[name]
            holds, bulk = _compared(compare, operand)
            checks.append(Check(holds, f"{symbol} {number_text(operand)}", True, bulk))
        elif name in ("in", "not_in"):
            shown = ", ".join(show(item) for item in operand)
            text = f"one of {shown}" if name == "in" else f"none of {shown}"
            holds, bulk = _one_of(operand, negate=name == "not_in")
            checks.append(Check(holds, text, bulk=bulk))
        else:
            holds, bulk = _searched(operand)
            checks.append(Check(holds, f"a match for /{operand}/", bulk=bulk))
    return tuple(checks)


def failure(checks: tuple[Check, ...], value: Any) -> str | None:
    """What ``value`` should have been if it fails a check (the first); else ``None``."""
    for check in checks:
        if check.numeric and not is_number(value):
            return f"a number {check.expected}"
        if not check.holds(value):
            return check.expected
    return None


def failing(checks: tuple[Check, ...], values: list[Any]) -> list[int]:
    """The indexes of the values that are :data:`MISSING` or fail a check, in order.

    The same as testing each value with :func:`failure`, but done by each check's ``bulk`` in
    C-level passes when the values' types allow it (ids, amounts, codes: they usually do).
    """
    types = set(map(type, values))
    passes = []
    for check in checks:
        holds = check.bulk(values, types) if check.bulk is not None else None
        if holds is None:
            return [
                number
                for number, value in enumerate(values)
                if value is MISSING or failure(checks, value) is not None
            ]
        passes.append(holds)
    bad: set[int] = set()  # MISSING is of no type that a bulk check takes
    for holds in passes:
        bad.update(itertools.compress(itertools.count(), map(operator.not_, holds)))
    return sorted(bad)


def is_plain(value: Any) -> bool:
    """Whether ``value`` is JSON data (YAML can also give dates, sets, non-string keys...)."""
    if value is None or isinstance(value, (str, int)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(is_plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and is_plain(item) for key, item in value.items())
    return False


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


def message_text(message: dict[str, Any] | None) -> str:
    """The text of a model message: string content, or the text parts of a list of parts."""
    content = (message or {}).get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [part.get("text") if isinstance(part, dict) else part for part in content]
        return "\n".join(part for part in parts if isinstance(part, str))
    return ""


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


def regex_detector(pattern: re.Pattern[str]) -> Detector:
    """A detector for a user's ``{regex: ...}`` pattern (``re.search`` semantics)."""

    def find(text: str) -> Iterator[tuple[int, str]]:
        for match in pattern.finditer(text):
            yield match.start(), match.group()

    return Detector(name="regex", label=f"text matching /{pattern.pattern}/", find=find)


def mask(secret: str) -> str:
    """Show a secret without revealing it: its first few characters and its length."""
    keep = min(4, len(secret) // 4)
    return f"{secret[:keep]}… ({len(secret)} chars)"


def redact(value: Any, detectors: Iterable[Detector]) -> Any:
    """``value`` with everything the detectors find in it masked (strings and numbers)."""
    if isinstance(value, dict):
        return {key: redact(item, detectors) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item, detectors) for item in value]
    if not (isinstance(value, str) or is_number(value)):
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
    ("k_live_", 1),
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
