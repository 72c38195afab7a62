"""The GitHub Actions workflows in examples/ci/ use only options and ini keys that exist."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

CI = Path(__file__).resolve().parents[1] / "examples" / "ci"


@pytest.fixture(scope="module")
def pytest_help() -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--help", "-p", "no:randomly"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


@pytest.mark.parametrize("name", ["pull-request.yml", "nightly.yml"])
def test_the_workflow_runs_pytest_with_real_options(name: str, pytest_help: str) -> None:
    workflow = yaml.safe_load((CI / name).read_text())
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    commands = [s["run"] for s in steps if "run" in s and s["run"].lstrip().startswith("pytest")]
    assert commands, f"{name} runs no pytest"
    for command in commands:
        for option in re.findall(r"(--[a-z][a-z-]+)", command):
            known = re.search(rf"[ ,]{re.escape(option)}\b", pytest_help)
            assert known, f"{name}: {option} is not a pytest option"
        for ini in re.findall(r"-o ([a-z_]+)=", command):
            assert f"  {ini} (" in pytest_help, f"{name}: {ini} is not an ini key"
    uploads = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert uploads, f"{name} keeps no report"
