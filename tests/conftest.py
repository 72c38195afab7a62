from __future__ import annotations

import os

# Tests never fetch litellm's price table from the network.
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

import litellm  # noqa: F401  imported once: pytester's inline runs would re-import it (~3 s)

import pytest_agentops.cassettes
import pytest_agentops.litellm_capture
import pytest_agentops.recording
import pytest_agentops.report  # noqa: F401

pytest_plugins = ["pytester"]
