"""Repeated trials: agents are not deterministic, so a test may run n times and pass when
enough of its trials do.

``@pytest.mark.agentops_repeat(n, min_pass_rate=1.0)`` (or ``--agentops-repeat=N`` for every
recording test) parametrizes the test with ``agent_trial`` (0-based; ids ``trial-0``...), so
each trial is its own item with its own cassette and report entry, and trials spread over
xdist workers.  The controller counts each test's passed trials: a test whose pass rate
reaches ``min_pass_rate`` passes as a whole even when some trials failed (they stay reported
as failed), and the run's reliability is summed up with the unbiased estimators of the
tau-bench paper, for k = 1..n:

- pass^k = mean over tests of C(c, k) / C(n, k): the chance that k trials *all* pass;
- pass@k = mean over tests of 1 - C(n - c, k) / C(n, k): the chance that *one* of k passes;

where c is a test's passed trials out of n (tests with fewer than k trials are left out of k).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import comb
from typing import Any

import pytest

TRIAL = "agent_trial"
#: The ``user_properties`` entry that tells the controller (and JUnit) about a trial.
PROPERTY = "agentops_trial"


@dataclass
class Repeated:
    """One repeated test: its trials' outcomes (trial number -> passed)."""

    test: str
    trials: int
    min_pass_rate: float
    outcomes: dict[int, bool] = field(default_factory=dict)

    @property
    def passed(self) -> int:
        return sum(self.outcomes.values())

    @property
    def ok(self) -> bool:
        return self.passed >= self.min_pass_rate * self.trials - 1e-9

    def as_dict(self) -> dict[str, Any]:
        return {
            "test": self.test,
            "trials": self.trials,
            "passed": self.passed,
            "min_pass_rate": self.min_pass_rate,
            "ok": self.ok,
        }


def pass_hat_k(results: list[tuple[int, int]]) -> dict[str, float]:
    """pass^k for k = 1..max n, from ``(n, c)`` per test (JSON keys: strings)."""
    return _mean_by_k(results, lambda n, c, k: comb(c, k) / comb(n, k))


def pass_at_k(results: list[tuple[int, int]]) -> dict[str, float]:
    """pass@k for k = 1..max n, from ``(n, c)`` per test."""
    return _mean_by_k(results, lambda n, c, k: 1 - comb(n - c, k) / comb(n, k))


def _mean_by_k(results: list[tuple[int, int]], estimate: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    for k in range(1, max((n for n, _ in results), default=0) + 1):
        values = [estimate(n, c, k) for n, c in results if n >= k]
        out[str(k)] = sum(values) / len(values)
    return out


def trial_plan(metafunc: pytest.Metafunc) -> tuple[int, float] | None:
    """``(n, min_pass_rate)`` when the test runs in repeated trials."""
    from pytest_agentops._markers import repeat_args
    from pytest_agentops._stash import SETTINGS_KEY

    marker = repeat_args(metafunc.definition)
    if marker is not None:
        return marker
    repeat = metafunc.config.stash[SETTINGS_KEY].repeat
    records = "agent_trace" in metafunc.fixturenames or (
        metafunc.definition.get_closest_marker("agentops") is not None
    )
    if repeat and repeat > 1 and records:
        return repeat, 1.0
    return None


def parametrize(metafunc: pytest.Metafunc) -> None:
    try:
        plan = trial_plan(metafunc)
    except pytest.UsageError:
        return  # reported at the end of collection, as every marker problem is
    if plan is None:
        return
    n, _ = plan
    if TRIAL not in metafunc.fixturenames:
        metafunc.fixturenames.append(TRIAL)
    metafunc.parametrize(TRIAL, range(n), indirect=True, ids=[f"trial-{i}" for i in range(n)])


def trial_of(item: pytest.Item) -> int | None:
    callspec = getattr(item, "callspec", None)
    if callspec is None or TRIAL not in callspec.params:
        return None
    value = callspec.params[TRIAL]
    return value if isinstance(value, int) else None


def base_nodeid(nodeid: str, trial: int) -> str:
    """The test's node id without its trial: ``t.py::test[a-trial-2]`` -> ``t.py::test[a]``."""
    tag = f"trial-{trial}"
    if nodeid.endswith(f"[{tag}]"):
        return nodeid[: -len(tag) - 2]
    return nodeid.replace(f"-{tag}]", "]").replace(f"[{tag}-", "[")


def mark_trials(items: list[pytest.Item]) -> None:
    """Give each trial item the property the controller (and JUnit) reads."""
    import json

    from pytest_agentops._markers import repeat_args

    for item in items:
        trial = trial_of(item)
        if trial is None:
            repeat_args(item)  # a bad marker is a usage error (it made no trials)
            continue
        plan = repeat_args(item) or (_count(item), 1.0)
        info = {
            "test": base_nodeid(item.nodeid, trial),
            "trial": trial,
            "trials": plan[0],
            "min_pass_rate": plan[1],
        }
        item.user_properties.append((PROPERTY, json.dumps(info)))


def _count(item: pytest.Item) -> int:
    from pytest_agentops._stash import SETTINGS_KEY

    return int(item.config.stash[SETTINGS_KEY].repeat or 1)


class Tally:
    """The controller's count of trials, from the test reports (workers' ones too)."""

    def __init__(self) -> None:
        self.tests: dict[str, Repeated] = {}
        #: Node ids that failed and are not trials: no pass rate excuses them.
        self.other_failures: set[str] = set()
        self._failed: set[str] = set()

    def add(self, report: pytest.TestReport) -> None:
        import json

        info = next((json.loads(str(v)) for k, v in report.user_properties if k == PROPERTY), None)
        failed = report.failed
        if info is None:
            if failed:
                self.other_failures.add(report.nodeid)
            return
        test = self.tests.setdefault(
            info["test"], Repeated(info["test"], int(info["trials"]), float(info["min_pass_rate"]))
        )
        trial = int(info["trial"])
        if failed:
            self._failed.add(report.nodeid)
            test.outcomes[trial] = False
        elif report.when == "call" and report.nodeid not in self._failed:
            test.outcomes[trial] = report.passed
        elif report.when == "teardown" and trial not in test.outcomes:
            test.outcomes[trial] = False  # skipped: not a pass

    @property
    def all_failures_tolerated(self) -> bool:
        return not self.other_failures and all(t.ok for t in self.tests.values())

    def results(self) -> list[tuple[int, int]]:
        return [(t.trials, t.passed) for t in self.tests.values()]

    def lines(self) -> list[str]:
        if not self.tests:
            return []
        lines = ["agentops repeats:"]
        for t in self.tests.values():
            rate = t.passed / t.trials if t.trials else 0.0
            verdict = "ok" if t.ok else "FAILED"
            lines.append(
                f"  {t.passed}/{t.trials} trials passed ({rate:.0%}, needs "
                f"{t.min_pass_rate:.0%}): {verdict}  {t.test}"
            )
        hat = pass_hat_k(self.results())
        at = pass_at_k(self.results())
        lines.append("  k       " + " ".join(f"{k:>5}" for k in hat))
        lines.append("  pass^k  " + " ".join(f"{v:5.2f}" for v in hat.values()))
        lines.append("  pass@k  " + " ".join(f"{v:5.2f}" for v in at.values()))
        return lines
