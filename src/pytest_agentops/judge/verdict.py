"""The judge's hook contract: what to judge (:class:`JudgeRequest`) and the answer
(:class:`Verdict`), as ``pytest_agentops_judge`` implementations receive and return them.

A custom judge imports only this module (pydantic, no litellm).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pytest_agentops._util import abridge
from pytest_agentops.settings import JudgeSettings

if TYPE_CHECKING:
    from pytest_agentops.trajectory.model import Trajectory

_DEFAULTS = JudgeSettings()

# ---- verdicts --------------------------------------------------------------------------------


class CheckScore(BaseModel):
    """One rubric check as the judge scored it."""

    model_config = ConfigDict(extra="forbid")

    check: str
    weight: float = 1.0
    score: float = Field(ge=0.0, le=1.0)
    reasoning: str = ""


class Verdict(BaseModel):
    """A judge's decision about one subject; ``assert verdict`` passes when ``passed``."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    criteria: str
    score: float = Field(ge=0.0, le=1.0)
    passed: bool
    threshold: float
    reasoning: str
    model: str
    samples: int = 1
    #: Each sample's score, and max - min of them (0 with one sample).
    scores: list[float] = Field(default_factory=list)
    spread: float = 0.0
    checks: list[CheckScore] = Field(default_factory=list)
    cost_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    #: What was judged: "output", "trajectory" or "text".
    on: str = "text"

    def __bool__(self) -> bool:
        return self.passed

    def describe(self) -> str:
        state = "passed" if self.passed else "FAILED"
        op = ">=" if self.passed else "<"
        spread = (
            f", spread {self.spread:.2f} over {self.samples} samples" if self.samples > 1 else ""
        )
        lines = [
            f"judge {state}: score {self.score:.2f} {op} threshold {self.threshold:.2f}{spread} "
            f"({self.model})",
            f"  criteria: {self.criteria}",
            f"  reasoning: {self.reasoning}",
        ]
        lines += [
            f"  - {c.check} (weight {c.weight:g}): {c.score:.2f} {c.reasoning}".rstrip()
            for c in self.checks
        ]
        return "\n".join(lines)

    def __repr__(self) -> str:  # what `assert verdict` shows: one line, the facts first
        state = "passed" if self.passed else "FAILED"
        op = ">=" if self.passed else "<"
        return (
            f"Verdict({state}: score {self.score:.2f} {op} threshold {self.threshold:.2f}, "
            f"criteria={abridge(self.criteria, 120)!r}, "
            f"reasoning={abridge(self.reasoning, 300)!r}, model={self.model!r})"
        )

    __str__ = describe


# ---- the request ---------------------------------------------------------------------------


@dataclass
class JudgeRequest:
    """What to judge and how; the argument of the ``pytest_agentops_judge`` hook."""

    subject: str
    criteria: str
    rubric: list[tuple[str, float]] = field(default_factory=list)
    threshold: float = _DEFAULTS.threshold
    model: str = _DEFAULTS.model
    samples: int = 1
    temperature: float = _DEFAULTS.temperature
    on: str = "text"
    api_base: str | None = None
    #: More litellm ``completion`` arguments (the ``agentops_judge_config`` fixture).
    completion_kwargs: dict[str, Any] = field(default_factory=dict)
    retries: int = _DEFAULTS.retries
    backoff_s: float = _DEFAULTS.backoff_s
    timeout_s: float = _DEFAULTS.timeout_s
    #: Whether a recorded cassette can answer (then no API key is needed).
    replaying: bool = False
    #: The trajectory the subject was rendered from, when there is one.
    trajectory: Trajectory | None = None
    item: Any = None


def normalize_rubric(rubric: Any) -> list[tuple[str, float]]:
    """``["check", ("check", 2), {"check": "...", "weight": 2}]`` as ``[(check, weight)]``."""
    if rubric is None:
        return []
    if isinstance(rubric, str) or not isinstance(rubric, Sequence):
        raise TypeError(f"rubric must be a list of checks, got {rubric!r}")
    out = []
    for index, entry in enumerate(rubric):
        check: Any
        weight: Any
        if isinstance(entry, str):
            check, weight = entry, 1.0
        elif isinstance(entry, dict):
            check, weight = entry.get("check"), entry.get("weight", 1.0)
        elif isinstance(entry, (tuple, list)) and len(entry) == 2:
            check, weight = entry
        else:
            raise TypeError(
                f"rubric[{index}] must be a check, (check, weight) or a dict, got {entry!r}"
            )
        if not isinstance(check, str) or not check.strip():
            raise TypeError(f"rubric[{index}]: the check must be non-empty text, got {check!r}")
        if not isinstance(weight, (int, float)) or isinstance(weight, bool) or weight <= 0:
            raise TypeError(
                f"rubric[{index}]: the weight must be a positive number, got {weight!r}"
            )
        out.append((check.strip(), float(weight)))
    return out


def check_threshold(value: Any, where: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
        raise ValueError(f"{where}: threshold must be a number from 0 to 1, got {value!r}")
    if math.isnan(value):
        raise ValueError(f"{where}: threshold must be a number from 0 to 1, got nan")
    return float(value)
