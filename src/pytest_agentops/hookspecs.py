"""Extension points of pytest-agentops (implement them in a conftest.py or a plugin)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest

    from .models import Trajectory


def pytest_agentops_trajectory_recorded(item: pytest.Item, trajectory: Trajectory) -> None:
    """Called after a test's trajectory is final (its fixtures are torn down).

    Use it to export trajectories elsewhere, attach metadata, or add checks of your own.
    """


def pytest_agentops_report(report: dict[str, object]) -> None:
    """Called with the JSON report (as a dict) just before it is written; may modify it."""
