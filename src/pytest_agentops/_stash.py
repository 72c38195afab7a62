"""Every ``pytest.StashKey`` of the plugin, in one place (no module-level state elsewhere).

Config-level keys hold session settings; item-level keys carry a test's recorder, cassette,
policies and results from the hook that makes them to the hooks that read them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ._util import LeftTemporaryFiles
    from .capture.recorder import Recorder
    from .cassettes.cassette import Cassette
    from .cassettes.pytest_side import CassetteOptions
    from .judge.verdict import Verdict
    from .policy.pytest_side import PolicyCache
    from .policy.rules import Policy
    from .policy.violations import Violation
    from .settings import Settings
    from .trajectory.model import Trajectory

# ---- config ----------------------------------------------------------------------------------
#: The resolved settings of the session (``settings.resolve``).
SETTINGS_KEY: pytest.StashKey[Settings] = pytest.StashKey()
#: Whether the plugin set ``LITELLM_LOCAL_MODEL_COST_MAP`` itself (and so unsets it at exit).
COST_MAP_SET_KEY: pytest.StashKey[bool] = pytest.StashKey()
#: Set when the run is interrupted (Ctrl-C): recordings in progress are not saved.
INTERRUPTED_KEY: pytest.StashKey[bool] = pytest.StashKey()
#: Whether record mode ``none`` holds for the whole session (no live LLM call anywhere).
SESSION_GUARD_KEY: pytest.StashKey[bool] = pytest.StashKey()
#: Temporary files of killed cassette writes, found with one listing per folder.
LEFT_FILES_KEY: pytest.StashKey[LeftTemporaryFiles] = pytest.StashKey()
#: Policy files loaded once per process.
POLICY_CACHE_KEY: pytest.StashKey[PolicyCache] = pytest.StashKey()

# ---- items -----------------------------------------------------------------------------------
#: The test's recorder (the ``agent_trace`` fixture), and its trajectory once final.
RECORDER_KEY: pytest.StashKey[Recorder] = pytest.StashKey()
TRAJECTORY_KEY: pytest.StashKey[Trajectory] = pytest.StashKey()
#: The test's cassette options (resolved at collection; None: no cassette) and its cassette.
CASSETTE_OPTIONS_KEY: pytest.StashKey[CassetteOptions | None] = pytest.StashKey()
CASSETTE_KEY: pytest.StashKey[Cassette] = pytest.StashKey()
#: The policies that apply to the test, and the violations its trajectory had.
POLICIES_KEY: pytest.StashKey[list[Policy]] = pytest.StashKey()
VIOLATIONS_KEY: pytest.StashKey[list[Violation]] = pytest.StashKey()
#: The test's judge verdicts, in the order they were made.
VERDICTS_KEY: pytest.StashKey[list[Verdict]] = pytest.StashKey()
#: The outcome of each phase of the test (setup, call, teardown).
PHASES_KEY: pytest.StashKey[dict[str, str]] = pytest.StashKey()
#: Why the test failed, for the reports: ``{"message", "where", "step"}`` (JSON data).
FAILURE_KEY: pytest.StashKey[dict[str, object]] = pytest.StashKey()
