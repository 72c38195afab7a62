"""Golden trajectories: ``agent_trace.assert_matches_baseline()`` and the baseline files.

A test's baseline is ``<baseline dir>/<test module path>/<class>/<test name>.yaml``, named
like its cassette (:func:`~pytest_agentops.cassettes.pytest_side.default_cassette_path`:
odd characters and long parametrize ids made file-safe); ``name=`` picks another file in the
same folder.  The baseline dir is ini ``agentops_baseline_dir`` (default ``baselines``,
relative to the rootdir).  A baseline is a trajectory as :meth:`Trajectory.dump` writes it:
YAML, secrets redacted, written atomically.  The run is compared with it by :mod:`.diff`
after the same redaction, so a redacted secret is not a difference.

Without ``--agentops-update-baselines`` a missing (or unreadable) baseline fails the test
with the command that creates it, and a run that does not match fails with the differences.
With it, a missing baseline is written and one the run does not match is rewritten; the test
passes with a :class:`BaselineUpdated` warning naming the file (and the differences).  A
baseline the run matches, tolerated differences included, is left as it is.  Under
pytest-xdist each worker writes the baselines of its own tests: there is no shared state.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_agentops._stash import SETTINGS_KEY
from pytest_agentops.cassettes.pytest_side import default_cassette_path, safe_name
from pytest_agentops.errors import AgentopsWarning, TrajectoryLoadError
from pytest_agentops.trajectory.model import Trajectory

from .diff import check_options, diff_trajectories

if TYPE_CHECKING:
    from pytest_agentops.capture.recorder import Recorder

UPDATE_FLAG = "--agentops-update-baselines"


class BaselineUpdated(AgentopsWarning):
    """``--agentops-update-baselines`` wrote a test's baseline (created or rewritten)."""


def baseline_path(item: pytest.Item, baseline_dir: Path, name: str | None = None) -> Path:
    """Where the baseline of ``item`` lives (``name``: another file in the same folder)."""
    default = default_cassette_path(item, baseline_dir)
    if name is None:
        return default
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"name must be a non-empty file name, got {name!r}")
    suffix = next((s for s in (".yaml", ".yml") if name.endswith(s) and name != s), "")
    stem = name[: len(name) - len(suffix)]
    return default.parent / (safe_name(stem) + (suffix or ".yaml"))


def running_test(recorder: Recorder) -> pytest.Item:
    """The test whose ``agent_trace`` is ``recorder`` (set when the fixture made it)."""
    item = recorder.item
    if not isinstance(item, pytest.Item):
        raise RuntimeError(
            "assert_matches_baseline() compares the trajectory of a test: call it on the "
            "agent_trace fixture (a Recorder made by hand belongs to no test)"
        )
    return item


def _display(path: Path, rootpath: Path) -> str:
    try:
        return path.relative_to(rootpath).as_posix()
    except ValueError:
        return str(path)


def as_written(trajectory: Trajectory) -> Trajectory:
    """The trajectory as its baseline file would hold it (JSON values, secrets redacted)."""
    return Trajectory.model_validate(json.loads(trajectory.dump(format="json")))


def assert_matches_baseline(
    recorder: Recorder,
    name: str | None = None,
    *,
    cost_tolerance: float | None = 0.2,
    tokens_tolerance: float | None = 0.2,
    mode: str = "strict",
    compare_output: bool = False,
) -> None:
    """``agent_trace.assert_matches_baseline()``: see :meth:`Recorder.assert_matches_baseline`."""
    __tracebackhide__ = True
    check_options(mode, cost_tolerance, tokens_tolerance)
    item = running_test(recorder)
    settings = item.config.stash[SETTINGS_KEY]
    path = baseline_path(item, settings.baseline_dir, name)
    notice = check_baseline(
        recorder.trajectory,
        path,
        label=_display(path, item.config.rootpath),
        nodeid=item.nodeid,
        update=settings.update_baselines,
        mode=mode,
        cost_tolerance=cost_tolerance,
        tokens_tolerance=tokens_tolerance,
        compare_output=compare_output,
    )
    if notice is not None:
        # stacklevel 3: the test's line (this function, then the Recorder method)
        warnings.warn(BaselineUpdated(notice), stacklevel=3)


def check_baseline(
    trajectory: Trajectory,
    path: Path,
    *,
    label: str,
    nodeid: str,
    update: bool,
    mode: str = "strict",
    cost_tolerance: float | None = 0.2,
    tokens_tolerance: float | None = 0.2,
    compare_output: bool = False,
) -> str | None:
    """Compare ``trajectory`` with the baseline at ``path``: raise ``AssertionError`` when it
    does not match (or is missing), unless ``update``: then write the baseline and return
    what was done (``None``: nothing to do)."""
    __tracebackhide__ = True
    existed = path.exists()
    try:
        baseline = Trajectory.load(path, format="native")
    except TrajectoryLoadError as exc:
        if update:
            trajectory.dump(path)
            if existed:
                return f"baseline {label} rewritten for {nodeid}: it could not be read ({exc})"
            return f"baseline {label} created for {nodeid}"
        if not existed:
            raise AssertionError(
                f"No baseline for {nodeid} (looked in {label}). Re-run with {UPDATE_FLAG} to "
                "create it from this run, then review and commit the file."
            ) from None
        raise AssertionError(
            f"The baseline of {nodeid} cannot be read: {exc}. Re-run with {UPDATE_FLAG} to "
            "write it again from this run."
        ) from None
    diff = diff_trajectories(
        baseline,
        as_written(trajectory),
        mode=mode,
        cost_tolerance=cost_tolerance,
        tokens_tolerance=tokens_tolerance,
        compare_output=compare_output,
    )
    if diff.ok:
        return None
    text = diff.render(f"baseline {label}", "this run")
    if update:
        trajectory.dump(path)
        return f"baseline {label} rewritten for {nodeid}; it differed:\n{text}"
    raise AssertionError(
        f"{text}\n\nIf the change is intended, re-run with {UPDATE_FLAG} to rewrite the baseline."
    )
