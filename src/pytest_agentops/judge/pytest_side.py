"""The pytest side of LLM-as-judge: the ``agent_judge`` fixture and ``agentops_judge`` markers.

Kept free of pydantic and litellm: :mod:`.verdict` is imported when something is judged, and
:mod:`.litellm_judge` only when the built-in judge answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from pytest_agentops._markers import judge_args
from pytest_agentops._stash import CASSETTE_KEY, RECORDER_KEY, SETTINGS_KEY, VERDICTS_KEY
from pytest_agentops.capture.pytest_side import request_recording

if TYPE_CHECKING:
    from pytest_agentops.settings import JudgeSettings
    from pytest_agentops.trajectory.model import Trajectory

    from .verdict import JudgeRequest, Verdict

_OFF = "judge checks are off (--agentops-judge=off)"


def _settings(item: pytest.Item) -> JudgeSettings:
    return item.config.stash[SETTINGS_KEY].judge


def _recorded_trajectory(item: pytest.Item) -> Trajectory | None:
    recorder = item.stash.get(RECORDER_KEY, None)
    return recorder.trajectory if recorder is not None else None


def _judge_config(item: pytest.Item) -> dict[str, Any]:
    # agent_judge depends on the fixture, and judge markers add it at collection
    config = getattr(item, "funcargs", {}).get("agentops_judge_config", {})
    if not isinstance(config, dict):
        raise TypeError(f"the agentops_judge_config fixture must return a dict, got {config!r}")
    return dict(config)


def _replaying(item: pytest.Item) -> bool:
    cassette = item.stash.get(CASSETTE_KEY, None)
    return bool(cassette is not None and cassette.replaying)


def judge(
    item: pytest.Item,
    subject: Any,
    criteria: str | None,
    *,
    threshold: float | None = None,
    model: str | None = None,
    samples: int = 1,
    rubric: Any = None,
    temperature: float | None = None,
    on: str | None = None,
) -> Verdict:
    """Judge ``subject`` for the test ``item`` through the ``pytest_agentops_judge`` hook."""
    __tracebackhide__ = True
    from pytest_agentops.errors import JudgeError
    from pytest_agentops.trajectory.model import Trajectory
    from pytest_agentops.trajectory.render import render_transcript

    from .verdict import JudgeRequest, Verdict, check_threshold, normalize_rubric

    settings = _settings(item)
    checks = normalize_rubric(rubric)
    if criteria is None and not checks:
        raise TypeError("agent_judge needs criteria (a string) or a rubric (a list of checks)")
    if criteria is not None and (not isinstance(criteria, str) or not criteria.strip()):
        raise TypeError(f"criteria must be non-empty text, got {criteria!r}")
    if not isinstance(samples, int) or isinstance(samples, bool) or samples < 1:
        raise TypeError(f"samples must be a whole number >= 1, got {samples!r}")
    trajectory = None
    if subject is None:
        trajectory = _recorded_trajectory(item)
        if trajectory is None:
            raise TypeError(
                "agent_judge() without a subject judges the test's trajectory: request the "
                "agent_trace fixture too, or pass the text or Trajectory to judge"
            )
        subject = trajectory
    if isinstance(subject, Trajectory):
        trajectory = subject
        if on == "output":
            if trajectory.output is None:
                raise JudgeError("nothing to judge: the trajectory has no output")
            text = (
                trajectory.output if isinstance(trajectory.output, str) else str(trajectory.output)
            )
        else:
            on = "trajectory"
            text = render_transcript(trajectory)
    elif isinstance(subject, str):
        text, on = subject, on or "text"
    else:
        raise TypeError(
            f"agent_judge judges a string or a Trajectory, got {type(subject).__name__}"
        )
    request = JudgeRequest(
        subject=text,
        criteria=criteria or "Meets every check of the rubric.",
        rubric=checks,
        threshold=check_threshold(
            settings.threshold if threshold is None else threshold, "agent_judge"
        ),
        model=model or settings.model,
        samples=samples,
        temperature=settings.temperature if temperature is None else float(temperature),
        on=on or "text",
        api_base=settings.api_base,
        completion_kwargs=_judge_config(item),
        retries=settings.retries,
        backoff_s=settings.backoff_s,
        timeout_s=settings.timeout_s,
        replaying=_replaying(item),
        trajectory=trajectory,
        item=item,
    )
    verdict = item.config.hook.pytest_agentops_judge(request=request)
    if not isinstance(verdict, Verdict):
        raise JudgeError(
            f"a pytest_agentops_judge implementation returned {type(verdict).__name__}: "
            "return a pytest_agentops.Verdict, or None to let the built-in judge answer"
        )
    item.stash.setdefault(VERDICTS_KEY, []).append(verdict)
    return verdict


def builtin_judge(request: JudgeRequest) -> Verdict:
    from .litellm_judge import litellm_judge

    return litellm_judge(request)


class Judge:
    """The ``agent_judge`` fixture: ``agent_judge(subject, criteria, threshold=...)``."""

    def __init__(self, item: pytest.Item) -> None:
        self._item = item

    def __call__(
        self,
        subject: Any = None,
        criteria: str | None = None,
        *,
        threshold: float | None = None,
        model: str | None = None,
        samples: int = 1,
        rubric: Any = None,
        temperature: float | None = None,
    ) -> Verdict:
        """Judge ``subject`` (text, a Trajectory, or by default this test's trajectory)."""
        __tracebackhide__ = True
        if not _settings(self._item).enabled:
            pytest.skip(_OFF)
        from pytest_agentops.errors import JudgeError

        try:
            return judge(
                self._item,
                subject,
                criteria,
                threshold=threshold,
                model=model,
                samples=samples,
                rubric=rubric,
                temperature=temperature,
            )
        except JudgeError as exc:
            message = str(exc)
        pytest.fail(f"agent_judge: {message}", pytrace=False)


# ---- markers -------------------------------------------------------------------------------


def prepare(item: pytest.Item) -> None:
    """At collection, for a test with ``agentops_judge`` markers: validate them (usage errors
    now, not after the test ran) and give the test what judging it needs."""
    judge_args(item)
    request_recording(item)
    names = item.fixturenames  # type: ignore[attr-defined]
    if "agentops_judge_config" not in names:
        names.append("agentops_judge_config")


def apply_markers(item: pytest.Item) -> None:
    """After a passing test body: judge it by its markers; a failing verdict fails the test."""
    __tracebackhide__ = True
    markers = judge_args(item)
    if not markers:
        return
    if not _settings(item).enabled:
        pytest.skip(f"{_OFF}: {len(markers)} judge check(s) not run")
    from pytest_agentops.errors import JudgeError

    trajectory = _recorded_trajectory(item)
    failures: list[str] = []
    for options in markers:
        try:
            verdict = judge(
                item,
                trajectory,
                options.get("criteria"),
                threshold=options["threshold"],
                model=options.get("model"),
                samples=options["samples"],
                rubric=options.get("rubric"),
                temperature=options.get("temperature"),
                on=options["on"],
            )
        except JudgeError as exc:
            failures.append(f"judge error: {exc}")
            continue
        if not verdict.passed:
            failures.append(verdict.describe())
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)
