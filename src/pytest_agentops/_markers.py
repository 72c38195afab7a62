"""The plugin's markers: their registration lines and the validation of their arguments.

Every marker is validated here, with messages that name the test, the marker, what is allowed
and what was given (``pytest.UsageError``: exit code 4, no traceback).  Each function returns
the marker's arguments in the form its capability uses.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from .settings import JUDGE_THRESHOLD, RECORD_MODES

MARKERS = (
    "agentops(name=None, **metadata): record this test's agent trajectory even if it does not "
    "request the agent_trace fixture; optional trajectory name and metadata.",
    "agentops_policy(path, ...): check the test's recorded trajectory against these YAML policy "
    "files (relative to the test file or the rootdir); violations fail the test. "
    "agentops_policy(None) turns policies off for a test.",
    "agentops_cassette(path=None, *, record=None, real_tools=(), replay_tools=True): run this "
    "test inside a cassette (tests using agent_trace have one already); path overrides the "
    "file name (relative to the cassette dir), record the record mode, real_tools names @tool "
    "functions that always run for real. agentops_cassette(False) turns the cassette off.",
    "agentops_live: this test may call hosted LLM APIs live although the session replays "
    "only (record mode none); its calls are not recorded.",
    f"agentops_judge(criteria, threshold={JUDGE_THRESHOLD}, model=None, on='output', samples=1, "
    "rubric=None): after the test, an LLM judge scores the recorded trajectory's output "
    "(on='trajectory': the whole run) against the criteria; below the threshold the test "
    "fails. Several markers are all applied.",
    "agentops_repeat(n, min_pass_rate=1.0): run the test n times (fixture agent_trial: the "
    "0-based trial; a cassette per trial); it passes when at least min_pass_rate of its trials "
    "pass, failed trials staying reported. The summary and the JSON report give pass@k and "
    "pass^k.",
)

CASSETTE_KWARGS = ("path", "record", "real_tools", "replay_tools")
JUDGE_KWARGS = ("criteria", "threshold", "model", "on", "samples", "rubric", "temperature")


def register(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)


def _where(item: pytest.Item, name: str) -> str:
    return f"{item.nodeid}: @pytest.mark.{name}"


def _check_kwargs(where: str, given: Iterable[str], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise pytest.UsageError(
            f"{where}: unknown argument(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}"
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def recording_args(item: pytest.Item) -> tuple[str | None, dict[str, Any]]:
    """``agentops(name=None, **metadata)``: the trajectory's name and metadata."""
    marker = item.get_closest_marker("agentops")
    if marker is None:
        return None, {}
    where = _where(item, "agentops")
    if len(marker.args) > 1:
        raise pytest.UsageError(
            f"{where} takes at most one positional argument (the trajectory name), "
            f"got {marker.args!r}"
        )
    name = marker.kwargs.get("name", marker.args[0] if marker.args else None)
    if name is not None and not isinstance(name, str):
        raise pytest.UsageError(f"{where} name must be a string, got {name!r}")
    return name, {k: v for k, v in marker.kwargs.items() if k != "name"}


def cassette_args(item: pytest.Item) -> dict[str, Any] | None:
    """``agentops_cassette(...)``'s arguments (``{}`` without the marker); ``None`` when it
    turns the cassette off."""
    marker = item.get_closest_marker("agentops_cassette")
    if marker is None:
        return {}
    where = _where(item, "agentops_cassette")
    if len(marker.args) > 1:
        raise pytest.UsageError(
            f"{where} takes at most one positional argument, got {marker.args!r}"
        )
    _check_kwargs(where, marker.kwargs, CASSETTE_KWARGS)
    options = dict(marker.kwargs)
    if marker.args:
        first = marker.args[0]
        if first is False or first is None:
            return None
        if first is not True:
            options.setdefault("path", first)
    path = options.get("path")
    if path is not None and not isinstance(path, (str, Path)):
        raise pytest.UsageError(f"{where}: path must be a string, got {path!r}")
    record = options.get("record")
    if record is not None and record not in RECORD_MODES:
        raise pytest.UsageError(
            f"{where}: record={record!r} is not a record mode; use one of {', '.join(RECORD_MODES)}"
        )
    real = options.get("real_tools", ())
    if isinstance(real, str) or not all(isinstance(n, str) for n in real):
        raise pytest.UsageError(f"{where}: real_tools must be a list of tool names, got {real!r}")
    if not isinstance(options.get("replay_tools", True), bool):
        raise pytest.UsageError(f"{where}: replay_tools must be True or False")
    return options


def policy_paths(item: pytest.Item) -> tuple[list[tuple[str, Path]], bool]:
    """``agentops_policy(path, ...)`` of the test, its class and module (closest first): each
    path with the directory it is relative to, and whether a marker opts out.

    ``agentops_policy(None)`` or ``agentops_policy([])`` turns off the policies of markers
    further out (class, module) and of ini ``agentops_policies`` for this test.
    """
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
                f"{_where(item, 'agentops_policy')} takes one or more policy file paths, e.g. "
                "agentops_policy('policies/support.yaml'), or None to turn policies off for the "
                f"test; got args={marker.args!r} kwargs={marker.kwargs!r}"
            )
        base = Path(str(item.path)).parent
        found.extend((str(v), base) for v in values)
    return found, False


def judge_args(item: pytest.Item) -> list[dict[str, Any]]:
    """Every ``agentops_judge`` marker of the test, in the order they are written (top down),
    with ``on``, ``threshold`` and ``samples`` filled in."""
    out = []
    for marker in item.iter_markers("agentops_judge"):
        where = _where(item, "agentops_judge")
        if len(marker.args) > 1:
            raise pytest.UsageError(f"{where} takes the criteria as its only positional argument")
        options = dict(marker.kwargs)
        if marker.args:
            options.setdefault("criteria", marker.args[0])
        _check_kwargs(where, options, JUDGE_KWARGS)
        criteria = options.get("criteria")
        if criteria is None and not options.get("rubric"):
            raise pytest.UsageError(f"{where}: give criteria='...' (or a rubric)")
        if criteria is not None and (not isinstance(criteria, str) or not criteria.strip()):
            raise pytest.UsageError(f"{where}: criteria must be non-empty text, got {criteria!r}")
        on = options.get("on", "output")
        if on not in ("output", "trajectory"):
            raise pytest.UsageError(f"{where}: on must be 'output' or 'trajectory', got {on!r}")
        threshold = options.get("threshold", JUDGE_THRESHOLD)
        if not _is_number(threshold) or not 0 <= threshold <= 1:
            raise pytest.UsageError(
                f"{where}: threshold must be a number from 0 to 1, got {threshold!r}"
            )
        samples = options.get("samples", 1)
        if not _is_count(samples):
            raise pytest.UsageError(
                f"{where}: samples must be a whole number >= 1, got {samples!r}"
            )
        model = options.get("model")
        if model is not None and not isinstance(model, str):
            raise pytest.UsageError(f"{where}: model must be a litellm model name, got {model!r}")
        out.append({**options, "on": on, "threshold": threshold, "samples": samples})
    return list(reversed(out))  # closest marker last: the order they are written, top down


def repeat_args(node: Any) -> tuple[int, float] | None:
    """``agentops_repeat(n, min_pass_rate=1.0)``: the trials and the pass rate to reach."""
    marker = node.get_closest_marker("agentops_repeat")
    if marker is None:
        return None
    where = f"{node.nodeid}: @pytest.mark.agentops_repeat"
    _check_kwargs(where, marker.kwargs, ("n", "min_pass_rate"))
    if len(marker.args) > 2:
        raise pytest.UsageError(f"{where} takes (n, min_pass_rate=1.0), got {marker.args!r}")
    n = marker.kwargs.get("n", marker.args[0] if marker.args else None)
    rate = marker.kwargs.get("min_pass_rate", marker.args[1] if len(marker.args) > 1 else 1.0)
    if not _is_count(n):
        raise pytest.UsageError(f"{where}: n must be a whole number of trials >= 1, got {n!r}")
    if not _is_number(rate) or not 0 <= rate <= 1:
        raise pytest.UsageError(f"{where}: min_pass_rate must be between 0 and 1, got {rate!r}")
    return int(n), float(rate)
