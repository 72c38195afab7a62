"""The README cannot rot: its usage example runs, and CI runs its test command verbatim."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _block_after(marker: str) -> str:
    match = re.search(re.escape(marker) + r"\s*```python\n(.*?)```", README, re.S)
    assert match, f"no ```python block after {marker!r} in README.md"
    return match.group(1)


def _quick_start_lines() -> list[str]:
    section = README.split("## Quick start", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_quick_start_has_exactly_two_commands() -> None:
    lines = _quick_start_lines()
    assert len(lines) == 2
    assert "pytest --agentops examples/" in lines[0]


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [line for line in ci.splitlines() if line.strip() and not line.startswith("#")]
    assert commands[-1] == _quick_start_lines()[1]


def test_usage_example_runs(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_usage=_block_after("<!-- readme-test: usage -->"))
    result = pytester.runpytest("--agentops")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["*= agentops summary =*", "passed*test_usage.py::test_order_status"]
    )


def test_failure_excerpt_is_the_real_output() -> None:
    """The README's failure example is what assert_tool_calls prints for that run."""
    import json

    from pytest_agentops import Trajectory, assert_tool_calls, call

    trace = ROOT / "tests" / "data" / "openai_traces" / "large_refund.json"
    messages = json.loads(trace.read_text())["messages"]
    regressed = messages[:6] + messages[8:]  # the approval round trip removed
    traj = Trajectory.from_openai_messages(regressed, model="gpt-4o-mini")
    expected = [
        "verify_identity",
        "request_manager_approval",
        call("refund", order_id="ORD-1002", amount=249),
    ]
    with pytest.raises(AssertionError) as info:
        assert_tool_calls(traj, expected, mode="ordered")
    excerpt = re.search(r"```\n(tool calls do not match.*?)```", README, re.S)
    assert excerpt
    assert str(info.value).strip() == excerpt.group(1).strip()
