"""For tests whose inner pytest runs talk to the example's scripted model server (FakeLLM)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

#: An inner conftest: ``base_url`` is a FakeLLM only while the test's cassette records.
CONFTEST = """
import pytest
from support_agent.fake_llm import FakeLLM

@pytest.fixture
def base_url(agentops_cassette):
    if agentops_cassette is not None and agentops_cassette.recording:
        with FakeLLM() as server:
            yield server.base_url
    else:
        yield "http://127.0.0.1:9/v1"  # nothing listens here
"""


def use_fake_model(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the example package importable in the inner runs, and give them ``base_url``."""
    pytester.syspathinsert(EXAMPLES)
    monkeypatch.setenv("PYTHONPATH", str(EXAMPLES), prepend=os.pathsep)
    pytester.makeconftest(CONFTEST)
