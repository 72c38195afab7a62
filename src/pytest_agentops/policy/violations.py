"""What a policy check returns (:class:`Violation`) and how violations read as text."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict
from typing_extensions import TypedDict  # pydantic reads typing's only on Python >= 3.12

from pytest_agentops._util import short
from pytest_agentops.trajectory.model import LLMCall, MessageStep, SpanStep, Step, Trajectory
from pytest_agentops.trajectory.render import render_trajectory

from .pii import redact

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .rules import Policy


class CallShown(TypedDict):
    """The offending tool call as a violation shows it: the ``ToolCall``'s name and its
    arguments (with any secret the rule found masked).  The step itself is ``Violation.step``."""

    name: str
    arguments: Any


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
    call: CallShown | None = None
    policy: str | None = None


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


def violation_message(
    violations: list[Violation], trajectory: Trajectory, policies: Iterable[Policy] = ()
) -> str:
    """The failure message of a test with violations: each of them, then the trajectory.

    What the policies' ``forbid_output`` rules look for (personal data, keys) is masked in all
    of it, the trajectory's values before they are cut to fit a line.
    """
    detectors = [d for policy in policies for d in policy.detectors]
    if detectors:
        data = trajectory.model_dump()  # datetimes and numbers stay as they are
        trajectory = type(trajectory).model_validate(redact(data, detectors, numbers=False))
    focus = next((v.step for v in violations if v.step is not None), None)
    text = (
        f"agentops policy violations ({len(violations)}):\n"
        f"{format_violations(violations, trajectory)}\n\n"
        f"trajectory:\n{render_trajectory(trajectory, focus=focus)}"
    )
    text = str(redact(text, detectors)) if detectors else text
    from pytest_agentops.redact import Redactor  # keys and secrets too, as in every file

    return Redactor().text(text)


def _call_text(call: CallShown) -> str:
    arguments = call.get("arguments")
    if isinstance(arguments, dict):
        shown = ", ".join(f"{key}={short(value, 40, '…')}" for key, value in arguments.items())
    else:
        shown = short(arguments, 40, "…")
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
