"""Trajectory assertions: ``assert_tool_calls`` and friends.

Every failure is an ``AssertionError`` whose message shows expected vs actual calls with step
numbers, marks where the run diverged, diffs the arguments of the closest actual call and ends
with the trajectory rendered as a tree.  Helper frames are hidden from pytest tracebacks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

from pytest_agentops._util import short
from pytest_agentops.trajectory.model import ToolCall, Trajectory
from pytest_agentops.trajectory.render import format_call, format_tool_call, render_trajectory

from .matchers import Matcher, Regex, contains_matcher, explain_mismatch, values_match
from .matching import (
    ActualCall,
    ArgsPolicy,
    ExpectedCall,
    MatchResult,
    actual_calls,
    match_calls,
    ordered_passes,
    to_expected,
)


def _trajectory(traj: Any) -> Trajectory:
    if isinstance(traj, Trajectory):
        return traj
    inner = getattr(traj, "trajectory", None)  # the agent_trace fixture (a Recorder)
    if isinstance(inner, Trajectory):
        return inner
    raise TypeError(f"expected a Trajectory or the agent_trace fixture, got {type(traj).__name__}")


def assert_tool_calls(
    traj: Trajectory | Any,
    expected: Sequence[str | ExpectedCall | ToolCall | Mapping[str, Any]],
    *,
    mode: str = "strict",
    args: str | Mapping[str, str] = "exact",
    ignore: Iterable[str] = (),
    only_successful: bool = False,
) -> None:
    """Assert the run's tool calls match ``expected`` under ``mode`` (see ``matching``).

    ``args``: ``"exact"``, ``"partial"`` or ``"ignore"``, or a per-tool mapping such as
    ``{"search": "ignore", "*": "exact"}``.  ``ignore``: tool names dropped from the run before
    matching.  ``only_successful``: drop failed tool calls.
    """
    __tracebackhide__ = True
    trajectory = _trajectory(traj)
    if isinstance(expected, (str, bytes)) or not isinstance(expected, Sequence):
        raise TypeError(
            f"expected must be a list of calls, got {type(expected).__name__}: {expected!r}"
        )
    policy = ArgsPolicy(args)
    wanted = [to_expected(item, i) for i, item in enumerate(expected)]
    if mode == "ordered" and ordered_passes(trajectory, wanted, policy, ignore, only_successful):
        return
    actual = actual_calls(trajectory, ignore, only_successful)
    result = match_calls(wanted, actual, mode, policy)
    if not result.ok:
        message = explain_failure(trajectory, result, policy, ignore, only_successful)
        raise at_step(AssertionError(message), _focus_step(result))


def explain_failure(
    traj: Trajectory,
    result: MatchResult,
    policy: ArgsPolicy,
    ignore: Iterable[str] = (),
    only_successful: bool = False,
) -> str:
    expected, actual = result.expected, result.actual
    by_position = {a.position: a for a in actual}
    matched_by = {pos: i for i, pos in result.assignment.items()}
    filters = []
    if ignore:
        filters.append(f"ignoring {sorted(set(ignore))}")
    if only_successful:
        filters.append("successful calls only")
    lines = [
        f"tool calls do not match (mode={result.mode!r}, args={policy.describe()}"
        + (f", {', '.join(filters)}" if filters else "")
        + f"): {result.reason}",
        "",
        "expected:",
    ]
    width = len(str(len(expected)))
    in_order = result.mode in ("strict", "ordered")
    for i, e in enumerate(expected):
        marker = ">" if i == result.focus_expected else " "
        if i in result.assignment:
            where = f"step {by_position[result.assignment[i]].step}"
        elif in_order and result.focus_expected is not None and i > result.focus_expected:
            where = "not reached"  # matching in order stopped at the divergence
        else:
            where = "not found"
        lines.append(f"  {marker} #{i + 1:<{width}}  {e!r:<50}  {where}")
    if not expected:
        lines.append("    (none)")
    lines += ["", "actual tool calls:"]
    for a in actual:
        marker = ">" if a.position == result.focus_actual else " "
        note = f"#{matched_by[a.position] + 1}" if a.position in matched_by else "unmatched"
        status = "" if a.call.ok else "  !! failed"
        lines.append(f"  {marker} step {a.step:<4} {format_tool_call(a.call):<50}  {note}{status}")
    if not actual:
        lines.append("    (none)")
    if result.focus_expected is not None:
        lines += _closest(
            expected[result.focus_expected], result.focus_expected, actual, matched_by, policy
        )
    lines += ["", "trajectory:", render_trajectory(traj, focus=_focus_step(result))]
    return "\n".join(lines)


def _focus_step(result: MatchResult) -> int | None:
    """The step a failed match points at: the first actual call that did not fit, else the
    last matched call before the expected one that is missing."""
    for a in result.actual:
        if a.position == result.focus_actual:
            return a.step
    if result.focus_expected is None:
        return None
    steps = [result.actual[p].step for p in result.assignment.values()]
    return max(steps) if steps else None


def at_step(error: AssertionError, step: int | None) -> AssertionError:
    """``error`` marked with the 1-based trajectory step it is about (``agentops_step``), which
    the reports highlight."""
    error.agentops_step = step  # type: ignore[attr-defined]
    return error


def _closest(
    e: ExpectedCall,
    index: int,
    actual: list[ActualCall],
    matched_by: dict[int, int],
    policy: ArgsPolicy,
) -> list[str]:
    """The actual call most like expected #index, with an argument diff."""
    same_name = [a for a in actual if a.call.name == e.name]
    header = f"closest actual call to expected #{index + 1} {e!r}:"
    if not same_name:
        names = sorted({a.call.name for a in actual})
        return ["", header, f"    no call of {e.name!r} in the run (tools called: {names})"]
    if e.args is None:
        return []
    mode = policy.mode(e.name)
    partial = mode == "partial"

    def distance(a: ActualCall) -> tuple[int, int]:
        return (len(explain_mismatch(e.args, a.call.arguments, partial)), a.position in matched_by)

    best = min(same_name, key=distance)
    taken = (
        f", already used by expected #{matched_by[best.position] + 1}"
        if best.position in matched_by
        else ""
    )
    lines = ["", header, f"    step {best.step}: {format_tool_call(best.call)}{taken}"]
    diff = argument_diff(e.args, best.call.arguments, partial)
    lines += [f"    {line}" for line in diff] or [
        "    (arguments match; it is used by another expected call)"
    ]
    return lines


def argument_diff(
    expected: Mapping[str, Any], actual: Mapping[str, Any], partial: bool
) -> list[str]:
    """What differs between expected and actual arguments, one line per difference."""
    if partial or contains_matcher(expected):
        return explain_mismatch(expected, actual, partial)
    from deepdiff import DeepDiff

    diff = DeepDiff(dict(expected), dict(actual), ignore_numeric_type_changes=True, verbose_level=2)
    lines = []
    for path, change in diff.get("values_changed", {}).items():
        lines.append(
            f"{_path(path)}: expected {change['old_value']!r}, got {change['new_value']!r}"
        )
    for path, change in diff.get("type_changes", {}).items():
        lines.append(
            f"{_path(path)}: expected {change['old_value']!r} ({change['old_type'].__name__}), "
            f"got {change['new_value']!r} ({change['new_type'].__name__})"
        )
    for path, value in diff.get("dictionary_item_removed", {}).items():
        lines.append(f"{_path(path)}: missing (expected {value!r})")
    for path, value in diff.get("dictionary_item_added", {}).items():
        lines.append(f"{_path(path)}: unexpected argument (got {value!r})")
    for path, value in diff.get("iterable_item_removed", {}).items():
        lines.append(f"{_path(path)}: missing item {value!r}")
    for path, value in diff.get("iterable_item_added", {}).items():
        lines.append(f"{_path(path)}: unexpected item {value!r}")
    return lines or explain_mismatch(expected, actual, partial)


def _path(deepdiff_path: str) -> str:
    """``root['order']['items'][0]`` -> ``order.items[0]``."""
    out = deepdiff_path.removeprefix("root")
    out = out.replace("']['", ".").replace("['", ".").replace("']", "")
    return out.lstrip(".") or "(value)"


# ---- the smaller helpers ----------------------------------------------------------------


def _as_expected(spec: str | ExpectedCall, what: str) -> ExpectedCall:
    if isinstance(spec, (str, ExpectedCall)):
        return to_expected(spec, 0)
    raise TypeError(f"{what} must be a tool name or call(...), got {spec!r}")


def _calls(
    traj: Trajectory, spec: ExpectedCall, partial: bool = True
) -> list[tuple[int, ToolCall]]:
    policy = ArgsPolicy("partial" if partial else "exact")
    return [
        (number, step)
        for number, step in enumerate(traj.steps, start=1)
        if isinstance(step, ToolCall) and policy.matches(spec, step)
    ]


def _fail(message: str, traj: Trajectory, focus: int | None = None) -> AssertionError:
    text = f"{message}\n\ntrajectory:\n{render_trajectory(traj, focus=focus)}"
    return at_step(AssertionError(text), focus)


def assert_called(
    traj: Trajectory | Any,
    name: str,
    args: Mapping[str, Any] | None = None,
    times: int | None = None,
    *,
    exact: bool = False,
) -> None:
    """Assert ``name`` was called (with arguments including ``args``; all of them if ``exact``),
    and, with ``times``, exactly that many times."""
    __tracebackhide__ = True
    trajectory = _trajectory(traj)
    spec = ExpectedCall(name, dict(args) if args is not None else None)
    found = _calls(trajectory, spec, partial=not exact)
    if times is None and found:
        return
    if times is not None and len(found) == times:
        return
    wanted = format_call(name, args) if args is not None else name
    count = "at least once" if times is None else f"{times} time(s)"
    same = [
        (n, s)
        for n, s in enumerate(trajectory.steps, 1)
        if isinstance(s, ToolCall) and s.name == name
    ]
    detail = f"it was called {len(found)} time(s)"
    if args is not None and same and not found:
        closest_step, closest = same[0]
        diff = explain_mismatch(dict(args), closest.arguments, partial=not exact)
        detail += (
            f"; closest call, step {closest_step}: {format_tool_call(closest)}\n    "
            + "\n    ".join(diff)
        )
    raise _fail(f"expected {wanted} to be called {count}; {detail}", trajectory)


def assert_not_called(
    traj: Trajectory | Any, name: str, args: Mapping[str, Any] | None = None
) -> None:
    """Assert ``name`` was never called (with arguments including ``args``, if given)."""
    __tracebackhide__ = True
    trajectory = _trajectory(traj)
    found = _calls(trajectory, ExpectedCall(name, dict(args) if args is not None else None))
    if found:
        steps = ", ".join(str(n) for n, _ in found)
        first_step, first = found[0]
        raise _fail(
            f"expected {name} not to be called, but it was called {len(found)} time(s) "
            f"(step {steps}); first: {format_tool_call(first)}",
            trajectory,
            focus=first_step,
        )


def assert_called_before(
    traj: Trajectory | Any, first: str | ExpectedCall, then: str | ExpectedCall
) -> None:
    """Assert both were called and the first call of ``first`` came before the first ``then``.

    ``first`` and ``then`` are tool names or ``call(...)`` (arguments compared partially).
    """
    __tracebackhide__ = True
    trajectory = _trajectory(traj)
    a, b = _as_expected(first, "first"), _as_expected(then, "then")
    a_calls, b_calls = _calls(trajectory, a), _calls(trajectory, b)
    if not b_calls:
        raise _fail(f"expected {b!r} to be called (after {a!r}), but it was not called", trajectory)
    if not a_calls:
        raise _fail(
            f"expected {a!r} before {b!r} (step {b_calls[0][0]}), but {a!r} was never called",
            trajectory,
            focus=b_calls[0][0],
        )
    if a_calls[0][0] > b_calls[0][0]:
        raise _fail(
            f"expected {a!r} before {b!r}, but {b.name} came first: step {b_calls[0][0]} "
            f"{format_tool_call(b_calls[0][1])}, then step {a_calls[0][0]} "
            f"{format_tool_call(a_calls[0][1])}",
            trajectory,
            focus=b_calls[0][0],
        )


def assert_output_contains(traj: Trajectory | Any, text: str | re.Pattern[str] | Matcher) -> None:
    """Assert the trajectory's output contains ``text``: literal text, a compiled pattern or a
    ``Regex`` (found anywhere in the output), or any matcher (applied to the whole output)."""
    __tracebackhide__ = True
    trajectory = _trajectory(traj)
    output = trajectory.output
    if isinstance(text, re.Pattern):
        ok = isinstance(output, str) and text.search(output) is not None
    elif isinstance(text, Regex):  # "contains": look for the pattern anywhere
        ok = isinstance(output, str) and text.pattern.search(output) is not None
    elif isinstance(text, Matcher):
        ok = values_match(text, output)
    else:
        ok = isinstance(output, str) and text in output
    if not ok:
        raise _fail(
            f"expected the output to contain {text!r}; output is {short(output, 200)}", trajectory
        )


# ---- policies and budgets -----------------------------------------------------------------


def _policies(policy: Any) -> list[Any]:
    from pytest_agentops.policy.loading import load_policy
    from pytest_agentops.policy.rules import Policy

    items = policy if isinstance(policy, (list, tuple)) else [policy]
    loaded = []
    for item in items:
        if isinstance(item, Policy):
            loaded.append(item)
        elif isinstance(item, (str, PathLike)):
            loaded.append(load_policy(Path(item)))
        else:
            raise TypeError(
                f"policy must be a path, a Policy or a list of them, got {type(item).__name__}"
            )
    return loaded


def assert_policy(traj: Trajectory | Any, policy: Any) -> None:
    """Assert the trajectory violates no rule of ``policy``: a YAML file path, a loaded
    ``Policy``, or a list of either.  The failure lists each violation with rule id, step
    and offending call, then the trajectory."""
    __tracebackhide__ = True
    from pytest_agentops.policy.rules import check_policies
    from pytest_agentops.policy.violations import violation_message

    trajectory = _trajectory(traj)
    policies = _policies(policy)
    violations = check_policies(trajectory, policies)
    if violations:
        focus = next((v.step for v in violations if v.step is not None), None)
        raise at_step(AssertionError(violation_message(violations, trajectory, policies)), focus)


def assert_within(
    traj: Trajectory | Any,
    *,
    max_steps: int | None = None,
    max_tool_calls: int | None = None,
    max_llm_calls: int | None = None,
    max_calls: Mapping[str, int] | None = None,
    max_cost_usd: float | None = None,
    max_tokens: int | None = None,
    max_duration_s: float | None = None,
) -> None:
    """Assert the run stayed within budgets (the same checks as a policy budget rule); the
    failure names the step at which each budget was first exceeded."""
    __tracebackhide__ = True
    from pytest_agentops.policy.rules import BudgetRule, Policy

    limits = {
        "max_steps": max_steps,
        "max_tool_calls": max_tool_calls,
        "max_llm_calls": max_llm_calls,
        "max_calls": dict(max_calls) if max_calls is not None else None,
        "max_cost_usd": max_cost_usd,
        "max_tokens": max_tokens,
        "max_duration_s": max_duration_s,
    }
    given = {k: v for k, v in limits.items() if v is not None}
    if not given:
        raise TypeError("assert_within() needs at least one limit, e.g. max_steps=20")
    rule = BudgetRule.model_validate({"id": "assert_within", **given})
    budget = Policy(schema_version=1, name="assert_within", rules=[rule])
    assert_policy(traj, budget)
