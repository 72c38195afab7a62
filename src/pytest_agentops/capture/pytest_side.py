"""The pytest side of recording: the ``agent_trace`` fixture and which tests record.

A test records when it requests ``agent_trace``, or when something needs its trajectory (the
``agentops`` marker, a policy, a judge marker): :func:`request_recording` adds the fixture at
collection, so tests that record nothing pay nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest

from pytest_agentops._markers import recording_args
from pytest_agentops._stash import RECORDER_KEY, SETTINGS_KEY, TRAJECTORY_KEY

if TYPE_CHECKING:
    from .recorder import Recorder
    from .tape import ToolTape


def request_recording(item: pytest.Item) -> None:
    """Make the test use the ``agent_trace`` fixture as if it had asked for it."""
    names = getattr(item, "fixturenames", None)
    if names is not None and "agent_trace" not in names:
        names.append("agent_trace")


def agent_trace(request: pytest.FixtureRequest) -> Iterator[Recorder]:
    """The ``agent_trace`` fixture's body: a recorder active for the whole test, with the
    test cassette's tool tape; its trajectory is kept and announced after the test."""
    item = request.node
    name, metadata = recording_args(item)
    cassette = request.getfixturevalue("agentops_cassette")
    with recording(item, name or item.nodeid, metadata, cassette.tape if cassette else None) as rec:
        yield rec


@contextmanager
def recording(
    item: pytest.Item, name: str, metadata: dict[str, Any] | None, tool_tape: ToolTape | None
) -> Iterator[Recorder]:
    """A recorder active inside the block (litellm and OpenTelemetry capture on, as the
    settings say); afterwards the trajectory is kept on the item and announced."""
    from .recorder import Recorder

    settings = item.config.stash[SETTINGS_KEY]
    if settings.capture_litellm:
        from .litellm import activate

        activate()
    recorder = Recorder(
        name=name,
        metadata=metadata,
        capture_litellm=settings.capture_litellm,
        tool_tape=tool_tape,
        capture_otel=settings.capture_otel,
    )
    recorder.item = item
    recorder.start()
    if settings.capture_otel and "opentelemetry.trace" in sys.modules:
        from .otel import attach

        attach()
    item.stash[RECORDER_KEY] = recorder
    try:
        yield recorder
    finally:
        recorder.stop()
        trajectory = recorder.trajectory
        item.stash[TRAJECTORY_KEY] = trajectory
        item.config.hook.pytest_agentops_trajectory_recorded(item=item, trajectory=trajectory)
