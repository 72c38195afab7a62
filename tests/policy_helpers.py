"""Helpers shared by the policy engine's tests: policies from YAML rules, steps, runs."""

from __future__ import annotations

from enum import Enum, IntEnum
from typing import Any

from pytest_agentops.policy import (
    Policy,
    Violation,
    parse_policy,
)
from pytest_agentops.trajectory.model import (
    LLMCall,
    Step,
    ToolCall,
    Trajectory,
)

SOURCE = "policies/support.yaml"


def policy(*rules: str, name: str = "support") -> Policy:
    """A policy with the given rules, each written as one YAML flow mapping."""
    text = f"schema_version: 1\nname: {name}\nrules:\n" + "".join(f"  - {r}\n" for r in rules)
    return parse_policy(text, source=SOURCE)


def tool(name: str, error: str | None = None, result: Any = None, **arguments: Any) -> ToolCall:
    return ToolCall(name=name, arguments=arguments, result=result, error=error)


def llm(
    text: str | None = None, cost: float | None = None, tokens: tuple[int, int] = (0, 0)
) -> LLMCall:
    message = {"role": "assistant", "content": text}
    return LLMCall(
        model="gpt-test",
        output_message=message,
        cost_usd=cost,
        input_tokens=tokens[0],
        output_tokens=tokens[1],
    )


def run(*steps: Step, output: Any = None) -> Trajectory:
    return Trajectory(steps=list(steps), output=output)


def found(p: Policy, trajectory: Trajectory) -> list[tuple[str, int | None]]:
    return [(v.rule_id, v.step) for v in p.check(trajectory)]


def only(p: Policy, trajectory: Trajectory) -> Violation:
    violations = p.check(trajectory)
    assert len(violations) == 1, violations
    return violations[0]


class Color(str, Enum):
    RED = "red"


class Size(IntEnum):
    ONE = 1
