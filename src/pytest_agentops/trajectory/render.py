"""Trajectories and calls as text: for failure messages and reports, and for an LLM judge.

- :func:`render_trajectory`: one numbered line per step, nested, cut to a window around a
  step of interest (failure messages, policy violations);
- :func:`render_transcript`: a complete account of a run (input, every step, output) that an
  LLM judge grades;
- :func:`format_call`, :func:`tool_names_diff`: calls and tool-name sequences.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_agentops._util import abridge, clip, plural, short

from .model import LLMCall, MessageStep, SpanStep, Step, ToolCall, Trajectory

MAX_VALUE = 60
MAX_STEPS = 40


def format_call(name: str, args: Mapping[str, Any] | None, limit: int = MAX_VALUE) -> str:
    if args is None:
        return f"{name}(...)"
    inner = ", ".join(
        f"{k}={short(v, limit)}" if str(k).isidentifier() else f"**{{{k!r}: {short(v, limit)}}}"
        for k, v in args.items()
    )
    return f"{name}({inner})"


def format_tool_call(call: ToolCall) -> str:
    return format_call(call.name, call.arguments)


def _describe(step: Step) -> str:
    if isinstance(step, ToolCall):
        text = f"tool  {format_tool_call(step)}"
        if step.error is not None:
            return f"{text}  !! {clip(step.error)}"
        return f"{text} -> {short(step.result)}"
    if isinstance(step, LLMCall):
        parts = [f"llm   {step.model}", f"{step.input_tokens}->{step.output_tokens} tok"]
        if step.cost_usd:
            parts.append(f"${step.cost_usd:.6f}")
        if step.error is not None:
            parts.append(f"!! {clip(step.error)}")
        elif step.requested_tool_calls:
            parts.append("asks " + ", ".join(r.name for r in step.requested_tool_calls))
        elif step.output_text:
            parts.append(f"says {clip(step.output_text, MAX_VALUE)!r}")
        return "  ".join(parts)
    if isinstance(step, MessageStep):
        return f"msg   {step.role}: {short(step.content)}"
    assert isinstance(step, SpanStep)
    error = f"  !! {clip(step.error)}" if step.error else ""
    return f"span  {step.name}{error}"


def render_trajectory(
    traj: Trajectory, mark: dict[int, str] | None = None, focus: int | None = None
) -> str:
    """One line per step, indented by nesting; ``mark`` puts a note after step numbers.

    Long trajectories are cut to a window around ``focus`` (a 1-based step number).
    """
    mark = mark or {}
    depth: dict[str, int] = {}
    lines: list[str] = []
    total = len(traj.steps)
    lo, hi = 1, total
    if total > MAX_STEPS:
        center = focus or 1
        lo = max(1, min(center - MAX_STEPS // 2, total - MAX_STEPS + 1))
        hi = lo + MAX_STEPS - 1
    width = len(str(total))
    for number, step in enumerate(traj.steps, start=1):
        level = depth.get(step.parent_id, -1) + 1 if step.parent_id else 0
        depth[step.id] = level
        if number < lo or number > hi:
            continue
        note = mark.get(number, "")
        prefix = f"{'>' if number == focus else ' '} {number:>{width}} "
        lines.append(f"{prefix}{'  ' * level}{_describe(step)}{'  <- ' + note if note else ''}")
    if lo > 1:
        lines.insert(0, f"  ... {lo - 1} earlier steps ...")
    if hi < total:
        lines.append(f"  ... {total - hi} later steps ...")
    t = traj.totals()
    lines.append(
        f"  ({plural(t.steps, 'step')}: {plural(t.tool_calls, 'tool call')}, "
        f"{plural(t.llm_calls, 'LLM call')}, {t.input_tokens}->{t.output_tokens} tokens, "
        f"${t.cost_usd:.6f})"
    )
    return "\n".join(lines)


def tool_names_diff(expected: Sequence[str], actual: Sequence[str]) -> list[str]:
    """An aligned diff of two tool-name sequences (for ``assert traj.tool_names == [...]``)."""
    lines = ["tool call sequence differs (- expected, + actual, position in the run):"]
    matcher = difflib.SequenceMatcher(a=list(expected), b=list(actual), autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            lines.extend(f"    {j + 1:>3}  {actual[j]}" for j in range(j1, j2))
            continue
        lines.extend(f"  - {'':>3}  {expected[i]}" for i in range(i1, i2))
        lines.extend(f"  + {j + 1:>3}  {actual[j]}" for j in range(j1, j2))
    return lines


def tool_names_repr(expected: Sequence[object], actual: Sequence[str]) -> list[str]:
    """``assert traj.tool_names == [...]`` failures: both sequences aligned, with positions."""
    return [
        f"tool_names == {short(expected)}",
        *tool_names_diff([str(e) for e in expected], actual),
    ]


def render_transcript(traj: Trajectory) -> str:
    """A compact, complete account of a run for an LLM judge: input, each step, output."""
    lines = []
    if traj.input is not None:
        lines.append(f"INPUT: {_text(traj.input)}")
    for number, step in enumerate(traj.steps, start=1):
        if isinstance(step, ToolCall):
            args = json.dumps(step.arguments, ensure_ascii=False, default=str)
            outcome = f"ERROR {step.error}" if step.error else _text(step.result)
            lines.append(
                f"{number}. tool {step.name}({abridge(args, 600)}) -> {abridge(outcome, 600)}"
            )
        elif isinstance(step, LLMCall):
            if step.error:
                lines.append(f"{number}. model call failed: {step.error}")
            elif step.requested_tool_calls:
                asked = ", ".join(c.name for c in step.requested_tool_calls)
                said = f' and says "{abridge(step.output_text, 400)}"' if step.output_text else ""
                lines.append(f"{number}. model asks for {asked}{said}")
            else:
                lines.append(f'{number}. model says "{abridge(step.output_text or "", 1000)}"')
        else:
            dumped = _text(step.model_dump(mode="json"))
            lines.append(f"{number}. {step.kind} {abridge(dumped, 300)}")
    if traj.output is not None:
        lines.append(f"FINAL OUTPUT: {_text(traj.output)}")
    return "\n".join(lines)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
