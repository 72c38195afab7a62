from __future__ import annotations

import os

# Tests never fetch litellm's price table from the network.
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
# The pytest runs these tests start do without langsmith's plugin (installed with the
# frameworks extra): it costs a second at every start and plays no part here.
os.environ["PYTEST_ADDOPTS"] = " ".join(
    filter(None, [os.environ.get("PYTEST_ADDOPTS"), "-p no:langsmith_plugin"])
)

import litellm  # noqa: F401  imported once: pytester's inline runs would re-import it (~3 s)
import pytest

import pytest_agentops.capture.litellm
import pytest_agentops.capture.recorder
import pytest_agentops.cassettes.cassette
import pytest_agentops.report.model  # noqa: F401

pytest_plugins = ["pytester"]


def pytest_configure(config: pytest.Config) -> None:
    # `pytest -m fuzz` is the long fuzzing run: tests/test_fuzz.py reads this when imported.
    expression = config.getoption("markexpr", "") or ""
    if "fuzz" in expression and "not fuzz" not in expression:
        os.environ["AGENTOPS_FUZZ"] = "1"
