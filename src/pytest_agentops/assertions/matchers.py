"""Matchers for expected tool-call arguments, usable at any depth of an expected value.

``call("refund", order_id=Regex(r"ORD-\\d+"), amount=Lt(100), items=[ANY, {"sku": OneOf("a")}])``

Comparison rules (:func:`values_match`):

* ``exact``: deep equality; numbers compare by value (``250 == 250.0``) but ``True`` is not
  ``1``; dict key order is ignored; list order matters.
* ``partial``: like exact, but a dict only needs the expected keys (recursively); lists still
  compare element by element and must have the same length.
* A matcher anywhere in the expected value decides for the actual value at that position.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any


class Matcher:
    """Base class: ``matches(actual)`` decides, ``repr`` is what failure messages show."""

    def matches(self, actual: Any) -> bool:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:  # so matchers also work inside plain `==`
        return self.matches(other)

    def __ne__(self, other: object) -> bool:
        return not self.matches(other)

    __hash__ = None  # type: ignore[assignment]


class _Any(Matcher):
    def matches(self, actual: Any) -> bool:
        return True

    def __repr__(self) -> str:
        return "ANY"


#: Matches any value (the argument must still be present).
ANY = _Any()


class Regex(Matcher):
    """The value is a string that matches ``pattern`` entirely (``re.fullmatch``).

    Use ``Regex(".*refund.*")`` or ``search=True`` to look for the pattern anywhere.
    """

    def __init__(self, pattern: str | re.Pattern[str], flags: int = 0, *, search: bool = False):
        self.pattern = re.compile(pattern, flags) if isinstance(pattern, str) else pattern
        self.search = search

    def matches(self, actual: Any) -> bool:
        if not isinstance(actual, str):
            return False
        found = self.pattern.search(actual) if self.search else self.pattern.fullmatch(actual)
        return found is not None

    def __repr__(self) -> str:
        extra = ", search=True" if self.search else ""
        return f"Regex({self.pattern.pattern!r}{extra})"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Approx(Matcher):
    """A number within ``rel`` (relative) or ``abs`` (absolute) tolerance of ``expected``."""

    def __init__(self, expected: float, *, rel: float = 1e-6, abs: float = 1e-12):
        self.expected, self.rel, self.abs = expected, rel, abs

    def matches(self, actual: Any) -> bool:
        return _is_number(actual) and math.isclose(
            actual, self.expected, rel_tol=self.rel, abs_tol=self.abs
        )

    def __repr__(self) -> str:
        return f"Approx({self.expected!r}, rel={self.rel:g}, abs={self.abs:g})"


class _Compare(Matcher):
    symbol = ""

    def __init__(self, bound: Any):
        self.bound = bound

    def _holds(self, actual: Any) -> bool:
        raise NotImplementedError

    def matches(self, actual: Any) -> bool:
        if _is_number(self.bound):
            if not _is_number(actual):
                return False
        elif type(actual) is not type(self.bound):
            return False
        try:
            return bool(self._holds(actual))
        except TypeError:
            return False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.bound!r})"


class Lt(_Compare):
    """A number (or comparable value of the same type) strictly less than ``bound``."""

    def _holds(self, actual: Any) -> bool:
        return bool(actual < self.bound)


class Le(_Compare):
    """Less than or equal to ``bound``."""

    def _holds(self, actual: Any) -> bool:
        return bool(actual <= self.bound)


class Gt(_Compare):
    """Strictly greater than ``bound``."""

    def _holds(self, actual: Any) -> bool:
        return bool(actual > self.bound)


class Ge(_Compare):
    """Greater than or equal to ``bound``."""

    def _holds(self, actual: Any) -> bool:
        return bool(actual >= self.bound)


class OneOf(Matcher):
    """Equal to one of ``options`` (each may itself contain matchers): ``OneOf("a", "b")``, or
    one list, tuple or set of them: ``OneOf(["a", "b"])``."""

    def __init__(self, *options: Any):
        if len(options) == 1 and isinstance(options[0], (list, tuple, set, frozenset)):
            options = tuple(options[0])
        if not options:
            raise ValueError("OneOf() needs at least one option")
        self.options = options

    def matches(self, actual: Any) -> bool:
        return any(values_match(option, actual) for option in self.options)

    def __repr__(self) -> str:
        return f"OneOf({', '.join(map(repr, self.options))})"


class Contains(Matcher):
    """A string containing every given substring, a list containing every given item (items
    may be matchers), or a dict containing every given key."""

    def __init__(self, *items: Any):
        if not items:
            raise ValueError("Contains() needs at least one item")
        self.items = items

    def matches(self, actual: Any) -> bool:
        if isinstance(actual, str):
            return all(isinstance(i, str) and i in actual for i in self.items)
        if isinstance(actual, Mapping):
            return all(i in actual for i in self.items)
        if isinstance(actual, Sequence):
            return all(any(values_match(i, a) for a in actual) for i in self.items)
        return False

    def __repr__(self) -> str:
        return f"Contains({', '.join(map(repr, self.items))})"


class Match(Matcher):
    """Any predicate: ``Match(lambda v: v.startswith("ORD-"), "an order id")``."""

    def __init__(self, predicate: Callable[[Any], bool], description: str | None = None):
        self.predicate = predicate
        self.description = description or getattr(predicate, "__name__", repr(predicate))

    def matches(self, actual: Any) -> bool:
        try:
            return bool(self.predicate(actual))
        except Exception:
            return False

    def __repr__(self) -> str:
        return f"Match({self.description})"


def values_match(expected: Any, actual: Any, partial: bool = False) -> bool:
    """Does ``actual`` satisfy ``expected`` (see the module docstring for the rules)?"""
    kind = type(expected)
    if kind is str or kind is int or kind is float:  # the common leaves, decided at once
        return type(actual) is not bool and bool(expected == actual)
    # `type(...) is dict` first: the ABC isinstance checks are slow on hot paths.
    if kind is dict or (not isinstance(expected, Matcher) and isinstance(expected, Mapping)):
        if type(actual) is not dict and not isinstance(actual, Mapping):
            return False
        if not partial and len(expected) != len(actual):
            return False
        for key, value in expected.items():
            if key not in actual or not values_match(value, actual[key], partial):
                return False
        return True
    if isinstance(expected, Matcher):
        return expected.matches(actual)
    if isinstance(expected, (list, tuple)):
        if not isinstance(actual, (list, tuple)) or len(expected) != len(actual):
            return False
        return all(values_match(e, a, partial) for e, a in zip(expected, actual, strict=True))
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if _is_number(expected) and _is_number(actual):
        return bool(expected == actual)
    return bool(expected == actual)


def contains_matcher(value: Any) -> bool:
    """Whether a matcher appears anywhere inside ``value``."""
    if isinstance(value, Matcher):
        return True
    if isinstance(value, Mapping):
        return any(contains_matcher(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(contains_matcher(v) for v in value)
    return False


def explain_mismatch(
    expected: Any, actual: Any, partial: bool = False, path: str = ""
) -> list[str]:
    """Lines describing where ``actual`` departs from ``expected`` (empty if it matches)."""
    where = path or "(value)"
    if isinstance(expected, Matcher):
        return (
            [] if expected.matches(actual) else [f"{where}: expected {expected!r}, got {actual!r}"]
        )
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        lines: list[str] = []
        for key, value in expected.items():
            sub = f"{path}.{key}" if path else str(key)
            if key not in actual:
                lines.append(f"{sub}: missing (expected {value!r})")
            else:
                lines.extend(explain_mismatch(value, actual[key], partial, sub))
        if not partial:
            lines.extend(
                f"{path + '.' if path else ''}{key}: unexpected argument (got {actual[key]!r})"
                for key in actual
                if key not in expected
            )
        return lines
    if isinstance(expected, (list, tuple)) and isinstance(actual, (list, tuple)):
        if len(expected) != len(actual):
            return [f"{where}: expected {len(expected)} items, got {len(actual)}: {actual!r}"]
        lines = []
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            lines.extend(explain_mismatch(e, a, partial, f"{path}[{i}]"))
        return lines
    if values_match(expected, actual, partial):
        return []
    return [f"{where}: expected {expected!r}, got {actual!r}"]
