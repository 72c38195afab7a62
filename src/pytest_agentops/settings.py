"""Settings resolved once per session and kept in ``config.stash`` (``_stash.SETTINGS_KEY``).

Precedence everywhere: command line > marker (per test, where one applies) > ini > default.
Defaults live here, once: the ini keys, the markers and the judge read them from this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest

#: ``--agentops-record`` values: ``none`` replays only (the default: no live call, no spend);
#: ``once`` records a test that has no cassette yet; ``new_episodes`` replays what is recorded
#: and records the rest; ``all`` records every request again (keeping recordings of requests
#: no longer made); ``rewrite`` records the test from scratch, replacing its cassette.
RECORD_MODES = ("none", "once", "new_episodes", "all", "rewrite")

#: The LLM judge's model and passing score when neither ini nor marker nor call says otherwise.
JUDGE_MODEL = "gpt-4o-mini"
JUDGE_THRESHOLD = 0.7


@dataclass(frozen=True)
class JudgeSettings:
    """LLM-as-judge settings (``--agentops-judge``, ini ``agentops_judge_*``); the field
    defaults are the judge's defaults everywhere (ini keys, markers, ``JudgeRequest``)."""

    enabled: bool = True
    model: str = JUDGE_MODEL
    api_base: str | None = None
    threshold: float = JUDGE_THRESHOLD
    temperature: float = 0.0
    retries: int = 3
    backoff_s: float = 1.0
    timeout_s: float = 60.0


_JUDGE = JudgeSettings()

#: ini key -> (default as written in an ini file, help): the judge's settings.
JUDGE_INI = {
    "agentops_judge_model": (_JUDGE.model, "litellm model of the LLM judge"),
    "agentops_judge_api_base": ("", "API base URL of the judge model (e.g. a local server)"),
    "agentops_judge_threshold": (
        f"{_JUDGE.threshold:g}",
        "default passing score of agent_judge (0 to 1)",
    ),
    "agentops_judge_temperature": (f"{_JUDGE.temperature:g}", "sampling temperature of the judge"),
    "agentops_judge_retries": (
        str(_JUDGE.retries),
        "retries of a judge call after a provider error",
    ),
    "agentops_judge_backoff": (
        f"{_JUDGE.backoff_s:.1f}",
        "first retry delay in seconds (doubles each time)",
    ),
    "agentops_judge_timeout": (f"{_JUDGE.timeout_s:g}", "timeout of one judge call in seconds"),
}


@dataclass(frozen=True)
class Settings:
    #: Print the agentops terminal summary (``--agentops`` or ini ``agentops = true``).
    summary: bool
    #: Write the JSON report here (``--agentops-report`` or ini ``agentops_report``).
    report_path: Path | None
    #: Record litellm calls while a test records (ini ``agentops_capture_litellm``).
    capture_litellm: bool
    #: ``--agentops-record`` (None when not given: the marker, then the ini value decide).
    record_cli: str | None = None
    #: ini ``agentops_record`` ("" when not set: replay only).
    record_ini: str = ""
    #: Where cassettes live (ini ``agentops_cassette_dir``, relative to the rootdir).
    cassette_dir: Path = Path("cassettes")
    #: Agent tests run inside cassettes (ini ``agentops_cassettes``).
    cassettes: bool = True
    #: LLM calls seen on the wire become steps (ini ``agentops_capture_http``).
    capture_http: bool = True
    #: OpenTelemetry GenAI spans the agent emits become steps (ini ``agentops_capture_otel``).
    capture_otel: bool = True
    #: ``@tool`` results are stored with cassettes and replayed (ini ``agentops_replay_tools``).
    replay_tools: bool = True
    #: Refuse every non-loopback connection (``--agentops-block-network`` or ini).
    block_network: bool = False
    #: In record mode ``none``, no live LLM call anywhere in a session that runs cassette
    #: tests (ini ``agentops_session_guard``).
    session_guard: bool = True
    #: A replayed ``@tool`` whose code changed since recording fails the test
    #: (``--agentops-strict-tools`` or ini ``agentops_strict_tools``).
    strict_tools: bool = False
    #: LLM-as-judge settings (``--agentops-judge``, ini ``agentops_judge_*``).
    judge: JudgeSettings = field(default_factory=JudgeSettings)
    #: Where baselines live (ini ``agentops_baseline_dir``, relative to the rootdir).
    baseline_dir: Path = Path("baselines")
    #: Write missing baselines, rewrite those a run does not match
    #: (``--agentops-update-baselines``).
    update_baselines: bool = False
    #: The run fails when its agents' recorded cost passes this many USD
    #: (``--agentops-max-cost`` or ini ``agentops_max_cost``).
    max_cost: float | None = None
    #: Run every recording test this many times (``--agentops-repeat``).
    repeat: int | None = None
    #: Write the HTML report here (``--agentops-html`` or ini ``agentops_html``).
    html_path: Path | None = None

    @property
    def enabled(self) -> bool:
        """Whether each recorded test goes into the session's report (summary, JSON report,
        budget)."""
        return (
            self.summary
            or self.report_path is not None
            or self.html_path is not None
            or self.max_cost is not None
        )


#: ini key -> (type, default, help) of the ini keys that are not the judge's.
_INI: dict[str, tuple[Literal["bool", "paths"] | None, Any, str]] = {
    "agentops": ("bool", False, "same as --agentops."),
    "agentops_record": (None, "", "default record mode (see --agentops-record)."),
    "agentops_cassette_dir": (
        None,
        "cassettes",
        "directory of the cassettes, relative to the rootdir (default: cassettes).",
    ),
    "agentops_cassettes": (
        "bool",
        True,
        "run tests that record a trajectory inside a cassette (default: true).",
    ),
    "agentops_capture_http": (
        "bool",
        True,
        "record LLM calls seen on the wire (OpenAI, Anthropic APIs) as steps (default: true).",
    ),
    "agentops_max_cost": (None, "", "same as --agentops-max-cost (USD)."),
    "agentops_agent": (
        None,
        "",
        "the agent's entry point that regression cases (*.case.yaml) call: module:function.",
    ),
    "agentops_cases_dir": (
        None,
        "tests/agent_cases",
        "where `pytest-agentops promote` writes cases (default: tests/agent_cases).",
    ),
    "agentops_capture_otel": (
        "bool",
        True,
        "record the GenAI spans (OpenTelemetry GenAI conventions, OpenInference, OpenLLMetry) "
        "that the agent emits through an OpenTelemetry SDK tracer provider (default: true).",
    ),
    "agentops_replay_tools": (
        "bool",
        True,
        "store @tool results with cassettes and replay them (default: true).",
    ),
    "agentops_block_network": ("bool", False, "same as --agentops-block-network."),
    "agentops_session_guard": (
        "bool",
        True,
        "in record mode none, block hosted LLM APIs for the whole session once a test uses a "
        "cassette: tests without one, threads left running, code between tests "
        "(default: true).",
    ),
    "agentops_strict_tools": ("bool", False, "same as --agentops-strict-tools."),
    "agentops_report": (None, "", "same as --agentops-report (path)."),
    "agentops_html": (None, "", "same as --agentops-html (path)."),
    "agentops_policies": (
        "paths",
        [],
        "YAML policy files checked against every recorded test's trajectory.",
    ),
    "agentops_capture_litellm": (
        "bool",
        True,
        "capture litellm calls automatically while a test records (default: true).",
    ),
    "agentops_baseline_dir": (
        None,
        "baselines",
        "directory of the baselines (agent_trace.assert_matches_baseline), relative to the "
        "rootdir (default: baselines).",
    ),
}


def add_options(parser: pytest.Parser) -> None:
    """The command-line options and ini keys (plugin.py's ``pytest_addoption``)."""
    group = parser.getgroup("agentops", "pytest-agentops: test AI agents by their trajectories")
    group.addoption(
        "--agentops",
        action="store_true",
        default=False,
        help="print the agentops summary (steps, tool/LLM calls, tokens, cost per test).",
    )
    group.addoption(
        "--agentops-report",
        metavar="PATH",
        default=None,
        help="write a JSON report of every recorded test's trajectory and totals to PATH.",
    )
    group.addoption(
        "--agentops-html",
        metavar="PATH",
        default=None,
        help="write a self-contained HTML report to PATH: recorded tests with outcome, cost, "
        "tokens, judge scores and violations, each trajectory as an expandable tree.",
    )
    group.addoption(
        "--agentops-record",
        choices=RECORD_MODES,
        default=None,
        help="cassette record mode (default: none = replay only, no live LLM call). once: "
        "record tests without a cassette; new_episodes: also record requests missing from a "
        "cassette; all: record every request again; rewrite: replace each test's cassette.",
    )
    group.addoption(
        "--agentops-block-network",
        action="store_true",
        default=False,
        help="refuse every non-loopback connection while tests replay.",
    )
    group.addoption(
        "--agentops-strict-tools",
        action="store_true",
        default=False,
        help="fail a test that replays a @tool whose code changed since it was recorded.",
    )
    group.addoption(
        "--agentops-update-baselines",
        action="store_true",
        default=False,
        help="write the baselines agent_trace.assert_matches_baseline() finds missing, and "
        "rewrite those the run does not match (the tests pass).",
    )
    group.addoption(
        "--agentops-repeat",
        metavar="N",
        type=_trials,
        default=None,
        help="run every recording test N times (as @pytest.mark.agentops_repeat(N)); the "
        "summary and the JSON report give pass@k and pass^k.",
    )
    group.addoption(
        "--agentops-max-cost",
        metavar="USD",
        default=None,
        help="fail the run when its agents' recorded cost passes USD (judge calls not "
        "counted); the summary names the top spenders.",
    )
    group.addoption(
        "--agentops-judge",
        choices=("on", "off"),
        default="on",
        help="off: skip every LLM-judge check (the tests are reported as skipped).",
    )
    for name, (kind, default, text) in _INI.items():
        parser.addini(name, type=kind, default=default, help=text)
    for name, (default, text) in JUDGE_INI.items():
        parser.addini(name, default=default, help=f"{text} (default: {default or 'none'}).")


def _ini_bool(config: pytest.Config, name: str) -> bool:
    value = config.getini(name)
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("", "0", "false", "no", "off"):
        return False
    raise pytest.UsageError(f"ini option {name} = {value!r} is not a boolean; use true or false")


def _ini_float(config: pytest.Config, name: str, low: float, high: float) -> float:
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


def resolve_judge(config: pytest.Config) -> JudgeSettings:
    return JudgeSettings(
        enabled=config.getoption("agentops_judge") != "off",
        model=str(config.getini("agentops_judge_model") or "").strip() or JUDGE_MODEL,
        api_base=str(config.getini("agentops_judge_api_base") or "").strip() or None,
        threshold=_ini_float(config, "agentops_judge_threshold", 0, 1),
        temperature=_ini_float(config, "agentops_judge_temperature", 0, 2),
        retries=int(_ini_float(config, "agentops_judge_retries", 0, 20)),
        backoff_s=_ini_float(config, "agentops_judge_backoff", 0, 600),
        timeout_s=_ini_float(config, "agentops_judge_timeout", 0.001, 3600),
    )


def _output_path(config: pytest.Config, name: str, example: str) -> Path | None:
    """``--agentops-report`` / ``--agentops-html``: command-line paths are relative to the
    current directory, ini paths to the rootdir."""
    given: str | None = config.getoption(name)
    text = given or str(config.getini(name) or "").strip()
    if not text:
        return None
    path = Path(text)
    if not path.is_absolute():
        path = (config.invocation_params.dir if given else config.rootpath) / path
    if path.is_dir():
        option = "--" + name.replace("_", "-")
        raise pytest.UsageError(
            f"{option}={text} is a directory; give a file path such as {Path(text) / example}"
        )
    return path


def resolve(config: pytest.Config) -> Settings:
    report_path = _output_path(config, "agentops_report", "agentops-report.json")
    record_ini = str(config.getini("agentops_record") or "").strip()
    if record_ini and record_ini not in RECORD_MODES:
        raise pytest.UsageError(
            f"ini option agentops_record = {record_ini!r} is not a record mode; "
            f"use one of {', '.join(RECORD_MODES)}"
        )
    cassette_dir = Path(str(config.getini("agentops_cassette_dir") or "cassettes"))
    if not cassette_dir.is_absolute():
        cassette_dir = config.rootpath / cassette_dir
    baseline_dir = Path(str(config.getini("agentops_baseline_dir") or "baselines"))
    if not baseline_dir.is_absolute():
        baseline_dir = config.rootpath / baseline_dir
    return Settings(
        summary=bool(config.getoption("agentops")) or _ini_bool(config, "agentops"),
        report_path=report_path,
        capture_litellm=_ini_bool(config, "agentops_capture_litellm"),
        record_cli=config.getoption("agentops_record"),
        record_ini=record_ini,
        cassette_dir=cassette_dir,
        cassettes=_ini_bool(config, "agentops_cassettes"),
        capture_http=_ini_bool(config, "agentops_capture_http"),
        capture_otel=_ini_bool(config, "agentops_capture_otel"),
        replay_tools=_ini_bool(config, "agentops_replay_tools"),
        block_network=bool(config.getoption("agentops_block_network"))
        or _ini_bool(config, "agentops_block_network"),
        session_guard=_ini_bool(config, "agentops_session_guard"),
        strict_tools=bool(config.getoption("agentops_strict_tools"))
        or _ini_bool(config, "agentops_strict_tools"),
        judge=resolve_judge(config),
        baseline_dir=baseline_dir,
        update_baselines=bool(config.getoption("agentops_update_baselines")),
        max_cost=_max_cost(config),
        repeat=config.getoption("agentops_repeat"),
        html_path=_output_path(config, "agentops_html", "agentops-report.html"),
    )


def _trials(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of trials (1 or more)")
    return value


def _max_cost(config: pytest.Config) -> float | None:
    given = config.getoption("agentops_max_cost")
    text = str(given if given is not None else config.getini("agentops_max_cost") or "").strip()
    if not text:
        return None
    where = "--agentops-max-cost" if given is not None else "ini agentops_max_cost"
    try:
        value = float(text.removeprefix("$"))
    except ValueError:
        value = -1.0
    if not (value >= 0 and value != float("inf")):
        raise pytest.UsageError(
            f"{where}={text!r} is not an amount of USD; give a number such as 0.50"
        )
    return value
