"""The ``--agentops-report`` JSON document as a pydantic model (its JSON Schema is what
``pytest-agentops schema report`` prints)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pytest_agentops.judge.verdict import Verdict
from pytest_agentops.policy.violations import Violation
from pytest_agentops.trajectory.model import SCHEMA_VERSION, Totals, Trajectory


class TestEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    __test__ = False  # not a pytest test class

    nodeid: str
    outcome: str
    trial: int | None = None
    trajectory: Trajectory
    totals: Totals
    violations: list[Violation] = Field(default_factory=list)
    verdicts: list[Verdict] = Field(default_factory=list)


class JudgeTotals(BaseModel):
    """The LLM judge's own usage, kept apart from the agents' ``totals``."""

    model_config = ConfigDict(extra="forbid")

    verdicts: int = 0
    passed: int = 0
    cost_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0


class Report(BaseModel):
    """The ``--agentops-report`` JSON document."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    tests: list[TestEntry] = Field(default_factory=list)
    totals: Totals = Field(default_factory=Totals)
    judge: JudgeTotals = Field(default_factory=JudgeTotals)
    #: Repeated tests (``agentops_repeat``): ``{test, trials, passed, min_pass_rate, ok}``.
    repeats: list[dict[str, Any]] = Field(default_factory=list)
    #: tau-bench's unbiased estimators over the repeated tests, by k ("1".."n").
    pass_hat_k: dict[str, float] = Field(default_factory=dict)
    pass_at_k: dict[str, float] = Field(default_factory=dict)


def build_report(entries: list[dict[str, Any]]) -> Report:
    """The report of the collected entries (JSON data, as workers send them)."""
    tests = [TestEntry.model_validate(e) for e in entries]
    total = Totals()
    judge = JudgeTotals()
    for entry in tests:
        total = total + entry.totals
        for v in entry.verdicts:
            judge.verdicts += 1
            judge.passed += v.passed
            judge.cost_usd += v.cost_usd
            judge.input_tokens += v.input_tokens
            judge.output_tokens += v.output_tokens
    return Report(tests=tests, totals=total, judge=judge)
