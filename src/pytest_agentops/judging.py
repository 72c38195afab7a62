"""The pytest side of LLM-as-judge: the ``agent_judge`` fixture and ``agentops_judge`` markers.

Kept free of pydantic and litellm: :mod:`.judge` is imported when something is judged.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from .settings import SETTINGS_KEY, Settings

if TYPE_CHECKING:
    from .judge import JudgeRequest, Verdict
    from .models import Trajectory

#: Verdicts of a test (as JSON-able dicts, for the report), in the order they were made.
VERDICTS_KEY = pytest.StashKey[list[dict[str, Any]]]()

MARKER = (
    "agentops_judge(criteria, threshold=0.7, model=None, on='output', samples=1, rubric=None): "
    "after the test, an LLM judge scores the recorded trajectory's output (on='trajectory': the "
    "whole run) against the criteria; below the threshold the test fails. Several markers are "
    "all applied."
)
_MARKER_KWARGS = ("criteria", "threshold", "model", "on", "samples", "rubric", "temperature")
_OFF = "judge checks are off (--agentops-judge=off)"


@dataclass(frozen=True)
class JudgeSettings:
    enabled: bool
    model: str
    api_base: str | None
    threshold: float
    temperature: float
    retries: int
    backoff_s: float
    timeout_s: float


def _float(config: pytest.Config, name: str, low: float, high: float) -> float:
    raw = str(config.getini(name)).strip()
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        raise pytest.UsageError(
            f"ini option {name} = {raw!r} must be a number from {low:g} to {high:g}"
        )
    return value


def resolve(config: pytest.Config) -> JudgeSettings:
    return JudgeSettings(
        enabled=config.getoption("agentops_judge") != "off",
        model=str(config.getini("agentops_judge_model") or "").strip() or "gpt-4o-mini",
        api_base=str(config.getini("agentops_judge_api_base") or "").strip() or None,
        threshold=_float(config, "agentops_judge_threshold", 0, 1),
        temperature=_float(config, "agentops_judge_temperature", 0, 2),
        retries=int(_float(config, "agentops_judge_retries", 0, 20)),
        backoff_s=_float(config, "agentops_judge_backoff", 0, 600),
        timeout_s=_float(config, "agentops_judge_timeout", 0.001, 3600),
    )


def _settings(item: pytest.Item) -> JudgeSettings:
    settings: Settings = item.config.stash[SETTINGS_KEY]
    assert settings.judge is not None
    return settings.judge


def _recorded_trajectory(item: pytest.Item) -> Trajectory | None:
    from .session import RECORDER_KEY

    recorder = item.stash.get(RECORDER_KEY, None)
    return recorder.trajectory if recorder is not None else None


def _judge_config(item: pytest.Item) -> dict[str, Any]:
    # agent_judge depends on the fixture, and judge markers add it at collection
    config = getattr(item, "funcargs", {}).get("agentops_judge_config", {})
    if not isinstance(config, dict):
        raise TypeError(f"the agentops_judge_config fixture must return a dict, got {config!r}")
    return dict(config)


def _replaying(item: pytest.Item) -> bool:
    if "pytest_agentops.cassettes" not in sys.modules:
        return False
    from .replay import CASSETTE_KEY

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
    from .judge import JudgeError, JudgeRequest, Verdict, check_threshold, normalize_rubric
    from .judge import render_trajectory as render
    from .models import Trajectory

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
            text = render(trajectory)
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
    item.stash.setdefault(VERDICTS_KEY, []).append(verdict.model_dump(mode="json"))
    return verdict


def builtin_judge(request: JudgeRequest) -> Verdict:
    from .judge import litellm_judge

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
        from .judge import JudgeError

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


def marker_options(item: pytest.Item) -> list[dict[str, Any]]:
    """Every ``agentops_judge`` marker of the test, validated (UsageError otherwise)."""
    out = []
    for marker in item.iter_markers("agentops_judge"):
        where = f"{item.nodeid}: @pytest.mark.agentops_judge"
        if len(marker.args) > 1:
            raise pytest.UsageError(f"{where} takes the criteria as its only positional argument")
        options = dict(marker.kwargs)
        if marker.args:
            options.setdefault("criteria", marker.args[0])
        unknown = sorted(set(options) - set(_MARKER_KWARGS))
        if unknown:
            raise pytest.UsageError(
                f"{where}: unknown argument(s) {', '.join(unknown)}; "
                f"allowed: {', '.join(_MARKER_KWARGS)}"
            )
        criteria = options.get("criteria")
        if criteria is None and not options.get("rubric"):
            raise pytest.UsageError(f"{where}: give criteria='...' (or a rubric)")
        if criteria is not None and (not isinstance(criteria, str) or not criteria.strip()):
            raise pytest.UsageError(f"{where}: criteria must be non-empty text, got {criteria!r}")
        on = options.get("on", "output")
        if on not in ("output", "trajectory"):
            raise pytest.UsageError(f"{where}: on must be 'output' or 'trajectory', got {on!r}")
        threshold = options.get("threshold", 0.7)
        if (
            not isinstance(threshold, (int, float))
            or isinstance(threshold, bool)
            or not 0 <= threshold <= 1
        ):
            raise pytest.UsageError(
                f"{where}: threshold must be a number from 0 to 1, got {threshold!r}"
            )
        samples = options.get("samples", 1)
        if not isinstance(samples, int) or isinstance(samples, bool) or samples < 1:
            raise pytest.UsageError(
                f"{where}: samples must be a whole number >= 1, got {samples!r}"
            )
        model = options.get("model")
        if model is not None and not isinstance(model, str):
            raise pytest.UsageError(f"{where}: model must be a litellm model name, got {model!r}")
        out.append({**options, "on": on, "threshold": threshold, "samples": samples})
    return list(reversed(out))  # closest marker last: the order they are written, top down


def apply_markers(item: pytest.Item) -> None:
    """After a passing test body: judge it by its markers; a failing verdict fails the test."""
    __tracebackhide__ = True
    markers = marker_options(item)
    if not markers:
        return
    if not _settings(item).enabled:
        pytest.skip(f"{_OFF}: {len(markers)} judge check(s) not run")
    from .judge import JudgeError

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
