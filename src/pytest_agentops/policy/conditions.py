"""What rules are made of: strict frozen models, conditions on values, and author-facing text.

:class:`Condition` is the operator mapping of ``args`` and ``when`` (``{le: 500}``), compiled
to predicates by :mod:`.values` as soon as it loads.  The helpers that phrase a YAML value
for a policy's author (:func:`_yaml_value`, :func:`_suggest`) are shared with :mod:`.loading`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from functools import cached_property
from typing import Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from pytest_agentops._util import is_json_data

from . import values as jv
from .patterns import Pattern


def _invalid(message: str, key: Any = None) -> PydanticCustomError:
    """A validation error with a finished message; ``key`` points it at that key's line."""
    return PydanticCustomError("policy", message, None if key is None else {"policy_key": key})


def _split_path(path: str) -> tuple[str, ...]:
    parts = tuple(path.split("."))
    if not all(parts):
        raise _invalid(
            f"path {path!r} has an empty part: separate names with single dots, e.g. customer.id",
            key=path,
        )
    return parts


def _compile_regex(pattern: str) -> Pattern:
    try:
        return Pattern(pattern)
    except re.error as exc:
        raise _invalid(f"invalid regular expression {pattern!r}: {exc}") from None


class _Strict(BaseModel):
    """Strict types, frozen, and an unknown key is an error that lists the allowed ones."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)

    _key_noun: ClassVar[str] = "key"
    _key_hint: ClassVar[str] = ""

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        data = cls._prepare(data)
        if isinstance(data, dict):
            allowed = [field.alias or name for name, field in cls.model_fields.items()]
            for key in data:
                if key not in allowed:
                    raise _invalid(
                        f"unknown {cls._key_noun} {key!r} (allowed here: {', '.join(allowed)})"
                        f"{_suggest(key, allowed) or cls._key_hint}",
                        key=key,
                    )
        return data

    @classmethod
    def _prepare(cls, data: Any) -> Any:
        """Normalise or reject the raw input before its keys and fields are validated."""
        return data


class Condition(_Strict):
    """Operators that must all hold for one value; a bare value is shorthand for ``eq``.

    Numbers compare as numbers (``250 == 250.0``) and ``true`` is not a number;
    ``regex`` is ``re.search`` on ``str(value)``.
    """

    _key_noun: ClassVar[str] = "condition operator"
    _key_hint: ClassVar[str] = "; to test a nested value, use a dotted path such as customer.id"

    eq: Any = None
    ne: Any = None
    lt: float | None = None
    le: float | None = None
    gt: float | None = None
    ge: float | None = None
    in_: list[Any] | None = Field(default=None, alias="in")
    not_in: list[Any] | None = None
    regex: str | None = None

    @classmethod
    def _prepare(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return {"eq": data}
        if not data:
            raise _invalid(f"empty condition: give an operator ({', '.join(jv.OPERATORS)})")
        return data

    @field_validator("lt", "le", "gt", "ge", "in_", "not_in", "regex", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise _invalid("this operator needs a value, not null")
        return value

    @field_validator("eq", "ne", "in_", "not_in")
    @classmethod
    def _plain(cls, value: Any) -> Any:
        if not is_json_data(value):
            raise _invalid(
                f"values must be plain data (string, number, true/false, null, list or "
                f"mapping), not {_yaml_value(value)}; put dates and times in quotes"
            )
        return value

    @field_validator("regex")
    @classmethod
    def _valid_regex(cls, pattern: str) -> str:
        _compile_regex(pattern)
        return pattern

    @model_serializer(mode="wrap")
    def _given_only(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Only the operators given, as written (``in``, not ``in_``): it loads back as it was."""
        written = {name: self._written(name) for name in self.model_fields_set}
        written |= {operator: operator for operator in written.values()}
        data: dict[str, Any] = handler(self)
        return {written[key]: value for key, value in data.items() if key in written}

    @classmethod
    def _written(cls, name: str) -> str:
        return cls.model_fields[name].alias or name

    def model_post_init(self, context: Any, /) -> None:
        _ = self.checks  # compiled now: a condition that loads is ready to check

    @cached_property
    def checks(self) -> tuple[jv.Check, ...]:
        """The operators compiled to predicates (see :func:`.values.failure`)."""
        given = {self._written(name): getattr(self, name) for name in self.model_fields_set}
        return jv.compile_checks(given)


def _suggest(key: Any, allowed: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(key), list(allowed), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _a(value: Any) -> str:
    """``value`` as its YAML author knows it: "a mapping", "a list", or the value itself."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return _yaml_value(value)


def _yaml_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return _a(value)
    if hasattr(value, "isoformat"):  # YAML reads 2024-01-15 as a date
        return f"{value.isoformat()} (a date)"
    return jv.show(value)
