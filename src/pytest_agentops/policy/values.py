"""JSON values as policy rules compare them: no pydantic, no YAML.

- JSON-value equality (:func:`~pytest_agentops._util.canonical`; for a column of values,
  :func:`canonical_values`; for the items of mappings, :func:`members`; for arguments,
  :func:`arguments_key`) and dotted paths into arguments (:func:`resolve`);
- condition operators compiled to predicates, for one value or a whole column of them
  (:func:`compile_checks`, :func:`failure`, :func:`failing`).
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Hashable, Iterable
from itertools import repeat
from typing import Any, NamedTuple

from pytest_agentops._util import MAP, canonical, short

from .patterns import Pattern


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


#: What :func:`resolve` returns for a path that leads nowhere.
MISSING = _Missing()


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
    if not (type(form) is tuple and form[0] is MAP):  # canonical() tags what is not plain
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
    return short(value, limit, "…")


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
    search = Pattern(pattern).search  # bounded: raises PatternTimeout

    def bulk(values: list[Any], types: set[type]) -> Iterable[Any] | None:
        return map(search, values) if types <= _STR else None

    return (lambda value: search(str(value))), bulk


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
