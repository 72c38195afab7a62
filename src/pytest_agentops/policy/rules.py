"""The rule kinds, each a model that validates itself and checks a trajectory's index.

Every rule reads only what it is about from the :class:`~.index._Index` built once per
check, and says what the index's one pass over the steps should read for it (``_needs``).
Rules work a column of values at a time where they can (the values of one argument over all
calls of a tool), and go call by call only for the calls that break them, to say why.
:class:`Policy` is the named list of rules that :func:`.loading.load_policy` reads.
"""

from __future__ import annotations

import bisect
import itertools
import operator
from abc import abstractmethod
from collections import Counter
from collections.abc import Hashable, Iterable, Iterator, Sequence
from functools import cached_property
from itertools import repeat
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from pytest_agentops._util import canonical
from pytest_agentops.trajectory.model import ToolCall, Trajectory

from . import pii as scan
from . import values as jv
from .conditions import Condition, _compile_regex, _invalid, _split_path, _Strict
from .index import _by_step, _Finding, _Index
from .patterns import PatternTimeout
from .violations import Violation


class _Rule(_Strict):
    kind: ClassVar[str]

    id: str = Field(min_length=1)
    description: str | None = None

    @abstractmethod
    def _check(self, index: _Index) -> Iterator[_Finding]:
        """The rule's findings, in step order."""

    def _needs(self) -> set[str]:
        """What the index should read in its pass over the steps for this rule (see NEEDS)."""
        return set()


class AllowToolsRule(_Rule):
    """Only the listed tools may be called (an empty list: no tool at all)."""

    kind: ClassVar[str] = "allow_tools"
    allow_tools: list[str]

    def _check(self, index: _Index) -> Iterator[_Finding]:
        allowed = set(self.allow_tools)
        rule = f"allows only: {_names(self.allow_tools)}" if allowed else "allows none"
        return _by_step(
            _Finding(f"{name} was called, but allow_tools {rule}", number + 1)
            for name, numbers in index.by_name.items()
            if name not in allowed
            for number in numbers
        )


class ForbidToolsRule(_Rule):
    """The listed tools must never be called."""

    kind: ClassVar[str] = "forbid_tools"
    forbid_tools: list[str] = Field(min_length=1)

    def _check(self, index: _Index) -> Iterator[_Finding]:
        return _by_step(
            _Finding(f"{name} was called, but forbid_tools forbids it", number + 1)
            for name in dict.fromkeys(self.forbid_tools)
            for number in index.by_name.get(name, ())
        )


class RequireToolsRule(_Rule):
    """Each listed tool must have at least one successful call."""

    kind: ClassVar[str] = "require_tools"
    require_tools: list[str] = Field(min_length=1)

    def _needs(self) -> set[str]:
        return {"tool_errors"}

    def _check(self, index: _Index) -> Iterator[_Finding]:
        for name in dict.fromkeys(self.require_tools):
            errors = index.errors(name)
            if not errors:
                happened = f"{name} was never called"
            elif all(error is not None for error in errors):
                happened = f"{name} was called {len(errors)} time(s) but never succeeded"
            else:
                continue
            yield _Finding(f"{happened}; require_tools needs at least one successful call")


#: A compiled condition: where the value is (``args``/``result`` and the path), its checks.
_Compiled = tuple[str, tuple[str, ...], tuple[jv.Check, ...]]


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

    def _needs(self) -> set[str]:
        return (
            {"tool_errors", "tool_arguments"} if self.require_before.same_args else {"tool_errors"}
        )

    def _check(self, index: _Index) -> Iterator[_Finding]:
        spec = self.require_before
        tool = index.by_name.get(spec.tool)
        if not tool:
            return
        when = _compile_conditions(None, spec.when)
        same = [tuple(path.split(".")) for path in spec.same_args]
        firsts: Sequence[int] = index.by_name.get(spec.first, ())
        errors = index.errors(spec.first)
        if same:
            # A call is preceded by a successful `first` with the same values when the earliest
            # such call comes before it.
            earliest: dict[Hashable, int] = {}
            first_keys = _values_keys(index, spec.first, same)
            for number, key, error in zip(firsts, first_keys, errors, strict=True):
                if error is None and key not in earliest:
                    earliest[key] = number
            keys = _values_keys(index, spec.tool, same)
            offending: Iterable[int] = [
                number
                for number, key in zip(tool, keys, strict=True)
                if key is jv.MISSING or earliest.get(key, number) >= number
            ]
        else:  # only the calls up to the first successful `first`
            ok = next((n for n, e in zip(firsts, errors, strict=True) if e is None), None)
            offending = tool if ok is None else tool[: bisect.bisect_right(tool, ok)]
        steps: list[Any] = index.steps
        for number in offending:
            call: ToolCall = steps[number]
            if when and not _holds(when, call):
                continue
            values = [jv.resolve(call.arguments, parts) for parts in same]
            missing = [p for p, v in zip(spec.same_args, values, strict=True) if v is jv.MISSING]
            if missing:
                message = (
                    f"{spec.tool} has no argument {', '.join(missing)}, so it cannot be matched "
                    f"to an earlier {spec.first} (same_args)"
                )
            else:
                shared = ", ".join(
                    f"{p}={jv.show(v)}" for p, v in zip(spec.same_args, values, strict=True)
                )
                message = f"{spec.tool} was called without an earlier successful {spec.first}"
                message += f" with the same {shared}" if shared else ""
            yield _Finding(message, number + 1)


def _values_keys(index: _Index, name: str, paths: list[tuple[str, ...]]) -> list[Hashable]:
    """Per call of ``name``: its argument values at ``paths``, comparable as JSON (one value for
    one path, else a tuple), or :data:`.values.MISSING` if one of them is missing."""
    columns = [index.canonical_column(name, "args", parts) for parts in paths]
    if len(columns) == 1:
        return columns[0]
    return [
        jv.MISSING if any(value is jv.MISSING for value in values) else values
        for values in zip(*columns, strict=True)
    ]


def _holds(conditions: list[_Compiled], call: ToolCall) -> bool:
    """Whether ``call`` satisfies every condition (a missing value or a wrong type: no)."""
    for root, parts, checks in conditions:
        value = jv.resolve(call.arguments if root == "args" else call.result, parts)
        if value is jv.MISSING or jv.failure(checks, value) is not None:
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

    def _needs(self) -> set[str]:
        return {"tool_arguments"}

    def _check(self, index: _Index) -> Iterator[_Finding]:
        numbers = index.by_name.get(self.tool)
        if not numbers:
            return
        conditions = list(zip(self.args, _compile_conditions("args", self.args), strict=True))
        # Find the failing calls a condition at a time, over all calls; then say why.
        failing: set[int] = set()
        for _, (_, parts, checks) in conditions:
            failing.update(jv.failing(checks, index.column(self.tool, "args", parts)))
        steps: list[Any] = index.steps
        for number in sorted(failing):
            arguments = steps[numbers[number]].arguments
            problems = []
            for path, (_, parts, checks) in conditions:
                value = jv.resolve(arguments, parts)
                if value is jv.MISSING:
                    problems.append(f"argument {path} is missing")
                elif (expected := jv.failure(checks, value)) is not None:
                    problems.append(f"argument {path} is {jv.show(value)}, expected {expected}")
            if problems:
                yield _Finding("; ".join(problems), numbers[number] + 1)


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

    def _needs(self) -> set[str]:
        needs = {"llm_costs"} if self.max_cost_usd is not None else set()
        needs |= {"llm_tokens"} if self.max_tokens is not None else set()
        return needs | ({"durations"} if self.max_duration_s is not None else set())

    def _over_budget(self, index: _Index) -> Iterator[_Finding]:
        steps = len(index.steps)
        if self.max_steps is not None and steps > self.max_steps:
            message = f"the agent took {steps} steps; max_steps allows {self.max_steps}"
            yield _Finding(message, self.max_steps + 1)
        counted: list[tuple[str, str, int | None, Sequence[int]]] = [
            ("max_tool_calls", "tool calls", self.max_tool_calls, index.tools),
            ("max_llm_calls", "LLM calls", self.max_llm_calls, index.llms),
            *(
                ("max_calls", f"calls of {name}", limit, index.by_name.get(name, ()))
                for name, limit in (self.max_calls or {}).items()
            ),
        ]
        for key, noun, limit, numbers in counted:
            if limit is not None and len(numbers) > limit:
                message = f"the agent made {len(numbers)} {noun}; {key} allows {limit}"
                yield _Finding(message, numbers[limit] + 1)
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
        if limit_s is not None and (took := index.duration_s()) > limit_s:
            yield _Finding(
                f"the run took {took:.2f} s; max_duration_s allows {jv.number_text(limit_s)} s"
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
    rounded = map(round, totals, itertools.repeat(9))
    at = next(
        itertools.compress(itertools.count(), map(operator.gt, rounded, itertools.repeat(limit)))
    )
    return index.llms[at] + 1, totals[at], totals[-1]


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
        if name is not None and name not in scan.DETECTORS:
            raise _invalid(f"unknown pii detector {name!r} (known: {', '.join(scan.DETECTORS)})")
        return name

    def model_post_init(self, context: Any, /) -> None:
        _ = self.detector  # compiled now: a pattern that loads is ready to check

    @cached_property
    def detector(self) -> scan.Detector:
        if self.regex is not None:
            return scan.regex_detector(_compile_regex(self.regex))
        return scan.DETECTORS[str(self.pii)]


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

    def _needs(self) -> set[str]:
        # LLM texts also for the output scope: is the output the last LLM output?
        return {"llm_texts"} | (set(self.scope) & set(_TOOL_SCOPES))

    def _check(self, index: _Index) -> Iterator[_Finding]:
        detectors = [pattern.detector for pattern in self.forbid_output]
        found: list[_Finding] = []
        numbers, texts = index.llm_texts()
        if "llm_output" in self.scope:
            joined = index.joined_llm_texts()
            for text, found_by in _matches(joined, detectors):
                found += _findings("the LLM output", numbers[text] + 1, found_by)
        output = index.trajectory.output
        output = output if isinstance(output, str) else scan.json_text(output) if output else ""
        from_llm = bool(texts) and output == texts[-1]
        if "output" in self.scope and output and not (from_llm and "llm_output" in self.scope):
            last = numbers[-1] + 1 if from_llm else None
            for _, found_by in _matches(scan.JoinedText.of_texts([output]), detectors):
                found += _findings("the final output", last, found_by)
        for scope, field in _TOOL_SCOPES.items():
            if scope in self.scope:
                for number, found_by in _matches(index.call_texts(field), detectors):
                    step = index.tools[number]
                    call: Any = index.steps[step]
                    shown = {"name": call.name, "arguments": scan.redact(call.arguments, detectors)}
                    found += _findings(f"the {field} of {call.name}", step + 1, found_by, shown)
        return _by_step(found)


def _matches(
    joined: scan.JoinedText, detectors: list[scan.Detector]
) -> Iterator[tuple[int, dict[scan.Detector, list[str]]]]:
    """Per text of ``joined`` with a match: what each detector found in it."""
    by_text: dict[int, dict[scan.Detector, list[str]]] = {}
    for detector in detectors:
        for offset, text in detector.find(joined.text):
            by_text.setdefault(joined.owner(offset), {}).setdefault(detector, []).append(text)
    return iter(by_text.items())


def _findings(
    where: str,
    position: int | None,
    found_by: dict[scan.Detector, list[str]],
    call: dict[str, Any] | None = None,
) -> Iterator[_Finding]:
    for detector, texts in found_by.items():
        more = f" (and {len(texts) - 1} more)" if len(texts) > 1 else ""
        yield _Finding(
            f"{where} contains {detector.label}: {scan.mask(texts[0])}{more}; "
            "forbid_output forbids it",
            position,
            call,
        )


class MaxRepeatsRule(_Rule):
    """No tool may be called with the same arguments more than ``max_repeats`` times."""

    kind: ClassVar[str] = "max_repeats"
    max_repeats: int = Field(ge=1)

    def _needs(self) -> set[str]:
        return {"tool_arguments"}

    def _check(self, index: _Index) -> Iterator[_Finding]:
        limit = self.max_repeats
        found = []
        for name, numbers in index.by_name.items():
            if len(numbers) <= limit:
                continue
            seen: dict[Hashable, int] = {}
            over: dict[Hashable, int] = {}  # arguments -> position of the (limit + 1)-th call
            for call in _repeat_suspects(index, name, limit):
                key = index.arguments_key(numbers[call])
                count = seen[key] = seen.get(key, 0) + 1
                if count == limit + 1:
                    over[key] = numbers[call] + 1
            found += [
                _Finding(
                    f"{name} was called {seen[key]} times with the same arguments; "
                    f"max_repeats allows {limit}",
                    position,
                )
                for key, position in over.items()
            ]
        return _by_step(found)


def _repeat_suspects(index: _Index, name: str, limit: int, few: int = 32) -> list[int]:
    """The calls of ``name`` (by number, in order) whose arguments may be those of more than
    ``limit`` calls: every call that has such arguments, and some that have not.

    Calls with equal arguments have equal values of each argument, so a call whose value of
    one argument (or values of several) no more than ``limit`` calls share is not a repeat.
    Comparing the values of the most telling arguments, one more at a time, is cheap and
    leaves few calls whose whole arguments need comparing.
    """
    # The suspects for a lower limit include those for this one: reuse them.
    lower = index.memo.get(("repeat_suspects", name))
    if lower is not None and lower[0] <= limit:
        return list(lower[1])
    suspects = _narrowed(index, name, limit, few)
    index.memo["repeat_suspects", name] = (limit, suspects)
    return suspects


def _narrowed(index: _Index, name: str, limit: int, few: int) -> list[int]:
    arguments = index.column(name, "args")
    suspects = list(range(len(arguments)))
    shared: list[Any] = []  # per suspect: its values so far, as one number from the second on
    for stage, path in enumerate(_telling_paths(arguments)):
        values = index.column(name, "args", path[:1])
        if len(suspects) < len(arguments):
            values = list(map(values.__getitem__, suspects))
        # a top-level argument, or an item of one that is a mapping (see values.members)
        values = jv.canonical_values(values) if len(path) == 1 else jv.members(values, path[1])
        if stage == 0:
            shared = values
        else:  # numbers rather than tuples, which the garbage collector would have to walk
            if stage == 1:
                shared = _numbered(shared)[0]
            ids, distinct = _numbered(values)
            shared = list(map(operator.add, map(operator.mul, shared, repeat(distinct)), ids))
        counts = Counter(shared)
        if max(counts.values()) <= limit:
            return []
        kept = list(map(limit.__lt__, map(counts.__getitem__, shared)))
        suspects = list(itertools.compress(suspects, kept))
        shared = list(itertools.compress(shared, kept))
        if len(suspects) <= few:
            break
    return suspects


def _numbered(values: list[Hashable]) -> tuple[list[int], int]:
    """A number for each value, the same for equal values, and how many different ones."""
    numbers = dict(zip(dict.fromkeys(values), itertools.count()))
    return list(map(numbers.__getitem__, values)), len(numbers)


def _telling_paths(arguments: list[dict[str, Any]], sample: int = 64) -> list[tuple[str, ...]]:
    """Arguments, and items of arguments that are mappings, that take more than one value among
    the first calls: plain values (strings, numbers) first, the most different first."""
    values: dict[tuple[str, ...], set[Hashable]] = {}
    for call in arguments[:sample]:
        for key, value in call.items():
            values.setdefault((key,), set()).add(canonical(value))
            if type(value) is dict:
                for item, inner in value.items():
                    if type(item) is str:
                        values.setdefault((key, item), set()).add(canonical(inner))
    kept = [path for path, seen in values.items() if len(seen) > 1]
    flat = {path: all(type(v) is not tuple for v in values[path]) for path in kept}
    return sorted(kept, key=lambda path: (not flat[path], -len(values[path])))


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

    @cached_property
    def detectors(self) -> list[scan.Detector]:
        """What the policy's ``forbid_output`` rules look for (to mask it wherever shown)."""
        return [
            pattern.detector
            for rule in self.rules
            if isinstance(rule, ForbidOutputRule)
            for pattern in rule.forbid_output
        ]

    def check(self, trajectory: Trajectory) -> list[Violation]:
        """Every violation of this policy in ``trajectory``, by rule and then by step."""
        return self._violations(_Index(trajectory, self._needs))

    @cached_property
    def _needs(self) -> frozenset[str]:
        """What the index should read in its pass over the steps for these rules."""
        return frozenset().union(*(rule._needs() for rule in self.rules))

    def _violations(self, index: _Index) -> list[Violation]:
        found = []
        for rule in self.rules:
            try:
                findings = list(rule._check(index))
            except PatternTimeout as exc:  # fail closed: an unchecked rule is not a pass
                findings = [_Finding(str(exc))]
            found += [index.violation(rule, finding, self.name) for finding in findings]
        return found


def check_policies(trajectory: Trajectory, policies: Iterable[Policy]) -> list[Violation]:
    """The violations of every policy, in order, indexing the trajectory once."""
    policies = list(policies)
    index = _Index(trajectory, frozenset().union(*(policy._needs for policy in policies)))
    return [violation for policy in policies for violation in policy._violations(index)]
