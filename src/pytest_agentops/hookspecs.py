"""Extension points of pytest-agentops (implement them in a conftest.py or a plugin)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import pytest

    from .judge.verdict import JudgeRequest, Verdict
    from .trajectory.model import Trajectory

hookspec = pluggy.HookspecMarker("pytest")


def pytest_agentops_trajectory_recorded(item: pytest.Item, trajectory: Trajectory) -> None:
    """Called after a test's trajectory is final (its fixtures are torn down).

    Use it to export trajectories elsewhere, attach metadata, or add checks of your own.
    """


def pytest_agentops_redact(
    interaction: dict[str, Any] | None, trajectory: Trajectory | None, item: pytest.Item | None
) -> None:
    """Remove more secrets before something is written to disk; modify the argument in place.

    Called with ``interaction`` for each HTTP interaction saved in a cassette (a dict
    ``{"request": {"method", "uri", "headers", "body"}, "response": {"status", "headers",
    "body": {"string"}}}``, bodies as text, headers as ``{name: [values]}``), after the
    built-in redaction (credential headers dropped, API keys replaced with ``<REDACTED>``);
    ``trajectory`` is None then.  Called with ``trajectory`` (and ``interaction`` None) for a
    test's trajectory before it goes into the JSON report, before the built-in redaction.
    Implementations may accept only the arguments they need.
    """


def pytest_agentops_report(report: dict[str, object]) -> None:
    """Called with the JSON report (as a dict) just before it is written; may modify it."""


@hookspec(firstresult=True)
def pytest_agentops_import_trace(data: Any, format: str) -> Any:
    """Read a trace format of your own: return its trajectory data (a dict in the native
    form), a :class:`~pytest_agentops.Trajectory`, or a list of them; None when ``data`` is
    not yours.

    Asked first for every document :meth:`Trajectory.load` / ``load_all`` reads (a parsed
    JSON or YAML file, or one line of a JSON Lines file), with the ``format`` the caller
    passed (``"auto"`` by default, or a name of your own).  The command line finds these
    functions with ``--plugin MODULE``.
    """


@hookspec(firstresult=True)
def pytest_agentops_judge(request: JudgeRequest) -> Verdict | None:
    """Answer a judgement: return a :class:`~pytest_agentops.Verdict`, or None to let the next
    implementation (in the end the built-in litellm judge) answer.

    ``request`` (:class:`~pytest_agentops.JudgeRequest`) has the subject as text, the
    criteria, the rubric as ``[(check, weight)]``, threshold, model, samples, temperature, what
    was judged (``on``), the trajectory when there is one, and the test ``item``.  Use it to
    plug in a local classifier or a rules engine.
    """
