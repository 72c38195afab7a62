"""Policy compliance inside pytest: which policies apply to a test, and checking them.

Policies come from ini ``agentops_policies`` (every recorded test) and from
``@pytest.mark.agentops_policy(path_or_paths)`` markers (closest markers of the test, its class
and module all apply).  They are loaded and validated once, at collection, so a broken policy
file stops the run with a usage error naming the file and line instead of failing every test.
After a recorded test's body returns, its trajectory is checked: violations fail the test and
go into the summary and the JSON report.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_agentops._markers import policy_paths
from pytest_agentops._stash import POLICIES_KEY, POLICY_CACHE_KEY, RECORDER_KEY, VIOLATIONS_KEY
from pytest_agentops.capture.pytest_side import request_recording

if TYPE_CHECKING:
    from pytest_agentops.trajectory.model import Trajectory

    from .rules import Policy
    from .violations import Violation


class PolicyCache:
    """Loads each policy file once per process (xdist workers each keep their own)."""

    def __init__(self) -> None:
        self._loaded: dict[Path, Policy] = {}

    def load(self, path: Path) -> Policy:
        from .loading import load_policy

        resolved = path.resolve()
        if resolved not in self._loaded:
            self._loaded[resolved] = load_policy(path)
        return self._loaded[resolved]


def _resolve(written: str, test_dir: Path, rootdir: Path, nodeid: str) -> Path:
    path = Path(written)
    candidates = [path] if path.is_absolute() else [test_dir / path, rootdir / path]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    tried = ", ".join(str(c) for c in dict.fromkeys(candidates))
    raise pytest.UsageError(
        f"{nodeid}: policy file {written!r} not found (looked in: {tried}). Paths in "
        "@pytest.mark.agentops_policy are relative to the test file's directory or the rootdir."
    )


def collect_policies(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Resolve, load and validate every test's policies; store them on the items."""
    from pytest_agentops.errors import PolicyError

    cache = config.stash.setdefault(POLICY_CACHE_KEY, PolicyCache())

    ini_paths = [Path(p) for p in config.getini("agentops_policies")]
    try:
        global_policies = [cache.load(p) for p in ini_paths]
    except PolicyError as exc:
        raise pytest.UsageError(f"ini option agentops_policies: {exc}") from None
    for item in items:
        marked, opted_out = policy_paths(item)
        if not marked and (opted_out or not global_policies):
            continue
        policies = [] if opted_out else list(global_policies)
        for written, base in marked:
            path = _resolve(written, base, config.rootpath, item.nodeid)
            try:
                policy = cache.load(path)
            except PolicyError as exc:
                raise pytest.UsageError(str(exc)) from None
            if policy not in policies:
                policies.append(policy)
        item.stash[POLICIES_KEY] = policies
        request_recording(item)  # a policy needs a recording to check


def check_item(item: pytest.Item, trajectory: Trajectory) -> list[Violation]:
    from .rules import check_policies

    policies = item.stash.get(POLICIES_KEY, [])
    violations = check_policies(trajectory, policies) if policies else []
    item.stash[VIOLATIONS_KEY] = violations
    return violations


def check_after_test(item: pytest.Item, fail: bool) -> None:
    """After the test body: check the test's policies against its trajectory.  Violations fail
    the test (``fail``), or, when the test failed on its own, are added to its report."""
    __tracebackhide__ = True
    recorder = item.stash.get(RECORDER_KEY, None)
    if recorder is None or not item.stash.get(POLICIES_KEY, None):
        return  # nothing to check: do not build the trajectory for nothing
    from .violations import violation_message

    trajectory = recorder.trajectory
    violations = check_item(item, trajectory)
    if violations:
        policies: list[Policy] = item.stash[POLICIES_KEY]
        message = violation_message(violations, trajectory, policies)
        if fail:  # the message says it all; the plugin's own frames would only be noise
            pytest.fail(message, pytrace=False)
        item.add_report_section("call", "agentops policy violations", message)
