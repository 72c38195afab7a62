"""The ``--agentops-report`` JSON document as a pydantic model (its JSON Schema is what
``pytest-agentops schema report`` prints)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pytest_agentops.judge.verdict import Verdict
from pytest_agentops.policy.violations import Violation
from pytest_agentops.trajectory.model import SCHEMA_VERSION, Totals, Trajectory


class Failure(BaseModel):
    """Why a test failed or errored: its exception, where it was raised, and the trajectory
    step the failure is about when an ``assert_*`` helper named one."""

    model_config = ConfigDict(extra="forbid")

    #: The exception as one text (``AssertionError: ...``), cut to 20,000 characters.
    message: str
    #: ``path:line`` of the failing line, when known.
    where: str | None = None
    #: 1-based position in ``trajectory.steps``.
    step: int | None = None


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
    failure: Failure | None = None


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


class TestSummary(BaseModel):
    """What the terminal summary and the budget read of a recorded test (its trajectory is
    left out: a run of thousands of tests is summed without building them again)."""

    model_config = ConfigDict(extra="forbid")
    __test__ = False  # not a pytest test class

    nodeid: str
    outcome: str
    totals: Totals
    violations: list[Violation] = Field(default_factory=list)
    verdicts: list[Verdict] = Field(default_factory=list)
    #: The model of each LLM call that used tokens but has no price.
    unpriced: list[str] = Field(default_factory=list)


class RunSummary(BaseModel):
    """The run as the terminal summary and the budget see it."""

    model_config = ConfigDict(extra="forbid")

    tests: list[TestSummary] = Field(default_factory=list)
    totals: Totals = Field(default_factory=Totals)
    judge: JudgeTotals = Field(default_factory=JudgeTotals)


def brief(entry: dict[str, Any]) -> dict[str, Any]:
    """What the summary, the budget and the HTML report's table read of a report entry: all
    but its trajectory and failure, and the model of each LLM call without a price."""
    trajectory = entry.get("trajectory") or {}
    return {
        "nodeid": entry.get("nodeid", ""),
        "outcome": entry.get("outcome", ""),
        "trial": entry.get("trial"),
        "totals": entry.get("totals") or {},
        "violations": entry.get("violations") or [],
        "verdicts": entry.get("verdicts") or [],
        "unpriced": [
            str(step.get("model"))
            for step in trajectory.get("steps") or []
            if step.get("kind") == "llm"
            and step.get("cost_usd") is None
            and (step.get("input_tokens") or step.get("output_tokens"))
        ],
    }


def summarize(briefs: list[dict[str, Any]]) -> RunSummary:
    """The summary of the collected entries' briefs (JSON data, as workers send them)."""
    tests = [
        TestSummary(
            nodeid=b["nodeid"],
            outcome=b["outcome"],
            totals=Totals.model_validate(b["totals"]),
            violations=[Violation.model_validate(v) for v in b["violations"]],
            verdicts=[Verdict.model_validate(v) for v in b["verdicts"]],
            unpriced=b["unpriced"],
        )
        for b in briefs
    ]
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
    return RunSummary(tests=tests, totals=total, judge=judge)


def report_head(summary: RunSummary, repeats: dict[str, Any]) -> dict[str, Any]:
    """The JSON report as data (the :class:`Report` schema) but for its tests, which are
    written as they were kept: one line of JSON each, made from validated models when the
    test ended, so thousands of trajectories are neither validated nor encoded again."""
    return {
        "schema_version": SCHEMA_VERSION,
        "tests": [],
        "totals": summary.totals.model_dump(mode="json"),
        "judge": summary.judge.model_dump(mode="json"),
        "repeats": repeats.get("repeats", []),
        "pass_hat_k": repeats.get("pass_hat_k", {}),
        "pass_at_k": repeats.get("pass_at_k", {}),
    }


def report_json(head: dict[str, Any], tests: list[str]) -> str:
    """The JSON report's text: ``head`` with ``tests`` (each one line of JSON) in its place,
    one test per line, so the file greps and diffs by test."""
    parts = []
    for key, value in head.items():
        if key == "tests":
            parts.append('"tests": [\n' + ",\n".join(tests) + "\n]" if tests else '"tests": []')
        else:
            parts.append(f"{json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}")
    return "{" + ",\n".join(parts) + "}\n"
