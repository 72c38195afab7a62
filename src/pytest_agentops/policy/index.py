"""The trajectory as rules read it, indexed once per check and shared by all rules.

A long run's steps are cold in memory: every pass over them costs about as much as reading
each step's kind.  So the index reads the steps once, taking what the policy's rules need
(see :data:`NEEDS`), and everything else is derived from what that pass collected, on first
use, mostly in C-level passes (``map``), and shared by every rule that reads it: the errors of
a tool's calls, the values at an argument path, the joined LLM texts, the arguments as JSON.
"""

from __future__ import annotations

from array import array
from collections.abc import Collection, Hashable, Iterable, Iterator, Sequence
from itertools import compress, repeat
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from pytest_agentops.trajectory.model import LLMCall, Step, ToolCall, Trajectory
from pytest_agentops.trajectory.openai_format import message_text

from . import pii
from . import values as jv
from .violations import Violation

if TYPE_CHECKING:
    from .rules import _Rule


class _Finding(NamedTuple):
    message: str
    #: 1-based position of the offending step.
    step: int | None = None
    #: Replaces the call read from the step (``forbid_output`` masks secrets in it).
    call: dict[str, Any] | None = None


def _by_step(findings: Iterable[_Finding]) -> Iterator[_Finding]:
    return iter(sorted(findings, key=lambda f: (f.step is None, f.step or 0)))


#: What the pass over the steps can read besides the kinds and tool names: each tool call's
#: arguments, error and result, each LLM call's cost, tokens and output text, and the
#: durations of top-level steps.  Each costs a little on every step, so a rule asks for what it
#: reads (``_Rule._needs``); what the pass did not read is read on first use, in a pass of its
#: own (which, on a long run, costs about as much as the whole pass).
NEEDS = frozenset(
    {
        "tool_arguments",
        "tool_errors",
        "tool_results",
        "llm_costs",
        "llm_tokens",
        "llm_texts",
        "durations",
    }
)

_Root = Literal["args", "result"]
_ATTRIBUTE = {"args": "arguments", "result": "result"}


class _Index:
    """What rules read from a trajectory, built once per check and shared by all rules.

    Steps are referred to by their 0-based index in ``steps`` (their number); findings and
    violations give 1-based positions (number + 1).  Numbers are kept in arrays of machine
    integers, as are costs and tokens where they can be: unlike lists, arrays hold no
    references, so the garbage collector, which runs during a long check, never walks them.
    """

    def __init__(self, trajectory: Trajectory, needs: Collection[str] = NEEDS) -> None:
        self.trajectory = trajectory
        self.steps: list[Step] = trajectory.steps
        #: The numbers of the calls of each tool, by name, in order.
        self.by_name: dict[str, array[int]] = {}
        #: The numbers of all tool calls, and of all LLM calls.
        self.tools: array[int] = array("q")
        self.llms: array[int] = array("q")
        # Per step (None for other kinds), so that a tool's column is a C-level map away.
        arguments: list[Any] | None = (
            [None] * len(self.steps) if "tool_arguments" in needs else None
        )
        errors: list[Any] | None = [None] * len(self.steps) if "tool_errors" in needs else None
        results: list[Any] | None = [None] * len(self.steps) if "tool_results" in needs else None
        costs: list[float] | None = [] if "llm_costs" in needs else None
        tokens: list[int] | None = [] if "llm_tokens" in needs else None
        texts: list[str] | None = [] if "llm_texts" in needs else None
        text_steps: array[int] = array("q")
        timed = trajectory.started_at is not None and trajectory.ended_at is not None
        durations: list[float] | None = [] if "durations" in needs and not timed else None
        by_name = self.by_name
        add_tool, add_llm, add_text = self.tools.append, self.llms.append, text_steps.append
        # The fields of a pydantic model are its instance __dict__: reading them there skips
        # the attribute lookups (about 15% of this loop on a long run).
        for number, fields in enumerate(map(vars, self.steps)):
            kind = fields["kind"]
            if durations is not None and fields["parent_id"] is None:
                durations.append(fields["duration_ms"] or 0.0)
            if kind == "tool":
                add_tool(number)
                try:
                    by_name[fields["name"]].append(number)
                except KeyError:
                    by_name[fields["name"]] = array("q", (number,))
                if arguments is not None:
                    arguments[number] = fields["arguments"]
                if errors is not None:
                    errors[number] = fields["error"]
                if results is not None:
                    results[number] = fields["result"]
            elif kind == "llm":
                add_llm(number)
                if costs is not None:
                    costs.append(fields["cost_usd"] or 0.0)
                if tokens is not None:
                    tokens.append(fields["input_tokens"] + fields["output_tokens"])
                if texts is not None and (message := fields["output_message"]):
                    text = message.get("content")
                    if type(text) is not str:  # None when the model only called tools
                        text = "" if text is None else message_text(message)
                    if text:
                        texts.append(text)
                        add_text(number)
        self._fields: dict[str, list[Any] | None] = {
            "arguments": arguments,
            "error": errors,
            "result": results,
        }
        self._llm_costs: Sequence[float] | None = _packed("d", float, costs)
        self._llm_tokens: Sequence[int] | None = _packed("q", int, tokens)
        self._llm_texts: tuple[Sequence[int], list[str]] | None = (
            None if texts is None else (text_steps, texts)
        )
        #: Trajectory.duration_s: the same sum, in the same order.
        self._duration_s = None if durations is None else sum(durations) / 1000
        self._columns: dict[tuple[str, _Root, tuple[str, ...]], list[Any]] = {}
        self._canonical: dict[tuple[str, _Root, tuple[str, ...]], list[Any]] = {}
        self._errors: dict[str, list[str | None]] = {}
        self._joined: dict[str, pii.JoinedText] = {}
        self._arguments_keys: dict[int, Hashable] = {}
        #: Whatever else a rule computes that another rule may reuse, by a key the rule chooses.
        self.memo: dict[Hashable, Any] = {}

    # ---- LLM calls and the run ----------------------------------------------------------------

    def _llm_steps(self) -> list[LLMCall]:
        steps: list[Any] = self.steps
        return [steps[number] for number in self.llms]

    @property
    def llm_costs(self) -> Sequence[float]:
        """Each LLM call's cost (0 when unknown)."""
        if self._llm_costs is None:
            self._llm_costs = [step.cost_usd or 0.0 for step in self._llm_steps()]
        return self._llm_costs

    @property
    def llm_tokens(self) -> Sequence[int]:
        """Each LLM call's input plus output tokens."""
        if self._llm_tokens is None:
            self._llm_tokens = [s.input_tokens + s.output_tokens for s in self._llm_steps()]
        return self._llm_tokens

    def duration_s(self) -> float:
        """:attr:`Trajectory.duration_s`, from the durations read in the pass if it has them."""
        if self._duration_s is None:
            return self.trajectory.duration_s
        return self._duration_s

    def llm_texts(self) -> tuple[Sequence[int], list[str]]:
        """The number and the text of every LLM call whose output has text."""
        if self._llm_texts is None:
            texts = [message_text(step.output_message) for step in self._llm_steps()]
            kept = list(map(bool, texts))
            self._llm_texts = list(compress(self.llms, kept)), list(compress(texts, kept))
        return self._llm_texts

    def joined_llm_texts(self) -> pii.JoinedText:
        """The texts of :meth:`llm_texts` as one text."""
        if "llm" not in self._joined:
            self._joined["llm"] = pii.JoinedText.of_texts(self.llm_texts()[1])
        return self._joined["llm"]

    def call_texts(self, field: Literal["arguments", "result"]) -> pii.JoinedText:
        """Every tool call's arguments (or result) as JSON, in one text."""
        if field not in self._joined:
            self._joined[field] = pii.JoinedText.of_json(self._field(field, self.tools))
        return self._joined[field]

    def _field(self, field: str, numbers: Sequence[int]) -> list[Any]:
        """``field`` (arguments, error or result) of the tool calls at ``numbers``."""
        by_step = self._fields[field]
        if by_step is None:  # not read in the pass: read it from the steps
            return list(map(attrgetter(field), map(self.steps.__getitem__, numbers)))
        return list(map(by_step.__getitem__, numbers))

    # ---- the calls of one tool ----------------------------------------------------------------

    def errors(self, name: str) -> list[str | None]:
        """The error of each call of tool ``name`` (``None``: it succeeded)."""
        errors = self._errors.get(name)
        if errors is None:
            errors = self._errors[name] = self._field("error", self.by_name.get(name, ()))
        return errors

    def column(self, name: str, root: _Root, parts: tuple[str, ...] = ()) -> list[Any]:
        """The value at path ``parts`` in each call's arguments (or result) (:func:`resolve`).

        :data:`.values.MISSING` where a call has no such value.  Built one part at a time,
        so that ``customer.id`` and ``customer.tier`` share the ``customer`` column.
        """
        key = (name, root, parts)
        column = self._columns.get(key)
        if column is None:
            if not parts:
                column = self._field(_ATTRIBUTE[root], self.by_name.get(name, ()))
            else:
                column = _resolved(self.column(name, root, parts[:-1]), parts[-1])
            self._columns[key] = column
        return column

    def canonical_column(self, name: str, root: _Root, parts: tuple[str, ...]) -> list[Any]:
        """:meth:`column` with values comparable as JSON (:func:`.values.canonical_values`)."""
        key = (name, root, parts)
        column = self._canonical.get(key)
        if column is None:
            column = self._canonical[key] = jv.canonical_values(self.column(name, root, parts))
        return column

    def arguments_key(self, number: int) -> Hashable:
        """:func:`.values.arguments_key` of the tool call at index ``number``, computed once."""
        key = self._arguments_keys.get(number)
        if key is None:
            [arguments] = self._field("arguments", (number,))
            key = self._arguments_keys[number] = jv.arguments_key(arguments)
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


def _resolved(values: list[Any], part: str) -> list[Any]:
    """``resolve(value, (part,))`` of each value; one C-level pass when all are dicts."""
    try:
        column = list(map(dict.get, values, repeat(part), repeat(jv.MISSING)))
    except TypeError:  # not all of them are dicts
        pass
    else:  # checked after, when the values are in the CPU cache: not dict subclasses either
        if set(map(type, values)) == {dict}:
            return column
    parts = (part,)
    return [jv.resolve(value, parts) for value in values]


def _packed(typecode: str, kind: type, values: list[Any] | None) -> Sequence[Any] | None:
    """``values`` as an array if they are all exactly of type ``kind`` (and fit), else as they
    are: the same numbers, which the garbage collector need not walk."""
    if values is None or set(map(type, values)) - {kind}:
        return values
    try:
        return array(typecode, values)
    except OverflowError:  # an integer beyond 64 bits
        return values
