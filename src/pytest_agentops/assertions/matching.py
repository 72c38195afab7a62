"""Matching expected tool calls against a trajectory's actual calls, optimally.

Modes (agentevals' meanings, plus ``ordered``):

* ``strict``: exactly these calls, in this order;
* ``ordered``: these calls in this order, other calls may come between;
* ``unordered``: exactly these calls as a multiset, in any order;
* ``superset``: the run made at least these calls (any order, extras allowed);
* ``subset``: the run made no call outside these (each actual call uses up one expected call).

Tool calls that one model response requested together (a parallel group) have no inner order:
``strict`` and ``ordered`` accept them in any order.  Matching is never greedy where greed
could fail: ``unordered``/``superset``/``subset`` compute a maximum bipartite matching
(Hopcroft-Karp) unless every candidate set is interchangeable, in which case counting by key is
exact and linear; ``ordered`` and ``strict`` are linear scans that solve each parallel group as
a small bipartite matching.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_agentops._util import canonical_json
from pytest_agentops.trajectory.model import LLMCall, ToolCall, Trajectory
from pytest_agentops.trajectory.render import format_call

from .bipartite import hopcroft_karp
from .matchers import contains_matcher, values_match

MODES = ("strict", "ordered", "unordered", "superset", "subset")
ARG_MODES = ("exact", "partial", "ignore")


@dataclass(frozen=True)
class ExpectedCall:
    """One expected tool call; ``args=None`` accepts any arguments."""

    name: str
    args: Mapping[str, Any] | None = None

    def __repr__(self) -> str:
        return format_call(self.name, self.args) if self.args is not None else f"{self.name}(...)"


def call(name: str, args: Mapping[str, Any] | None = None, /, **kwargs: Any) -> ExpectedCall:
    """An expected call: ``call("refund", order_id="A1", amount=Lt(100))``.

    ``call("search")`` accepts any arguments; ``call("search", {})`` means "no arguments".
    Pass a dict positionally for argument names that are not Python identifiers.
    """
    if args is not None and kwargs:
        raise TypeError("call() takes the arguments either as a dict or as keywords, not both")
    if args is not None and not isinstance(args, Mapping):
        raise TypeError(f"call() arguments must be a dict, got {type(args).__name__}")
    return ExpectedCall(name, dict(args) if args is not None else (kwargs or None))


def to_expected(item: Any, index: int) -> ExpectedCall:
    if isinstance(item, ExpectedCall):
        return item
    if isinstance(item, str):
        return ExpectedCall(item)
    if isinstance(item, ToolCall):
        return ExpectedCall(item.name, item.arguments)
    if isinstance(item, Mapping) and isinstance(item.get("name"), str):
        args = item.get("arguments", item.get("args"))
        unknown = set(item) - {"name", "arguments", "args"}
        if unknown or (args is not None and not isinstance(args, Mapping)):
            raise TypeError(
                f"expected[{index}]: a dict expectation has keys 'name' and 'arguments' "
                f"(a dict), got {dict(item)!r}"
            )
        return ExpectedCall(item["name"], args)
    raise TypeError(
        f"expected[{index}] must be a tool name, call(...), a ToolCall or a dict with 'name' "
        f"and 'arguments'; got {type(item).__name__}: {item!r}"
    )


@dataclass
class ActualCall:
    position: int  # index among the calls being matched
    step: int  # 1-based step number in trajectory.steps
    call: ToolCall
    group: int  # calls with the same group were requested by one model response


def actual_calls(
    traj: Trajectory, ignore: Iterable[str] = (), only_successful: bool = False
) -> list[ActualCall]:
    """The tool calls to match, with step numbers and parallel groups.

    A parallel group is a run of consecutive tool calls that answer the most recent model
    response, which requested several calls at once (matched by tool-call id).
    """
    ignored = set(ignore)
    out: list[ActualCall] = []
    group = -1
    batch: set[str] | None = None  # ids requested together by the latest model response
    batch_owner = -1
    last_owner: int | None = None
    for number, step in enumerate(traj.steps, start=1):
        if isinstance(step, LLMCall):
            requests = step.requested_tool_calls
            batch = {r.id for r in requests if r.id} if len(requests) > 1 else None
            batch_owner = number
            continue
        if not isinstance(step, ToolCall) or step.name in ignored:
            continue
        if only_successful and not step.ok:
            continue
        owner = batch_owner if batch is not None and step.call_id in batch else None
        if owner is None or owner != last_owner:
            group += 1
        last_owner = owner
        out.append(ActualCall(len(out), number, step, group))
    return out


def ordered_passes(
    traj: Trajectory,
    expected: list[ExpectedCall],
    args: ArgsPolicy,
    ignore: Iterable[str] = (),
    only_successful: bool = False,
) -> bool:
    """``ordered`` mode's verdict in one lean pass (same rules as :func:`match_calls`).

    The passing case is the common one, so it builds no per-call objects; a failure is then
    re-run through :func:`match_calls` to explain it.
    """
    n = len(expected)
    if n == 0:
        return True
    ignored = set(ignore)
    names = [e.name for e in expected]
    accepts = [args.predicate(e) for e in expected]

    def fits(e: int, call: ToolCall) -> bool:
        return call.name == names[e] and accepts[e](call)

    def place_one(i: int, call: ToolCall) -> int:
        return i + 1 if call.name == names[i] and accepts[i](call) else i

    def place_group(i: int, run: list[ToolCall]) -> int:
        if len(run) == 1:
            return place_one(i, run[0])
        # Usually no member fits expected #i at all (a same-name call with other
        # arguments): then nothing in the group can be placed, and no matching is needed.
        if not any(fits(i, c) for c in run):
            return i
        return i + len(_fill_group(i, n, run, fits))

    def place_batch(i: int, response: LLMCall, calls: list[ToolCall]) -> int:
        """Tool calls made after a response that requested several: runs of calls answering
        it are parallel groups, the others stand alone (as in :func:`actual_calls`).
        Only called when one of them has expected #i's name (otherwise none can be placed)."""
        if not any(fits(i, c) for c in calls):
            return i  # nothing is placed before expected #i is
        ids = {r.id for r in response.requested_tool_calls if r.id}
        run: list[ToolCall] = []
        for c in calls:
            if c.call_id in ids:
                run.append(c)
                continue
            if run:
                i = place_group(i, run)
                run = []
                if i == n:
                    return i
            i = place_one(i, c)
            if i == n:
                return i
        return place_group(i, run) if run else i

    i = 0
    filtering = bool(ignored) or only_successful
    response: LLMCall | None = None  # the latest response, if it requested several calls
    pending: list[ToolCall] = []  # tool calls made since that response
    hit = False  # whether one of them has expected #i's name
    target = names[0]  # expected #i's name
    for step in traj.steps:
        kind = step.kind
        if kind == "tool":
            if filtering and (
                step.name in ignored  # type: ignore[union-attr]
                or (only_successful and step.error is not None)  # type: ignore[union-attr]
            ):
                continue
            if response is not None:
                pending.append(step)  # type: ignore[arg-type]
                # i cannot move while calls are pending, so one name check decides whether
                # the batch can place anything at all.
                if not hit and step.name == target:  # type: ignore[union-attr]
                    hit = True
            elif step.name == target and accepts[i](step):  # type: ignore[union-attr,arg-type]
                i += 1
                if i == n:
                    return True
                target = names[i]
        elif kind == "llm":
            if hit:
                assert response is not None
                i = place_batch(i, response, pending)
                hit = False
                if i == n:
                    return True
                target = names[i]
            if pending:
                pending = []
            several = len(step.requested_tool_calls) > 1  # type: ignore[union-attr]
            response = step if several else None  # type: ignore[assignment]
    if hit:
        assert response is not None
        i = place_batch(i, response, pending)
    return i == n


class ArgsPolicy:
    """How arguments are compared: one mode, optionally overridden per tool name."""

    def __init__(self, spec: str | Mapping[str, str]) -> None:
        if isinstance(spec, str):
            default, per_tool = spec, {}
        elif isinstance(spec, Mapping):
            per_tool = dict(spec)
            default = per_tool.pop("*", "exact")
        else:
            raise TypeError(f"args must be a mode or a {{tool: mode}} dict, got {spec!r}")
        for name, mode in [("*", default), *per_tool.items()]:
            if mode not in ARG_MODES:
                where = "args" if name == "*" else f"args[{name!r}]"
                raise ValueError(
                    f"{where} = {mode!r} is not an argument mode; use one of {', '.join(ARG_MODES)}"
                )
        self.default = default
        self.per_tool = per_tool

    def mode(self, tool: str) -> str:
        return self.per_tool.get(tool, self.default)

    def describe(self) -> str:
        if not self.per_tool:
            return repr(self.default)
        return repr({**self.per_tool, "*": self.default})

    def matches(self, expected: ExpectedCall, actual: ToolCall) -> bool:
        if expected.name != actual.name:
            return False
        if expected.args is None:
            return True
        mode = self.mode(expected.name)
        if mode == "ignore":
            return True
        return values_match(expected.args, actual.arguments, partial=mode == "partial")

    def predicate(self, expected: ExpectedCall) -> Callable[[ToolCall], bool]:
        """``matches(expected, call)`` for calls already known to have the right name."""
        args = expected.args
        if args is None or self.mode(expected.name) == "ignore":
            return lambda call: True
        partial = self.mode(expected.name) == "partial"
        # Most same-name calls differ in some plain argument: compare that one first.  Sound
        # as a prefilter: a plain expected value must be present and == in either mode.
        plain = next(((k, v) for k, v in args.items() if type(v) in _SCALARS), None)
        if plain is None:
            return lambda call: values_match(args, call.arguments, partial)
        key, value = plain

        def accepts(call: ToolCall) -> bool:
            arguments = call.arguments
            if arguments.get(key, _MISSING) != value:
                return False
            return values_match(args, arguments, partial)

        return accepts

    def key(self, expected: ExpectedCall) -> tuple[str, ...] | None:
        """A key such that this expectation matches exactly the actual calls with that key,
        or None when matchers or partial comparison make that impossible."""
        if expected.args is None or self.mode(expected.name) == "ignore":
            return (expected.name,)
        if self.mode(expected.name) != "exact" or contains_matcher(expected.args):
            return None
        canonical = canonical_json(expected.args)
        return None if canonical is None else (expected.name, canonical)


@dataclass
class MatchResult:
    ok: bool
    mode: str
    expected: list[ExpectedCall]
    actual: list[ActualCall]
    #: expected index -> actual position
    assignment: dict[int, int] = field(default_factory=dict)
    #: one-line reason when not ok
    reason: str = ""
    #: the expected call where the run first diverged, if any
    focus_expected: int | None = None
    #: the actual call where the run first diverged, if any
    focus_actual: int | None = None


def _match_sets(
    expected: list[ExpectedCall], actual: list[ActualCall], args: ArgsPolicy
) -> dict[int, int]:
    """A maximum matching between expected and actual calls (any order)."""
    keys = [args.key(e) for e in expected]
    if all(k is not None for k in keys):
        return _match_by_key(expected, actual, keys)
    by_name: dict[str, list[ActualCall]] = defaultdict(list)
    for a in actual:
        by_name[a.call.name].append(a)
    narrow = _ScalarIndex(by_name)
    adjacency = [
        [a.position for a in narrow.candidates(e, args) if args.matches(e, a.call)]
        for e in expected
    ]
    return hopcroft_karp(adjacency, len(actual))


_SCALARS = (str, int, float, bool)


class _ScalarIndex:
    """Candidate calls for an expectation, narrowed by one plain top-level argument value.

    ``call("search", q=Regex(...), user="u1")`` need only be checked against the search calls
    whose ``user`` is "u1"; the per-(tool, argument) value maps are built on first use.  The
    narrowed list is a superset of the matches (``values_match`` still decides), so this
    changes the cost, never the result.
    """

    def __init__(self, by_name: dict[str, list[ActualCall]]) -> None:
        self.by_name = by_name
        self.maps: dict[tuple[str, str], dict[Any, list[ActualCall]]] = {}

    def candidates(self, e: ExpectedCall, args: ArgsPolicy) -> list[ActualCall]:
        calls = self.by_name.get(e.name, [])
        if e.args is None or args.mode(e.name) == "ignore" or len(calls) < 32:
            return calls
        best = calls
        for key, value in e.args.items():
            if type(value) not in _SCALARS:
                continue
            values = self._values(e.name, key)
            found = values.get(value, [])
            if len(found) < len(best):
                best = found
        return best

    def _values(self, name: str, key: str) -> dict[Any, list[ActualCall]]:
        values = self.maps.get((name, key))
        if values is None:
            values = self.maps[(name, key)] = defaultdict(list)
            for a in self.by_name[name]:
                value = a.call.arguments.get(key, _MISSING)
                if type(value) in _SCALARS:
                    values[value].append(a)
        return values


_MISSING = object()


def _match_by_key(
    expected: list[ExpectedCall], actual: list[ActualCall], keys: list[Any]
) -> dict[int, int]:
    """Exact matching when every expectation is a name, or a name plus exact JSON arguments.

    Candidate sets are then nested (a name-only expectation accepts a superset of what a
    name+arguments expectation accepts), so serving the specific ones first is optimal.
    """
    pools: dict[tuple[str, ...], list[int]] = defaultdict(list)
    by_name: dict[str, list[int]] = defaultdict(list)
    for a in reversed(actual):  # reversed: pop() hands out the earliest call first
        by_name[a.call.name].append(a.position)
    needs_args = any(len(k) == 2 for k in keys)
    if needs_args:
        for a in reversed(actual):
            canonical = canonical_json(a.call.arguments)
            if canonical is not None:
                pools[(a.call.name, canonical)].append(a.position)
    used: set[int] = set()
    assignment: dict[int, int] = {}
    for i in sorted(range(len(expected)), key=lambda i: -len(keys[i])):  # specific first
        pool = pools[keys[i]] if len(keys[i]) == 2 else by_name[keys[i][0]]
        while pool and pool[-1] in used:
            pool.pop()
        if pool:
            position = pool.pop()
            used.add(position)
            assignment[i] = position
    return assignment


def _fill_group(
    start: int, stop: int, members: Sequence[ToolCall], fits: Callable[[int, ToolCall], bool]
) -> dict[int, int]:
    """Match the longest run of expected calls start, start+1, ... (< stop) that fits into one
    parallel group, in any order; ``fits(e, call)`` says whether call can be expected #e.

    Returns {expected index: member index}.  Extending the run one expected call at a time
    with augmenting paths is optimal: a call that cannot join the group cannot be skipped,
    because every later expected call must come no earlier than it.
    """
    owner: dict[int, int] = {}  # member index -> expected index

    def augment(e: int, seen: set[int]) -> bool:
        for m, member in enumerate(members):
            if m in seen or not fits(e, member):
                continue
            seen.add(m)
            if m not in owner or augment(owner[m], seen):
                owner[m] = e
                return True
        return False

    for e in range(start, min(stop, start + len(members))):
        if not augment(e, set()):
            break
    return {e: m for m, e in owner.items()}


def _groups(actual: list[ActualCall]) -> list[list[ActualCall]]:
    groups: list[list[ActualCall]] = []
    for a in actual:
        if groups and groups[-1][0].group == a.group:
            groups[-1].append(a)
        else:
            groups.append([a])
    return groups


# ---- modes --------------------------------------------------------------------------------


def match_calls(
    expected: list[ExpectedCall], actual: list[ActualCall], mode: str, args: ArgsPolicy
) -> MatchResult:
    if mode not in MODES:
        raise ValueError(f"mode={mode!r} is not a match mode; use one of {', '.join(MODES)}")
    result = MatchResult(ok=False, mode=mode, expected=expected, actual=actual)
    if mode in ("strict", "ordered"):
        _match_in_order(result, args, strict=mode == "strict")
    else:
        _match_any_order(result, args)
    return result


def _match_in_order(result: MatchResult, args: ArgsPolicy, strict: bool) -> None:
    expected, actual = result.expected, result.actual
    i = 0
    for group in _groups(actual):
        if i == len(expected):
            if strict:
                result.focus_actual = group[0].position
                result.reason = (
                    f"the run made {len(actual)} tool calls, {len(expected)} were expected: "
                    f"unexpected extra call at step {group[0].step}"
                )
                return
            break
        calls = [a.call for a in group]
        fill = _fill_group(i, len(expected), calls, lambda e, c: args.matches(expected[e], c))
        placed = {e: group[m].position for e, m in fill.items()}
        if strict and len(placed) != len(group):
            result.assignment.update(placed)
            result.focus_expected = i + len(placed) if i + len(placed) < len(expected) else None
            unplaced = [a for a in group if a.position not in placed.values()]
            result.focus_actual = unplaced[0].position
            result.reason = f"step {unplaced[0].step}: {unplaced[0].call.name} does not match " + (
                f"expected #{i + len(placed) + 1}"
                if i + len(placed) < len(expected)
                else "anything (more calls than expected)"
            )
            return
        result.assignment.update(placed)
        i += len(placed)
    if i < len(expected):
        result.focus_expected = i
        after = max((actual[p].step for p in result.assignment.values()), default=0)
        where = f"after step {after}" if after else "in the run"
        result.reason = f"expected #{i + 1} {expected[i]!r} was not found {where}"
        return
    result.ok = True


def _match_any_order(result: MatchResult, args: ArgsPolicy) -> None:
    expected, actual, mode = result.expected, result.actual, result.mode
    result.assignment = _match_sets(expected, actual, args)
    missing = [i for i in range(len(expected)) if i not in result.assignment]
    used = set(result.assignment.values())
    extra = [a for a in actual if a.position not in used]
    if missing and mode in ("unordered", "superset"):
        result.focus_expected = missing[0]
    if extra and mode in ("unordered", "subset"):
        result.focus_actual = extra[0].position
    problems = []
    if missing and mode in ("unordered", "superset"):
        problems.append(
            f"{len(missing)} expected call(s) not made, first: #{missing[0] + 1} "
            f"{expected[missing[0]]!r}"
        )
    if extra and mode in ("unordered", "subset"):
        problems.append(
            f"{len(extra)} call(s) outside the expected ones, first: step {extra[0].step} "
            f"{extra[0].call.name}"
        )
    result.ok = not problems
    result.reason = "; ".join(problems)
