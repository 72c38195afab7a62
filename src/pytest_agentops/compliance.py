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
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .models import Trajectory
    from .policy import Policy, Violation

POLICIES_KEY = pytest.StashKey[list["Policy"]]()
VIOLATIONS_KEY = pytest.StashKey[list["Violation"]]()


class PolicyCache:
    """Loads each policy file once per process (xdist workers each keep their own)."""

    def __init__(self) -> None:
        self._loaded: dict[Path, Policy] = {}

    def load(self, path: Path) -> Policy:
        from .policy import load_policy

        resolved = path.resolve()
        if resolved not in self._loaded:
            self._loaded[resolved] = load_policy(path)
        return self._loaded[resolved]


def _marker_paths(item: pytest.Item) -> tuple[list[tuple[str, Path]], bool]:
    """Policy paths of the item's agentops_policy markers (closest first), and whether one of
    them opts out: ``agentops_policy(None)`` or ``agentops_policy([])`` turns off the policies
    of markers further out (class, module) and of ini ``agentops_policies`` for this test."""
    found: list[tuple[str, Path]] = []
    for marker in item.iter_markers("agentops_policy"):
        if marker.args in ((None,), ([],), ((),)) and not marker.kwargs:
            return found, True
        values: list[Any] = []
        for arg in marker.args:
            values.extend(arg if isinstance(arg, (list, tuple)) else [arg])
        if "path" in marker.kwargs or "paths" in marker.kwargs:
            extra = marker.kwargs.get("path", marker.kwargs.get("paths"))
            values.extend(extra if isinstance(extra, (list, tuple)) else [extra])
        unknown = set(marker.kwargs) - {"path", "paths"}
        if not values or unknown or not all(isinstance(v, (str, Path)) for v in values):
            raise pytest.UsageError(
                f"{item.nodeid}: @pytest.mark.agentops_policy takes one or more policy file "
                f"paths, e.g. agentops_policy('policies/support.yaml'), or None to turn "
                f"policies off for the test; got args={marker.args!r} kwargs={marker.kwargs!r}"
            )
        base = Path(str(item.path)).parent
        found.extend((str(v), base) for v in values)
    return found, False


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


def collect_policies(config: pytest.Config, items: list[pytest.Item], cache: PolicyCache) -> None:
    """Resolve, load and validate every test's policies; store them on the items."""
    from .policy import PolicyError

    ini_paths = [Path(p) for p in config.getini("agentops_policies")]
    try:
        global_policies = [cache.load(p) for p in ini_paths]
    except PolicyError as exc:
        raise pytest.UsageError(f"ini option agentops_policies: {exc}") from None
    for item in items:
        marked, opted_out = _marker_paths(item)
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
        request_agent_trace(item)  # a policy needs a recording to check


def request_agent_trace(item: pytest.Item) -> None:
    """Make the test use the ``agent_trace`` fixture as if it had asked for it."""
    names = getattr(item, "fixturenames", None)
    if names is not None and "agent_trace" not in names:
        names.append("agent_trace")


def check_item(item: pytest.Item, trajectory: Trajectory) -> list[Violation]:
    from .policy import check_policies

    policies = item.stash.get(POLICIES_KEY, [])
    violations = check_policies(trajectory, policies) if policies else []
    item.stash[VIOLATIONS_KEY] = violations
    return violations


def violation_message(violations: list[Violation], trajectory: Trajectory) -> str:
    from .policy import format_violations
    from .render import render_trajectory

    focus = next((v.step for v in violations if v.step is not None), None)
    return (
        f"agentops policy violations ({len(violations)}):\n"
        f"{format_violations(violations, trajectory)}\n\n"
        f"trajectory:\n{render_trajectory(trajectory, focus=focus)}"
    )
