"""The semantic difference between two trajectories: a baseline and a run.

Pure (no pytest): :func:`diff_trajectories` takes two :class:`Trajectory` objects and returns
a :class:`TrajectoryDiff`, typed :class:`Difference` objects and their text.  It backs
``agent_trace.assert_matches_baseline()`` and ``pytest-agentops diff``.

What is compared, and what fails the comparison:

* **Tool calls.**  The verdict is the assertion engine's: the baseline's calls become
  ``call(name, arguments)`` with exact arguments, matched against the run under ``mode``
  (``strict``, ``ordered``, ``unordered``, ``superset``, ``subset``, as
  :func:`~pytest_agentops.assertions.api.assert_tool_calls` names them).  The differences
  explain it: a call added, removed or moved, arguments changed (path, old -> new).  What the
  mode allows (an extra call under ``superset``, a moved one under ``unordered``) is listed
  as tolerated.
* **Tool results and errors**: listed, never failing: they are what the environment
  answered, not what the agent decided (what the agent did with them shows in its calls).
* **LLM calls**: a different number fails under ``strict`` and ``unordered`` (the modes that
  want exactly the baseline's tool calls), and is tolerated under the others.  A different
  set of models is tolerated.
* **Cost and tokens** (the totals): a relative change beyond the tolerance, up or down,
  fails; from zero to anything is beyond every tolerance; ``None`` leaves them out.
* **Output**: fails with ``compare_output=True`` only (a model's wording varies from run to
  run).  **Input**: tolerated.

Ignored: ids, parent ids, timestamps, durations and latencies, response ids, the
trajectory's name and metadata, LLM messages, message and span steps.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from pytest_agentops._util import canonical, short
from pytest_agentops.assertions.matching import MODES, ArgsPolicy, actual_calls, call, match_calls
from pytest_agentops.trajectory.model import ToolCall, Trajectory
from pytest_agentops.trajectory.render import format_tool_call

#: How many characters of a value a difference shows.
VALUE = 60
#: How many changed paths one difference lists.
MAX_CHANGES = 5
#: Difference kind -> the tool-call modes that allow it.
_ALLOWED = {
    "tool_added": ("ordered", "superset"),
    "tool_removed": ("subset",),
    "tool_moved": ("unordered", "superset", "subset"),
}


@dataclass(frozen=True)
class Change:
    """One value that differs inside arguments, a result or an output.

    ``kind``: ``changed``, ``added`` (not in the baseline) or ``removed`` (not in the run).
    """

    path: str
    old: Any = None
    new: Any = None
    kind: str = "changed"

    def describe(self, root: str = "") -> str:
        """``path: old -> new`` (without the path when it is ``root``, the whole value)."""
        old = "(missing)" if self.kind == "added" else short(self.old, VALUE)
        new = "(missing)" if self.kind == "removed" else short(self.new, VALUE)
        return f"{old} -> {new}" if self.path == root else f"{self.path}: {old} -> {new}"


def _changes_text(changes: Sequence[Change], root: str = "") -> str:
    shown = "; ".join(c.describe(root) for c in changes[:MAX_CHANGES])
    more = len(changes) - MAX_CHANGES
    return shown + (f"; and {more} more" if more > 0 else "")


@dataclass(frozen=True, kw_only=True)
class Difference:
    """One way the run departs from the baseline."""

    kind: ClassVar[str] = "difference"
    #: Whether it fails the comparison; a tolerated difference says why in ``why``.
    fails: bool = True
    why: str = ""

    def describe(self) -> str:
        raise NotImplementedError

    def line(self) -> str:
        """:meth:`describe`, with why it is tolerated."""
        return self.describe() + (f" ({self.why})" if self.why and not self.fails else "")

    def to_jsonable(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.describe(), **asdict(self)}


@dataclass(frozen=True, kw_only=True)
class ToolAdded(Difference):
    """A tool call the run made and the baseline did not (``position``: 1-based among the
    run's tool calls; ``step``: the run's step number)."""

    kind: ClassVar[str] = "tool_added"
    call: str
    position: int
    step: int

    def describe(self) -> str:
        return f"tool call added: #{self.position} {self.call} (step {self.step})"


@dataclass(frozen=True, kw_only=True)
class ToolRemoved(Difference):
    """A tool call of the baseline (``position``: 1-based among its tool calls) the run did
    not make."""

    kind: ClassVar[str] = "tool_removed"
    call: str
    position: int

    def describe(self) -> str:
        return f"tool call removed: #{self.position} {self.call}"


@dataclass(frozen=True, kw_only=True)
class ToolMoved(Difference):
    """The same call (name and arguments), at another place among the tool calls."""

    kind: ClassVar[str] = "tool_moved"
    call: str
    was: int
    now: int

    def describe(self) -> str:
        return f"tool call moved: {self.call} was #{self.was}, now #{self.now}"


@dataclass(frozen=True, kw_only=True)
class ArgumentsChanged(Difference):
    """A call of the same tool with other arguments (``was``/``now``: its positions)."""

    kind: ClassVar[str] = "arguments_changed"
    name: str
    was: int
    now: int
    changes: tuple[Change, ...]

    def describe(self) -> str:
        where = f"#{self.now}" if self.was == self.now else f"#{self.now} (was #{self.was})"
        return f"arguments changed: {where} {self.name}: {_changes_text(self.changes)}"


@dataclass(frozen=True, kw_only=True)
class ResultChanged(Difference):
    """The same call returned something else (or failed, or stopped failing)."""

    kind: ClassVar[str] = "result_changed"
    name: str
    position: int
    changes: tuple[Change, ...]

    def describe(self) -> str:
        changes = _changes_text(self.changes, "result")
        return f"result changed: #{self.position} {self.name}: {changes}"


@dataclass(frozen=True, kw_only=True)
class ToolCallsMismatch(Difference):
    """The assertion engine's verdict, when no added/removed/moved/changed call explains it."""

    kind: ClassVar[str] = "tool_calls"
    mode: str
    reason: str

    def describe(self) -> str:
        return f"tool calls do not match (mode={self.mode!r}): {self.reason}"


def _tolerance_text(tolerance: float | None) -> str:
    return "not compared" if tolerance is None else f"±{round(tolerance * 100, 2):g}%"


def _relative(old: float, new: float) -> float:
    if old == new:
        return 0.0
    return math.inf if old == 0 else (new - old) / abs(old)


@dataclass(frozen=True, kw_only=True)
class AmountChanged(Difference):
    """Total cost (USD) or tokens changed; ``detail`` breaks tokens down into in and out."""

    kind: ClassVar[str] = "amount_changed"
    metric: str
    old: float
    new: float
    tolerance: float | None
    detail: str = ""

    def describe(self) -> str:
        if self.metric == "cost":
            old, new = f"${self.old:.6f}", f"${self.new:.6f}"
        else:
            old, new = f"{self.old:g}", f"{self.new:g}"
        change = _relative(self.old, self.new)
        pct = "from zero" if math.isinf(change) else f"{change:+.0%}"
        if self.tolerance is None:
            verdict = "not compared"
        else:
            verdict = f"{'beyond' if self.fails else 'within'} {_tolerance_text(self.tolerance)}"
        detail = f"; {self.detail}" if self.detail else ""
        return f"{self.metric}: {old} -> {new} ({pct}, {verdict}{detail})"


@dataclass(frozen=True, kw_only=True)
class CountChanged(Difference):
    """The number of LLM calls changed."""

    kind: ClassVar[str] = "count_changed"
    metric: str
    old: int
    new: int

    def describe(self) -> str:
        return f"{self.metric}: {self.old} -> {self.new}"


@dataclass(frozen=True, kw_only=True)
class ModelsChanged(Difference):
    """The run used another set of models."""

    kind: ClassVar[str] = "models_changed"
    old: tuple[str, ...]
    new: tuple[str, ...]

    def describe(self) -> str:
        return f"models: {', '.join(self.old) or '(none)'} -> {', '.join(self.new) or '(none)'}"


@dataclass(frozen=True, kw_only=True)
class ValueChanged(Difference):
    """The trajectory's output (``what="output"``) or input changed."""

    kind: ClassVar[str] = "value_changed"
    what: str
    changes: tuple[Change, ...]

    def describe(self) -> str:
        return f"{self.what} changed: {_changes_text(self.changes, self.what)}"


@dataclass(frozen=True)
class TrajectoryDiff:
    """Every difference between a baseline and a run, and how they were compared."""

    differences: tuple[Difference, ...]
    mode: str = "strict"
    cost_tolerance: float | None = 0.2
    tokens_tolerance: float | None = 0.2

    @property
    def ok(self) -> bool:
        """Whether the run matches the baseline (no difference fails)."""
        return not self.failing

    @property
    def failing(self) -> list[Difference]:
        return [d for d in self.differences if d.fails]

    @property
    def tolerated(self) -> list[Difference]:
        return [d for d in self.differences if not d.fails]

    def settings_text(self) -> str:
        return (
            f"mode={self.mode!r}, cost {_tolerance_text(self.cost_tolerance)}, "
            f"tokens {_tolerance_text(self.tokens_tolerance)}"
        )

    def render(self, baseline: str = "the baseline", run: str = "the run") -> str:
        """The differences as text: the failing ones, then the tolerated ones."""
        if self.ok:
            head = f"{run} matches {baseline} ({self.settings_text()})"
            if not self.differences:
                return head
            lines = [f"{head}; tolerated differences:"]
        else:
            lines = [f"{run} differs from {baseline} ({self.settings_text()}):"]
            lines += [f"  {d.line()}" for d in self.failing]
            if self.tolerated:
                lines.append("tolerated:")
        lines += [f"  {d.line()}" for d in self.tolerated]
        return "\n".join(lines)

    def to_jsonable(self) -> dict[str, Any]:
        return {
            "matches": self.ok,
            "mode": self.mode,
            "cost_tolerance": self.cost_tolerance,
            "tokens_tolerance": self.tokens_tolerance,
            "differences": [d.to_jsonable() for d in self.differences],
        }


# ---- comparing ------------------------------------------------------------------------------


def check_options(mode: str, cost_tolerance: float | None, tokens_tolerance: float | None) -> None:
    """Raise ``ValueError`` for a mode or tolerance the comparison cannot use."""
    if mode not in MODES:
        raise ValueError(f"mode={mode!r} is not a match mode; use one of {', '.join(MODES)}")
    for name, value in (("cost_tolerance", cost_tolerance), ("tokens_tolerance", tokens_tolerance)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{name} must be a number (0.2 = 20%) or None, got {value!r}")
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name}={value!r}: use a relative change of 0 or more (0.2 = 20%)")


def diff_trajectories(
    baseline: Trajectory,
    run: Trajectory,
    *,
    mode: str = "strict",
    cost_tolerance: float | None = 0.2,
    tokens_tolerance: float | None = 0.2,
    compare_output: bool = False,
) -> TrajectoryDiff:
    """How ``run`` differs from ``baseline`` (see the module docstring for the rules)."""
    check_options(mode, cost_tolerance, tokens_tolerance)
    found = _tool_differences(baseline, run, mode)
    found += _llm_differences(baseline, run, mode)
    found += _amounts(baseline, run, cost_tolerance, tokens_tolerance)
    if canonical(baseline.output) != canonical(run.output):
        why = "" if compare_output else "not compared; compare_output=True fails on it"
        found.append(
            ValueChanged(
                what="output",
                changes=value_changes(baseline.output, run.output, root="output"),
                fails=compare_output,
                why=why,
            )
        )
    if canonical(baseline.input) != canonical(run.input):
        changes = value_changes(baseline.input, run.input, root="input")
        found.append(ValueChanged(what="input", changes=changes, fails=False, why="not compared"))
    return TrajectoryDiff(tuple(found), mode, cost_tolerance, tokens_tolerance)


def _tool_differences(baseline: Trajectory, run: Trajectory, mode: str) -> list[Difference]:
    old, new = baseline.tool_calls, run.tool_calls
    expected = [call(c.name, c.arguments) for c in old]
    verdict = match_calls(expected, actual_calls(run), mode, ArgsPolicy("exact"))
    step_of = {id(s): n for n, s in enumerate(run.steps, start=1)}
    allowed = f"allowed by mode={mode!r}"

    def fails(kind: str) -> bool:
        return not verdict.ok and mode not in _ALLOWED.get(kind, ())

    found: list[tuple[tuple[int, int], Difference]] = []
    for how, i, j in align_tool_calls(old, new):
        if how == "removed":
            assert i is not None
            d: Difference = ToolRemoved(
                call=format_tool_call(old[i]),
                position=i + 1,
                fails=fails(ToolRemoved.kind),
                why=allowed,
            )
            found.append(((i, 0), d))
            continue
        assert j is not None
        if how == "added":
            d = ToolAdded(
                call=format_tool_call(new[j]),
                position=j + 1,
                step=step_of[id(new[j])],
                fails=fails(ToolAdded.kind),
                why=allowed,
            )
            found.append(((j, 1), d))
            continue
        assert i is not None
        if how == "changed":
            changes = value_changes(old[i].arguments, new[j].arguments, root="arguments")
            d = ArgumentsChanged(
                name=new[j].name,
                was=i + 1,
                now=j + 1,
                changes=changes,
                fails=fails(ArgumentsChanged.kind),
                why=allowed,
            )
            found.append(((j, 1), d))
            continue
        if how == "moved":
            d = ToolMoved(
                call=format_tool_call(new[j]),
                was=i + 1,
                now=j + 1,
                fails=fails(ToolMoved.kind),
                why=allowed,
            )
            found.append(((j, 1), d))
        outcome = _result_changes(old[i], new[j])
        if outcome:
            d = ResultChanged(
                name=new[j].name,
                position=j + 1,
                changes=outcome,
                fails=False,
                why="results are not compared",
            )
            found.append(((j, 2), d))
    out = [d for _, d in sorted(found, key=lambda pair: pair[0])]
    if not verdict.ok and not any(d.fails for d in out):
        out.insert(0, ToolCallsMismatch(mode=mode, reason=verdict.reason))
    return out


def align_tool_calls(
    old: Sequence[ToolCall], new: Sequence[ToolCall]
) -> list[tuple[str, int | None, int | None]]:
    """Pair the baseline's tool calls (``old``) with the run's (``new``): ``(how, i, j)`` with
    ``how`` one of ``same`` (same call, in order), ``moved`` (same call, elsewhere),
    ``changed`` (same tool, other arguments), ``removed`` (``j`` None), ``added`` (``i``
    None).  Calls are the same when their names and arguments are equal as JSON."""
    old_keys = [(c.name, canonical(c.arguments)) for c in old]
    new_keys = [(c.name, canonical(c.arguments)) for c in new]
    pairs: list[tuple[str, int | None, int | None]] = []
    matcher = difflib.SequenceMatcher(None, old_keys, new_keys, autojunk=False)
    for block in matcher.get_matching_blocks():
        pairs += [("same", block.a + k, block.b + k) for k in range(block.size)]
    paired_old = {i for _, i, _ in pairs}
    paired_new = {j for _, _, j in pairs}
    rest_old = [i for i in range(len(old)) if i not in paired_old]
    rest_new = [j for j in range(len(new)) if j not in paired_new]
    for how in ("moved", "changed"):
        for i in list(rest_old):
            if how == "moved":  # the same call elsewhere
                j = next((j for j in rest_new if new_keys[j] == old_keys[i]), None)
            else:  # the same tool with other arguments
                j = next((j for j in rest_new if new[j].name == old[i].name), None)
            if j is not None:
                pairs.append((how, i, j))
                rest_old.remove(i)
                rest_new.remove(j)
    pairs += [("removed", i, None) for i in rest_old]
    pairs += [("added", None, j) for j in rest_new]
    return pairs


def _result_changes(old: ToolCall, new: ToolCall) -> tuple[Change, ...]:
    if old.error != new.error:
        kind = "added" if old.error is None else "removed" if new.error is None else "changed"
        return (Change("error", old.error, new.error, kind),)
    if canonical(old.result) == canonical(new.result):
        return ()
    return value_changes(old.result, new.result, root="result")


def _llm_differences(baseline: Trajectory, run: Trajectory, mode: str) -> list[Difference]:
    out: list[Difference] = []
    old, new = baseline.llm_calls, run.llm_calls
    if len(old) != len(new):
        strict = mode in ("strict", "unordered")
        out.append(
            CountChanged(
                metric="LLM calls",
                old=len(old),
                new=len(new),
                fails=strict,
                why=f"allowed by mode={mode!r}",
            )
        )
    old_models = tuple(sorted({c.model for c in old}))
    new_models = tuple(sorted({c.model for c in new}))
    if old_models != new_models:
        out.append(
            ModelsChanged(old=old_models, new=new_models, fails=False, why="models not compared")
        )
    return out


def _amounts(
    baseline: Trajectory,
    run: Trajectory,
    cost_tolerance: float | None,
    tokens_tolerance: float | None,
) -> list[Difference]:
    def beyond(old: float, new: float, tolerance: float | None) -> bool:
        if tolerance is None:
            return False
        return abs(_relative(old, new)) > tolerance * (1 + 1e-9)

    out: list[Difference] = []
    old_cost, new_cost = baseline.cost_usd, run.cost_usd
    if not math.isclose(old_cost, new_cost, rel_tol=1e-12, abs_tol=1e-15):
        out.append(
            AmountChanged(
                metric="cost",
                old=old_cost,
                new=new_cost,
                tolerance=cost_tolerance,
                fails=beyond(old_cost, new_cost, cost_tolerance),
            )
        )
    old_tokens, new_tokens = baseline.total_tokens, run.total_tokens
    if old_tokens != new_tokens:
        detail = (
            f"in {baseline.input_tokens} -> {run.input_tokens}, "
            f"out {baseline.output_tokens} -> {run.output_tokens}"
        )
        out.append(
            AmountChanged(
                metric="tokens",
                old=old_tokens,
                new=new_tokens,
                tolerance=tokens_tolerance,
                detail=detail,
                fails=beyond(old_tokens, new_tokens, tokens_tolerance),
            )
        )
    return out


# ---- value differences (deepdiff) -------------------------------------------------------------


def value_changes(old: Any, new: Any, root: str = "") -> tuple[Change, ...]:
    """Where ``new`` departs from ``old``, one :class:`Change` per path (``root`` names the
    value itself: ``arguments``, ``result``).  Numbers compare by value (``250 == 250.0``)."""
    from deepdiff import DeepDiff

    diff = DeepDiff(old, new, ignore_numeric_type_changes=True, verbose_level=2)
    out: list[Change] = []
    for key in ("values_changed", "type_changes"):
        for path, change in diff.get(key, {}).items():
            out.append(Change(_path(path, root), change["old_value"], change["new_value"]))
    for key, kind in (
        ("dictionary_item_added", "added"),
        ("iterable_item_added", "added"),
        ("dictionary_item_removed", "removed"),
        ("iterable_item_removed", "removed"),
    ):
        for path, value in diff.get(key, {}).items():
            if kind == "added":
                out.append(Change(_path(path, root), None, value, kind))
            else:
                out.append(Change(_path(path, root), value, None, kind))
    if not out:  # equal for deepdiff, not as JSON (true vs 1): the whole value
        out.append(Change(root or "(value)", old, new))
    return tuple(out)


def _path(deepdiff_path: str, root: str = "") -> str:
    """``root['order']['items'][0]`` -> ``order.items[0]`` (``root`` alone: the value)."""
    out = deepdiff_path.removeprefix("root")
    out = out.replace("']['", ".").replace("['", ".").replace("']", "").lstrip(".")
    return out or root or "(value)"
