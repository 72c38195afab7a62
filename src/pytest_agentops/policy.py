"""Policies: rules a trajectory must follow, written as versioned YAML and checked as data.

A policy file::

    schema_version: 1
    name: support-agent
    rules:
      - {id: never-delete, forbid_tools: [delete_account]}
      - {id: refund-cap, tool: refund, args: {amount: {le: 500}}}

is read by :func:`load_policy` and checked by :meth:`Policy.check`, which returns one
:class:`Violation` per broken rule, naming the rule, the step and the offending call.
Conditions are data: nothing in a policy file is ever evaluated as code.

Checking is linear in the number of steps: the trajectory is indexed once (tool calls by
name, LLM calls) and each rule reads only the calls it is about.  The matching itself
(conditions, JSON equality, personal-data detectors) lives in :mod:`.detectors`.
"""

from __future__ import annotations

import difflib
import itertools
import re
from abc import abstractmethod
from collections import Counter
from collections.abc import Hashable, Iterable, Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, NamedTuple

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    SerializerFunctionWrapHandler,
    Tag,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from . import detectors as d
from .errors import AgentopsError
from .models import SCHEMA_VERSION, LLMCall, MessageStep, SpanStep, Step, ToolCall, Trajectory

__all__ = [
    "AllowToolsRule",
    "ArgsRule",
    "BudgetRule",
    "Condition",
    "ForbidOutputRule",
    "ForbidToolsRule",
    "MaxRepeatsRule",
    "OutputPattern",
    "Policy",
    "PolicyError",
    "RequireBefore",
    "RequireBeforeRule",
    "RequireToolsRule",
    "Rule",
    "Violation",
    "check_policies",
    "format_violations",
    "load_policy",
    "parse_policy",
]


class PolicyError(AgentopsError, ValueError):
    """A policy file is invalid: the message names the file, the line, the rule and the fix."""


class Violation(BaseModel):
    """One broken rule: which rule, where in the trajectory, and what happened."""

    model_config = ConfigDict(extra="forbid")

    rule_id: str
    #: allow_tools, forbid_tools, require_tools, require_before, args, budget,
    #: forbid_output or max_repeats.
    kind: str
    #: One sentence: what happened, and what the rule requires.
    message: str
    #: 1-based position of the offending step in ``trajectory.steps``.
    step: int | None = None
    step_id: str | None = None
    #: ``{"name": ..., "arguments": ...}`` of the offending tool call.
    call: dict[str, Any] | None = None
    policy: str | None = None


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


def _compile_regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
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
            raise _invalid(f"empty condition: give an operator ({', '.join(d.OPERATORS)})")
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
        if not d.is_plain(value):
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
    def checks(self) -> tuple[d.Check, ...]:
        """The operators compiled to predicates (see :func:`detectors.failure`)."""
        given = {self._written(name): getattr(self, name) for name in self.model_fields_set}
        return d.compile_checks(given)


# ---- rules -----------------------------------------------------------------------------------


class _Finding(NamedTuple):
    message: str
    #: 1-based position of the offending step.
    step: int | None = None
    #: Replaces the call read from the step (``forbid_output`` masks secrets in it).
    call: dict[str, Any] | None = None


def _by_step(findings: Iterable[_Finding]) -> Iterator[_Finding]:
    return iter(sorted(findings, key=lambda f: (f.step is None, f.step or 0)))


_ToolEntry = tuple[int, ToolCall]


class _Index:
    """What rules read from a trajectory, built once per check and shared by all rules.

    Tool calls (also by name) and LLM calls with their 1-based positions, and each LLM call's
    cost, tokens and message; what only some rules need (texts for ``forbid_output``, argument
    keys for ``max_repeats``) is built on first use.
    """

    def __init__(self, trajectory: Trajectory) -> None:
        self.trajectory = trajectory
        self.steps: list[Step] = trajectory.steps
        self.tool_calls: list[_ToolEntry] = []
        self.llm_calls: list[tuple[int, LLMCall]] = []
        self.llm_costs: list[float] = []
        self.llm_tokens: list[int] = []
        self.llm_messages: list[dict[str, Any] | None] = []
        self.by_name: dict[str, list[_ToolEntry]] = {}
        for position, step in enumerate(self.steps, 1):
            if step.kind == "tool":
                entry = (position, step)
                self.tool_calls.append(entry)
                same_name = self.by_name.get(step.name)
                if same_name is None:
                    self.by_name[step.name] = [entry]
                else:
                    same_name.append(entry)
            elif step.kind == "llm":
                self.llm_calls.append((position, step))
                # Read now, while the step is in the CPU cache: a later pass over 100,000 steps
                # costs as much as this whole loop.
                self.llm_costs.append(step.cost_usd or 0.0)
                self.llm_tokens.append(step.input_tokens + step.output_tokens)
                self.llm_messages.append(step.output_message)
        self._llm_texts: list[tuple[int, str]] | None = None
        self._joined: dict[str, d.JoinedText] = {}
        self._telling_values: dict[str, tuple[list[Hashable], Counter[Hashable]]] | None = None
        self._arguments_keys: dict[int, Hashable] = {}

    def llm_texts(self) -> list[tuple[int, str]]:
        """Position and text of every LLM output that has text."""
        if self._llm_texts is None:
            positions = (position for position, _ in self.llm_calls)
            texts = zip(positions, map(d.message_text, self.llm_messages), strict=True)
            self._llm_texts = [(position, text) for position, text in texts if text]
        return self._llm_texts

    def joined_llm_texts(self) -> d.JoinedText:
        """The texts of :meth:`llm_texts` as one text."""
        if "llm" not in self._joined:
            self._joined["llm"] = d.JoinedText.of_texts([text for _, text in self.llm_texts()])
        return self._joined["llm"]

    def call_texts(self, field: Literal["arguments", "result"]) -> d.JoinedText:
        """Every tool call's arguments (or result) as JSON, in one text."""
        if field not in self._joined:
            values = [getattr(call, field) for _, call in self.tool_calls]
            self._joined[field] = d.JoinedText.of_json(values)
        return self._joined[field]

    def telling_values(self) -> dict[str, tuple[list[Hashable], Counter[Hashable]]]:
        """Per tool name: each call's value of its most telling argument, and their counts.

        Calls with equal arguments (as JSON) have equal values here, so ``max_repeats`` needs
        to compare whole arguments only among calls whose value is frequent enough.
        """
        if self._telling_values is None:
            self._telling_values = {}
            for name, calls in self.by_name.items():
                argument = _telling_argument(calls)
                values = [call.arguments.get(argument, d.MISSING) for _, call in calls]
                if not set(map(type, values)) <= {str, int}:
                    values = list(map(d.canonical, values))  # so that 250.0 counts as 250
                self._telling_values[name] = (values, Counter(values))
        return self._telling_values

    def arguments_key(self, position: int, call: ToolCall) -> Hashable:
        """:func:`detectors.arguments_key` of the call at ``position``, computed once."""
        key = self._arguments_keys.get(position)
        if key is None:
            key = self._arguments_keys[position] = d.arguments_key(call.arguments)
        return key

    def violation(self, rule: _Rule, finding: _Finding, policy: str | None) -> Violation:
        step = self.steps[finding.step - 1] if finding.step is not None else None
        call = finding.call
        if call is None and isinstance(step, ToolCall):
            call = {"name": step.name, "arguments": step.arguments}
        return Violation(
            rule_id=rule.id,
            kind=rule.kind,
            message=finding.message,
            step=finding.step,
            step_id=step.id if step is not None else None,
            call=call,
            policy=policy,
        )


def _telling_argument(calls: list[_ToolEntry], sample: int = 64) -> str:
    """The argument whose string or integer values differ most among the first calls."""
    values: dict[str, set[str | int]] = {}
    for _, call in calls[:sample]:
        for name, value in call.arguments.items():
            if type(value) is str or type(value) is int:
                values.setdefault(name, set()).add(value)
    return max(values, key=lambda name: len(values[name]), default="")


class _Rule(_Strict):
    kind: ClassVar[str]

    id: str = Field(min_length=1)
    description: str | None = None

    @abstractmethod
    def _check(self, index: _Index) -> Iterator[_Finding]:
        """The rule's findings, in step order."""


class AllowToolsRule(_Rule):
    """Only the listed tools may be called (an empty list: no tool at all)."""

    kind: ClassVar[str] = "allow_tools"
    allow_tools: list[str]

    def _check(self, index: _Index) -> Iterator[_Finding]:
        allowed = set(self.allow_tools)
        rule = f"allows only: {_names(self.allow_tools)}" if allowed else "allows none"
        return _by_step(
            _Finding(f"{name} was called, but allow_tools {rule}", position)
            for name, calls in index.by_name.items()
            if name not in allowed
            for position, _ in calls
        )


class ForbidToolsRule(_Rule):
    """The listed tools must never be called."""

    kind: ClassVar[str] = "forbid_tools"
    forbid_tools: list[str] = Field(min_length=1)

    def _check(self, index: _Index) -> Iterator[_Finding]:
        return _by_step(
            _Finding(f"{name} was called, but forbid_tools forbids it", position)
            for name in dict.fromkeys(self.forbid_tools)
            for position, _ in index.by_name.get(name, ())
        )


class RequireToolsRule(_Rule):
    """Each listed tool must have at least one successful call."""

    kind: ClassVar[str] = "require_tools"
    require_tools: list[str] = Field(min_length=1)

    def _check(self, index: _Index) -> Iterator[_Finding]:
        for name in dict.fromkeys(self.require_tools):
            calls = index.by_name.get(name, [])
            if not calls:
                happened = f"{name} was never called"
            elif all(call.error is not None for _, call in calls):
                happened = f"{name} was called {len(calls)} time(s) but never succeeded"
            else:
                continue
            yield _Finding(f"{happened}; require_tools needs at least one successful call")


#: A compiled condition: where the value is (``args``/``result`` and the path), its checks.
_Compiled = tuple[str, tuple[str, ...], tuple[d.Check, ...]]


def _compile_conditions(root: str | None, conditions: dict[str, Condition]) -> list[_Compiled]:
    """``root`` None: paths start with their root (``args.amount``); else all are under it."""
    compiled = []
    for path, condition in conditions.items():
        parts = tuple(path.split("."))
        where, parts = (root, parts) if root else (parts[0], parts[1:])
        compiled.append((where, parts, condition.checks))
    return compiled


class RequireBefore(_Strict):
    """Each call of ``tool`` that matches ``when`` needs an earlier successful call of ``first``."""

    tool: str
    first: str
    #: Conditions on the ``tool`` call; paths start with ``args.`` or ``result.``.
    when: dict[str, Condition] = Field(default_factory=dict)
    #: Argument paths whose values the earlier ``first`` call must share.
    same_args: list[str] = Field(default_factory=list)

    @field_validator("when")
    @classmethod
    def _when_paths(cls, when: dict[str, Condition]) -> dict[str, Condition]:
        for path in when:
            if _split_path(path)[0] not in ("args", "result"):
                raise _invalid(
                    f"path {path!r} in `when` must start with 'args.' (the call's arguments) "
                    f"or 'result.' (its result), e.g. 'args.{path}'",
                    key=path,
                )
        return when

    @field_validator("same_args")
    @classmethod
    def _same_paths(cls, paths: list[str]) -> list[str]:
        for path in paths:
            _split_path(path)
        return paths


class RequireBeforeRule(_Rule):
    """A tool may run only after another one succeeded (see :class:`RequireBefore`)."""

    kind: ClassVar[str] = "require_before"
    require_before: RequireBefore

    def _check(self, index: _Index) -> Iterator[_Finding]:
        spec = self.require_before
        when = _compile_conditions(None, spec.when)
        same = [tuple(path.split(".")) for path in spec.same_args]
        earlier = iter(index.by_name.get(spec.first, []))
        pending = next(earlier, None)
        succeeded = False  # some earlier call of `first` succeeded
        succeeded_with: set[Hashable | None] = set()  # ... with these same_args values
        for position, call in index.by_name.get(spec.tool, []):
            while pending is not None and pending[0] < position:
                if pending[1].error is None:
                    succeeded = True
                    succeeded_with.add(_values_key(pending[1].arguments, same))
                pending = next(earlier, None)
            if when and not _holds(when, call):
                continue
            key = _values_key(call.arguments, same)
            if key is not None and succeeded and (not same or key in succeeded_with):
                continue
            values = [d.resolve(call.arguments, parts) for parts in same]
            missing = [p for p, v in zip(spec.same_args, values, strict=True) if v is d.MISSING]
            if missing:
                message = (
                    f"{spec.tool} has no argument {', '.join(missing)}, so it cannot be matched "
                    f"to an earlier {spec.first} (same_args)"
                )
            else:
                shared = ", ".join(
                    f"{p}={d.show(v)}" for p, v in zip(spec.same_args, values, strict=True)
                )
                message = f"{spec.tool} was called without an earlier successful {spec.first}"
                message += f" with the same {shared}" if shared else ""
            yield _Finding(message, position)


def _values_key(arguments: dict[str, Any], paths: list[tuple[str, ...]]) -> Hashable | None:
    """The values at ``paths``, comparable as JSON; ``None`` if one of them is missing."""
    key = []
    for parts in paths:
        value = d.resolve(arguments, parts)
        if value is d.MISSING:
            return None
        key.append(value if type(value) is str or type(value) is int else d.canonical(value))
    return tuple(key)


def _holds(conditions: list[_Compiled], call: ToolCall) -> bool:
    """Whether ``call`` satisfies every condition (a missing value or a wrong type: no)."""
    for root, parts, checks in conditions:
        value = d.resolve(call.arguments if root == "args" else call.result, parts)
        if value is d.MISSING or d.failure(checks, value) is not None:
            return False
    return True


class ArgsRule(_Rule):
    """Every call of ``tool`` must have arguments that satisfy all conditions."""

    kind: ClassVar[str] = "args"
    tool: str
    #: Argument path (``amount``, ``customer.id``) -> condition.
    args: dict[str, Condition] = Field(min_length=1)

    @field_validator("args")
    @classmethod
    def _paths(cls, args: dict[str, Condition]) -> dict[str, Condition]:
        for path in args:
            _split_path(path)
        return args

    def _check(self, index: _Index) -> Iterator[_Finding]:
        conditions = list(zip(self.args, _compile_conditions("args", self.args), strict=True))
        for position, call in index.by_name.get(self.tool, []):
            problems = []
            for path, (_, parts, checks) in conditions:
                value = d.resolve(call.arguments, parts)
                if value is d.MISSING:
                    problems.append(f"argument {path} is missing")
                elif (expected := d.failure(checks, value)) is not None:
                    problems.append(f"argument {path} is {d.show(value)}, expected {expected}")
            if problems:
                yield _Finding("; ".join(problems), position)


_BUDGET_KEYS = (
    "max_steps",
    "max_tool_calls",
    "max_llm_calls",
    "max_calls",
    "max_cost_usd",
    "max_tokens",
    "max_duration_s",
)
_Count = Annotated[int, Field(ge=0)]
_Amount = Annotated[float, Field(ge=0)]


class BudgetRule(_Rule):
    """Limits on steps, calls, cost, tokens and time, in any combination."""

    kind: ClassVar[str] = "budget"
    max_steps: _Count | None = None
    max_tool_calls: _Count | None = None
    max_llm_calls: _Count | None = None
    max_calls: dict[str, _Count] | None = None
    max_cost_usd: _Amount | None = None
    max_tokens: _Count | None = None
    max_duration_s: _Amount | None = None

    @classmethod
    def _prepare(cls, data: Any) -> Any:
        if isinstance(data, dict) and not any(key in data for key in _BUDGET_KEYS):
            raise _invalid(f"a budget rule needs at least one of: {', '.join(_BUDGET_KEYS)}")
        return data

    def _check(self, index: _Index) -> Iterator[_Finding]:
        return _by_step(self._over_budget(index))

    def _over_budget(self, index: _Index) -> Iterator[_Finding]:
        steps = len(index.steps)
        if self.max_steps is not None and steps > self.max_steps:
            message = f"the agent took {steps} steps; max_steps allows {self.max_steps}"
            yield _Finding(message, self.max_steps + 1)
        counted: list[tuple[str, str, int | None, Sequence[tuple[int, Step]]]] = [
            ("max_tool_calls", "tool calls", self.max_tool_calls, index.tool_calls),
            ("max_llm_calls", "LLM calls", self.max_llm_calls, index.llm_calls),
            *(
                ("max_calls", f"calls of {name}", limit, index.by_name.get(name, []))
                for name, limit in (self.max_calls or {}).items()
            ),
        ]
        for key, noun, limit, calls in counted:
            if limit is not None and len(calls) > limit:
                message = f"the agent made {len(calls)} {noun}; {key} allows {limit}"
                yield _Finding(message, calls[limit][0])
        if self.max_cost_usd is not None:
            over = _first_over(index, index.llm_costs, self.max_cost_usd)
            if over is not None:
                position, reached, total = over
                yield _Finding(
                    f"the LLM cost reached {_usd(reached)} at this call ({_usd(total)} in all); "
                    f"max_cost_usd allows {_usd(self.max_cost_usd)}",
                    position,
                )
        if self.max_tokens is not None:
            over = _first_over(index, index.llm_tokens, self.max_tokens)
            if over is not None:
                position, reached, total = over
                yield _Finding(
                    f"the LLM calls used {reached:,.0f} tokens up to this call ({total:,.0f} in "
                    f"all); max_tokens allows {self.max_tokens:,}",
                    position,
                )
        limit_s = self.max_duration_s
        if limit_s is not None and (took := index.trajectory.duration_s) > limit_s:
            yield _Finding(
                f"the run took {took:.2f} s; max_duration_s allows {d.number_text(limit_s)} s"
            )


def _first_over(
    index: _Index, amounts: Sequence[float], limit: float
) -> tuple[int, float, float] | None:
    """The LLM call at which the running total of ``amounts`` first exceeds ``limit``,
    that running total, and the sum.

    Totals are rounded to 1e-9, so that float sums (0.1 + 0.2) do not exceed an equal limit.
    """
    totals = list(itertools.accumulate(amounts))
    if not totals or round(max(totals), 9) <= limit:
        return None
    at = next(i for i, total in enumerate(totals) if round(total, 9) > limit)
    return index.llm_calls[at][0], totals[at], totals[-1]


def _usd(value: float) -> str:
    """Dollars with cents, and with more digits where cents would hide the amount."""
    if round(value, 2) == round(value, 6):
        return f"${value:.2f}"
    return f"${value:.6f}".rstrip("0")


def _names(names: list[str], limit: int = 8) -> str:
    more = f", … ({len(names)} in all)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


class OutputPattern(_Strict):
    """What ``forbid_output`` looks for: a ``regex``, or a built-in ``pii`` detector."""

    regex: str | None = None
    #: email, phone, credit_card or api_key.
    pii: str | None = None

    @classmethod
    def _prepare(cls, data: Any) -> Any:
        given = [key for key in ("regex", "pii") if isinstance(data, dict) and data.get(key)]
        if isinstance(data, dict) and len(given) != 1:
            raise _invalid(
                "a forbid_output pattern needs exactly one of regex or pii, "
                'e.g. {regex: "sk-[A-Za-z0-9]{20,}"} or {pii: email}'
            )
        return data

    @field_validator("regex")
    @classmethod
    def _valid_regex(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            _compile_regex(pattern)
        return pattern

    @field_validator("pii")
    @classmethod
    def _known_detector(cls, name: str | None) -> str | None:
        if name is not None and name not in d.DETECTORS:
            raise _invalid(f"unknown pii detector {name!r} (known: {', '.join(d.DETECTORS)})")
        return name

    def model_post_init(self, context: Any, /) -> None:
        _ = self.detector  # compiled now: a pattern that loads is ready to check

    @cached_property
    def detector(self) -> d.Detector:
        if self.regex is not None:
            return d.regex_detector(_compile_regex(self.regex))
        return d.DETECTORS[str(self.pii)]


_Scope = Literal["output", "llm_output", "tool_arguments", "tool_results"]
_TOOL_SCOPES: dict[str, Literal["arguments", "result"]] = {
    "tool_arguments": "arguments",
    "tool_results": "result",
}


class ForbidOutputRule(_Rule):
    """No text in ``scope`` may match a pattern; matches are masked in messages.

    ``output`` is the trajectory's output (JSON if it is not a string), ``llm_output`` the text
    of each LLM response, ``tool_arguments``/``tool_results`` each tool call's arguments or
    result as JSON.
    """

    kind: ClassVar[str] = "forbid_output"
    forbid_output: list[OutputPattern] = Field(min_length=1)
    scope: list[_Scope] = Field(default=["output", "llm_output"], min_length=1)

    def _check(self, index: _Index) -> Iterator[_Finding]:
        detectors = [pattern.detector for pattern in self.forbid_output]
        found: list[_Finding] = []
        llm_texts = index.llm_texts()
        if "llm_output" in self.scope:
            joined = index.joined_llm_texts()
            for number, found_by in _matches(joined, detectors):
                found += _findings("the LLM output", llm_texts[number][0], found_by)
        output = index.trajectory.output
        output = output if isinstance(output, str) else d.json_text(output) if output else ""
        last_llm = llm_texts[-1] if llm_texts else (None, None)
        from_llm = output == last_llm[1]
        if "output" in self.scope and output and not (from_llm and "llm_output" in self.scope):
            for _, found_by in _matches(d.JoinedText.of_texts([output]), detectors):
                found += _findings("the final output", last_llm[0] if from_llm else None, found_by)
        for scope, field in _TOOL_SCOPES.items():
            if scope in self.scope:
                for number, found_by in _matches(index.call_texts(field), detectors):
                    position, call = index.tool_calls[number]
                    shown = {"name": call.name, "arguments": d.redact(call.arguments, detectors)}
                    found += _findings(f"the {field} of {call.name}", position, found_by, shown)
        return _by_step(found)


def _matches(
    joined: d.JoinedText, detectors: list[d.Detector]
) -> Iterator[tuple[int, dict[d.Detector, list[str]]]]:
    """Per text of ``joined`` with a match: what each detector found in it."""
    by_text: dict[int, dict[d.Detector, list[str]]] = {}
    for detector in detectors:
        for offset, text in detector.find(joined.text):
            by_text.setdefault(joined.owner(offset), {}).setdefault(detector, []).append(text)
    return iter(by_text.items())


def _findings(
    where: str,
    position: int | None,
    found_by: dict[d.Detector, list[str]],
    call: dict[str, Any] | None = None,
) -> Iterator[_Finding]:
    for detector, texts in found_by.items():
        more = f" (and {len(texts) - 1} more)" if len(texts) > 1 else ""
        yield _Finding(
            f"{where} contains {detector.label}: {d.mask(texts[0])}{more}; "
            "forbid_output forbids it",
            position,
            call,
        )


class MaxRepeatsRule(_Rule):
    """No tool may be called with the same arguments more than ``max_repeats`` times."""

    kind: ClassVar[str] = "max_repeats"
    max_repeats: int = Field(ge=1)

    def _check(self, index: _Index) -> Iterator[_Finding]:
        limit = self.max_repeats
        found = []
        for name, (values, counts) in index.telling_values().items():
            if max(counts.values()) <= limit:
                continue
            calls = index.by_name[name]
            seen: dict[Hashable, int] = {}
            over: dict[Hashable, int] = {}  # arguments -> position of the (limit + 1)-th call
            for (position, call), value in zip(calls, values, strict=True):
                if counts[value] > limit:
                    key = index.arguments_key(position, call)
                    count = seen[key] = seen.get(key, 0) + 1
                    if count == limit + 1:
                        over[key] = position
            found += [
                _Finding(
                    f"{name} was called {seen[key]} times with the same arguments; "
                    f"max_repeats allows {limit}",
                    position,
                )
                for key, position in over.items()
            ]
        return _by_step(found)


# ---- the policy ------------------------------------------------------------------------------

_KIND_OF_KEY: dict[str, str] = {
    **{kind: kind for kind in ("allow_tools", "forbid_tools", "require_tools")},
    **{kind: kind for kind in ("require_before", "args", "forbid_output", "max_repeats")},
    **dict.fromkeys(_BUDGET_KEYS, "budget"),
}
#: Keys of one kind only: they name the kind when its own key is missing or misspelt.
_KIND_OF_COMPANION = {"tool": "args", "scope": "forbid_output"}
_KINDS_TEXT = (
    "allow_tools, forbid_tools, require_tools, require_before, tool with args, forbid_output, "
    f"max_repeats, or budget keys ({', '.join(_BUDGET_KEYS)})"
)


def _rule_kinds(rule: dict[Any, Any]) -> dict[str, Any]:
    """The kinds a raw rule asks for, each with the first key that asked for it."""
    kinds: dict[str, Any] = {}
    for table in (_KIND_OF_KEY, _KIND_OF_COMPANION):
        for key in rule:
            if isinstance(key, str) and key in table:
                kinds.setdefault(table[key], key)
        if kinds:
            break
    return kinds


def _rule_kind(value: Any) -> str | None:
    if isinstance(value, _Rule):
        return value.kind
    kinds = _rule_kinds(value) if isinstance(value, dict) else {}
    return next(iter(kinds)) if len(kinds) == 1 else None


Rule = Annotated[
    Annotated[AllowToolsRule, Tag("allow_tools")]
    | Annotated[ForbidToolsRule, Tag("forbid_tools")]
    | Annotated[RequireToolsRule, Tag("require_tools")]
    | Annotated[RequireBeforeRule, Tag("require_before")]
    | Annotated[ArgsRule, Tag("args")]
    | Annotated[BudgetRule, Tag("budget")]
    | Annotated[ForbidOutputRule, Tag("forbid_output")]
    | Annotated[MaxRepeatsRule, Tag("max_repeats")],
    Discriminator(
        _rule_kind,
        custom_error_type="policy",
        custom_error_message=f"a rule needs exactly one of: {_KINDS_TEXT}",
    ),
]


class Policy(_Strict):
    """A named list of rules, read from a policy file by :func:`load_policy`."""

    schema_version: Literal[1]
    name: str
    description: str | None = None
    rules: list[Rule]
    #: The file the policy was read from.
    source: str | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _unique_ids(self) -> Policy:
        for rule_id, count in Counter(rule.id for rule in self.rules).items():
            if count > 1:
                raise _invalid(f"duplicate rule id {rule_id!r}: give each rule its own id")
        return self

    def check(self, trajectory: Trajectory) -> list[Violation]:
        """Every violation of this policy in ``trajectory``, by rule and then by step."""
        return self._violations(_Index(trajectory))

    def _violations(self, index: _Index) -> list[Violation]:
        return [
            index.violation(rule, finding, self.name)
            for rule in self.rules
            for finding in rule._check(index)
        ]


def check_policies(trajectory: Trajectory, policies: Iterable[Policy]) -> list[Violation]:
    """The violations of every policy, in order, indexing the trajectory once."""
    index = _Index(trajectory)
    return [violation for policy in policies for violation in policy._violations(index)]


def format_violations(violations: list[Violation], trajectory: Trajectory | None = None) -> str:
    """One line per violation: ``[rule-id] step 7 refund(order_id='A1', amount=250): message``.

    Rule ids are prefixed with their policy's name when the violations come from several
    policies.  Given the trajectory, a step that is not a tool call is described too.
    """
    several = len({v.policy for v in violations}) > 1
    lines = []
    for violation in violations:
        label = violation.rule_id
        if several and violation.policy:
            label = f"{violation.policy}:{label}"
        where = ""
        if violation.step is not None:
            where = f" step {violation.step}"
            if violation.call is not None:
                where += " " + _call_text(violation.call)
            elif trajectory is not None and 0 < violation.step <= len(trajectory.steps):
                where += " " + _step_text(trajectory.steps[violation.step - 1])
        lines.append(f"[{label}]{where}: {violation.message}")
    return "\n".join(lines)


def _call_text(call: dict[str, Any]) -> str:
    arguments = call.get("arguments")
    if isinstance(arguments, dict):
        shown = ", ".join(f"{key}={d.show(value, 40)}" for key, value in arguments.items())
    else:
        shown = d.show(arguments, 40)
    if len(shown) > 120:
        shown = shown[:119] + "…"
    return f"{call.get('name')}({shown})"


def _step_text(step: Step) -> str:
    if isinstance(step, LLMCall):
        return f"(LLM call to {step.model})"
    if isinstance(step, MessageStep):
        return f"({step.role} message)"
    if isinstance(step, SpanStep):
        return f"(span {step.name})"
    return f"({step.name} call)"


# ---- loading ---------------------------------------------------------------------------------

_TOP_LEVEL_KEYS = ("schema_version", "name", "description", "rules")
_PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "seq", "map")
)
_MAX_DEPTH = 50


def load_policy(path: str | Path) -> Policy:
    """Read a policy file; any problem raises one :class:`PolicyError` naming file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(f"{path}: no such policy file") from None
    except UnicodeDecodeError:
        raise PolicyError(f"{path}: not a text file (a policy is UTF-8 YAML)") from None
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read the policy file: {exc.strerror or exc}") from None
    return parse_policy(text, source=str(path))


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    """Parse policy YAML; ``source`` names it in errors and becomes :attr:`Policy.source`."""
    root, data = _read_yaml(text, source)
    _check_shape(root, data, source)
    try:
        return Policy.model_validate({**data, "source": source})
    except ValidationError as exc:
        raise _explain(exc, root, data, source) from None


def _error(source: str, at: Any, message: str, rule: str | None = None) -> PolicyError:
    """``source:line: rule 'id': message``; ``at`` is a YAML node, event or mark (or None)."""
    mark = getattr(at, "start_mark", at)
    line = f":{mark.line + 1}" if mark is not None else ""
    in_rule = f"rule {rule!r}: " if rule is not None else ""
    return PolicyError(f"{source}{line}: {in_rule}{message}")


def _read_yaml(text: str, source: str) -> tuple[yaml.MappingNode, dict[Any, Any]]:
    """Parse with PyYAML's safe loader, after refusing aliases, anchors, tags and deep nesting.

    Aliases are refused before anything is built, so a "billion laughs" file costs nothing.
    """
    try:
        depth = 0
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            _refuse_unsafe(event, source)
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > _MAX_DEPTH:
                    raise _error(source, event, f"nested more than {_MAX_DEPTH} levels deep")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
        loader = yaml.SafeLoader(text)
        try:
            root = loader.get_single_node()
            if root is not None:
                _check_keys(root, source)  # before construction, which applies merge keys
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        problem = (exc.problem or exc.context or "").removeprefix("but ")
        context = f" ({exc.context})" if exc.context and exc.problem else ""
        raise _error(
            source,
            exc.problem_mark or exc.context_mark,
            f"not valid YAML: {problem}{context}; check the indentation, quotes and brackets",
        ) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        line = text.count("\n", 0, exc.position) + 1
        raise PolicyError(
            f"{source}:{line}: not valid YAML: character #x{exc.character:04x} is not allowed; "
            "remove it or write it as an escape in a double-quoted string"
        ) from None
    if root is None:
        raise _error(source, None, "empty policy file: write schema_version: 1, name and rules")
    if not isinstance(root, yaml.MappingNode) or not isinstance(data, dict):
        raise _error(
            source,
            root,
            f"the top level must be a mapping of schema_version, name and rules, not {_a(data)}",
        )
    return root, data


def _refuse_unsafe(event: yaml.Event, source: str) -> None:
    if isinstance(event, yaml.AliasEvent):
        raise _error(
            source,
            event,
            f"YAML aliases (*{event.anchor}) are not allowed in a policy file: "
            "write the value out in full",
        )
    if isinstance(event, yaml.NodeEvent) and event.anchor is not None:
        raise _error(
            source,
            event,
            f"YAML anchors (&{event.anchor}) are not allowed in a policy file: "
            "remove the anchor and write repeated values out in full",
        )
    tag = getattr(event, "tag", None)
    if tag is not None and tag not in _PLAIN_TAGS:
        raise _error(
            source,
            event,
            f"YAML tag {tag.replace('tag:yaml.org,2002:', '!!')!r} is not allowed in a policy "
            "file, which is plain data (mappings, lists, strings, numbers): remove the tag",
        )


def _pairs(node: yaml.Node) -> list[tuple[yaml.Node, yaml.Node]]:
    return list(node.value) if isinstance(node, yaml.MappingNode) else []


def _key_node(node: yaml.Node, key: Any) -> yaml.Node | None:
    return next((k for k, _ in _pairs(node) if k.value == str(key)), None)


def _child(node: yaml.Node, part: Any) -> yaml.Node | None:
    """The node at ``part`` (a key or a list index) under ``node``, if the file has one."""
    if isinstance(node, yaml.SequenceNode):
        return node.value[part] if isinstance(part, int) and part < len(node.value) else None
    return next((v for k, v in _pairs(node) if k.value == str(part)), None)


def _check_shape(root: yaml.MappingNode, data: dict[Any, Any], source: str) -> None:
    """What validation cannot point at by line: keys, version, the rule list, ids and kinds."""
    if "schema_version" not in data:
        raise _error(source, root, "missing schema_version: add `schema_version: 1` at the top")
    version = data["schema_version"]
    if type(version) is not int or version != SCHEMA_VERSION:
        raise _error(
            source,
            _child(root, "schema_version"),
            f"schema_version {_yaml_value(version)} is not supported (this pytest-agentops "
            f"reads schema_version {SCHEMA_VERSION}): write `schema_version: {SCHEMA_VERSION}`, "
            "or upgrade pytest-agentops (pip install -U pytest-agentops) if the file is newer",
        )
    for key_node, _ in _pairs(root):
        if key_node.value not in _TOP_LEVEL_KEYS:
            raise _error(
                source,
                key_node,
                f"unknown top-level key {key_node.value!r} (allowed: "
                f"{', '.join(_TOP_LEVEL_KEYS)}){_suggest(key_node.value, _TOP_LEVEL_KEYS)}",
            )
    rules_node = _child(root, "rules")
    if rules_node is None:
        raise _error(
            source,
            root,
            "missing rules: add a list such as "
            "`rules: [{id: no-delete, forbid_tools: [delete_account]}]`",
        )
    rules = data["rules"]
    if not isinstance(rules, list) or not isinstance(rules_node, yaml.SequenceNode):
        raise _error(
            source, rules_node, f"rules must be a list, not {_a(rules)}: start each rule with '- '"
        )
    first_use: dict[str, int] = {}
    for number, (rule, node) in enumerate(zip(rules, rules_node.value, strict=True), 1):
        _check_rule(number, rule, node, first_use, source)


def _check_keys(root: yaml.Node, source: str) -> None:
    """Refuse duplicate keys, which YAML loaders silently resolve to the last, and merge keys."""
    pending = [root]
    while pending:
        node = pending.pop()
        if isinstance(node, yaml.SequenceNode):
            pending.extend(node.value)
        first_line: dict[str, int] = {}
        for key, value in _pairs(node):
            if key.tag == "tag:yaml.org,2002:merge":
                raise _error(source, key, "merge keys (<<) are not allowed: write the keys out")
            if key.value in first_line:
                raise _error(
                    source,
                    key,
                    f"duplicate key {key.value!r} (first at line {first_line[key.value]}): "
                    "remove one of them",
                )
            first_line[key.value] = key.start_mark.line + 1
            pending.append(value)


def _check_rule(
    number: int, rule: Any, node: yaml.Node, first_use: dict[str, int], source: str
) -> None:
    if not isinstance(rule, dict):
        raise _error(
            source,
            node,
            f"rule #{number} must be a mapping such as "
            f"`{{id: no-delete, forbid_tools: [delete_account]}}`, not {_a(rule)}",
        )
    id_node = _child(node, "id")
    if id_node is None:
        raise _error(source, node, f"rule #{number} has no id: add `id: <a unique name>`")
    rule_id = rule["id"]
    if not isinstance(rule_id, str) or not rule_id:
        raise _error(
            source,
            id_node,
            f"rule #{number}: id must be a non-empty string, not {_yaml_value(rule_id)}"
            + ("" if isinstance(rule_id, str) else "; put it in quotes"),
        )
    if rule_id in first_use:
        raise _error(
            source,
            id_node,
            f"duplicate rule id (first used at line {first_use[rule_id]}): "
            "give each rule its own id",
            rule_id,
        )
    first_use[rule_id] = id_node.start_mark.line + 1
    kinds = _rule_kinds(rule)
    if len(kinds) > 1:
        first, second = list(kinds.values())[:2]
        raise _error(
            source,
            _key_node(node, second),
            f"this rule has both {first} and {second}, but a rule checks one thing: "
            "split it into two rules, each with its own id",
            rule_id,
        )
    if not kinds:
        for key in rule:
            suggestion = _suggest(str(key), [*_KIND_OF_KEY, "tool"])
            if key not in ("id", "description") and suggestion:
                raise _error(
                    source, _key_node(node, key), f"unknown key {key!r}{suggestion}", rule_id
                )
        raise _error(
            source, node, f"this rule checks nothing: give it one of {_KINDS_TEXT}", rule_id
        )


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
    return d.show(value)


_EXPECTED = {
    "int_type": "an integer",
    "float_type": "a number",
    "finite_number": "a finite number",
    "string_type": "a string",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
}


def _explain(
    exc: ValidationError, root: yaml.Node, data: dict[Any, Any], source: str
) -> PolicyError:
    """The first validation error, located in the file and phrased for the policy's author."""
    errors = exc.errors(include_url=False)
    error = errors[0]
    loc = list(error["loc"])
    rule_id = None
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        rule_id = data["rules"][loc[1]]["id"]
        del loc[2:3]  # the kind tag that the rule union adds
    node = root
    for part in loc:
        child = _child(node, part)
        if child is None:
            break
        node = child
    ctx = error.get("ctx") or {}
    if "policy_key" in ctx:
        node = _key_node(node, ctx["policy_key"]) or node
    field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc[2 if rule_id else 0 :])
    field = field.lstrip(".")
    got = _yaml_value(error.get("input"))
    kind = error["type"]
    if kind == "missing":
        message = f"missing required key {loc[-1]!r}"
    elif kind in _EXPECTED:
        message = f"{field} must be {_EXPECTED[kind]}, not {got}"
        if kind == "string_type" and not got.startswith("a "):
            message += "; put it in quotes"
    elif kind == "greater_than_equal":
        message = f"{field} must be >= {ctx['ge']}, not {got}"
    elif kind == "too_short":
        message = f"{field} must not be empty"
    elif kind == "literal_error":
        message = f"{field} must be one of {ctx['expected']}, not {got}"
    elif kind == "policy":
        message = error["msg"]
    else:
        message = f"{field}: {error['msg']}"
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return _error(source, node, message + more, rule_id)
