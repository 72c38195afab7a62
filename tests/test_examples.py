"""The README's main command: the example agent suite runs offline and reports tokens and cost."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

NO_SERVER = """
def pytest_configure(config):
    from support_agent.fake_llm import FakeLLM

    def refuse(self):
        raise RuntimeError("the example suite started a model server while replaying")

    FakeLLM.start = refuse
"""


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_example_suite_runs_offline_with_tokens_and_cost(tmp_path: Path, xdist: list[str]) -> None:
    # Replayed from cassettes/: the scripted model server must not even start.
    (tmp_path / "no_model_server.py").write_text(NO_SERVER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT / "examples")])}
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--agentops", f"--agentops-report={report}",
         "-p", "no:cacheprovider", "-p", "no_model_server", "examples/", *xdist],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = proc.stdout.split("agentops summary", 1)[1]
    # a passed test whose judge verdict failed (not asserted) shows "!": the legend says why
    assert "0.50!" in summary
    assert "judge: the test's lowest verdict score; ! a verdict below its threshold" in summary
    rows = [line for line in summary.splitlines() if "::" in line]
    assert len(rows) >= 6
    for row in rows:
        tokens_in, tokens_out = map(int, re.search(r"(\d+)/(\d+)", row).groups())
        cost = float(re.search(r"\$(\d+\.\d+)", row).group(1))
        assert tokens_in > 0, row
        assert tokens_out > 0, row
        assert cost > 0, row
    data = json.loads(report.read_text())
    assert len(data["tests"]) == len(rows)
    assert all(t["outcome"] == "passed" for t in data["tests"])
    assert data["totals"]["cost_usd"] > 0


_TIMING = {"duration_ms", "duration_s", "started_at", "ended_at"}


def _without_timing(value: object) -> object:
    if isinstance(value, dict):
        return {k: _without_timing(v) for k, v in value.items() if k not in _TIMING}
    if isinstance(value, list):
        return [_without_timing(v) for v in value]
    return value


def test_replayed_reports_are_the_same_every_run(tmp_path: Path) -> None:
    """Costs and steps do not depend on timing (e.g. whether litellm's async logging finished
    before the event loop closed): CI budgets on replayed runs are reliable."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "examples")}
    reports = []
    for run in range(3):
        report = tmp_path / f"report{run}.json"
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", f"--agentops-report={report}",
             "-p", "no:cacheprovider", "-p", "no:randomly",
             # the support agent's suite: litellm sync and async, streamed, parallel tools
             "examples/test_support_agent.py", "examples/test_support_policies.py"],
            cwd=ROOT, capture_output=True, text=True, timeout=300, env=env,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
        data = json.loads(report.read_text())
        for test in data["tests"]:
            test["trajectory"].pop("id")
        reports.append(_without_timing(data))
    assert reports[0]["totals"]["cost_usd"] > 0
    assert reports[1] == reports[0]
    assert reports[2] == reports[0]
