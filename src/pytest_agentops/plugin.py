"""pytest entry point of pytest-agentops: options, ini keys, markers, fixtures and hook wiring.

Kept thin and cheap to import: every pytest run of every project that installs the plugin
imports this module, so pydantic, litellm, vcrpy and deepdiff are imported only inside the
fixtures and hooks that need them (enforced by ruff TID253 and a test).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import pytest

from .judging import MARKER as JUDGE_MARKER
from .replay import MARKER as CASSETTE_MARKER
from .settings import RECORD_MODES, SETTINGS_KEY, resolve

if TYPE_CHECKING:
    from .cassettes import Cassette
    from .judge import JudgeRequest, Verdict
    from .judging import Judge
    from .recording import Recorder

_COST_MAP_ENV = "LITELLM_LOCAL_MODEL_COST_MAP"
_ENV_SET_KEY = pytest.StashKey[bool]()

MARKERS = (
    "agentops(name=None, **metadata): record this test's agent trajectory even if it does not "
    "request the agent_trace fixture; optional trajectory name and metadata.",
    "agentops_policy(path, ...): check the test's recorded trajectory against these YAML policy "
    "files (relative to the test file or the rootdir); violations fail the test. "
    "agentops_policy(None) turns policies off for a test.",
    CASSETTE_MARKER,
    JUDGE_MARKER,
)
_POLICY_CACHE_KEY = pytest.StashKey[Any]()


def pytest_addoption(parser: pytest.Parser) -> None:
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
        "--agentops-judge",
        choices=("on", "off"),
        default="on",
        help="off: skip every LLM-judge check (the tests are reported as skipped).",
    )
    parser.addini("agentops", type="bool", default=False, help="same as --agentops.")
    for name, default, text in (
        ("agentops_judge_model", "gpt-4o-mini", "litellm model of the LLM judge"),
        ("agentops_judge_api_base", "", "API base URL of the judge model (e.g. a local server)"),
        ("agentops_judge_threshold", "0.7", "default passing score of agent_judge (0 to 1)"),
        ("agentops_judge_temperature", "0", "sampling temperature of the judge"),
        ("agentops_judge_retries", "3", "retries of a judge call after a provider error"),
        ("agentops_judge_backoff", "1.0", "first retry delay in seconds (doubles each time)"),
        ("agentops_judge_timeout", "60", "timeout of one judge call in seconds"),
    ):
        parser.addini(name, default=default, help=f"{text} (default: {default or 'none'}).")
    parser.addini(
        "agentops_record", default="", help="default record mode (see --agentops-record)."
    )
    parser.addini(
        "agentops_cassette_dir",
        default="cassettes",
        help="directory of the cassettes, relative to the rootdir (default: cassettes).",
    )
    parser.addini(
        "agentops_cassettes",
        type="bool",
        default=True,
        help="run tests that record a trajectory inside a cassette (default: true).",
    )
    parser.addini(
        "agentops_capture_http",
        type="bool",
        default=True,
        help="record LLM calls seen on the wire (OpenAI, Anthropic APIs) as steps (default: true).",
    )
    parser.addini(
        "agentops_replay_tools",
        type="bool",
        default=True,
        help="store @tool results with cassettes and replay them (default: true).",
    )
    parser.addini(
        "agentops_block_network",
        type="bool",
        default=False,
        help="same as --agentops-block-network.",
    )
    parser.addini("agentops_report", default="", help="same as --agentops-report (path).")
    parser.addini(
        "agentops_policies",
        type="paths",
        default=[],
        help="YAML policy files checked against every recorded test's trajectory.",
    )
    parser.addini(
        "agentops_capture_litellm",
        type="bool",
        default=True,
        help="capture litellm calls automatically while a test records (default: true).",
    )


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def _use_local_cost_map(config: pytest.Config) -> None:
    """Reproducible costs and no network fetch of litellm's price table, unless the user chose.

    Must happen before anything imports litellm, conftest.py files included.
    """
    if _ENV_SET_KEY not in config.stash:
        config.stash[_ENV_SET_KEY] = _COST_MAP_ENV not in os.environ
        os.environ.setdefault(_COST_MAP_ENV, "True")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    _use_local_cost_map(early_config)


def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    settings = resolve(config)
    config.stash[SETTINGS_KEY] = settings
    _use_local_cost_map(config)  # when loaded with -p or from a conftest, not as an entry point
    from .session import AgentopsSession

    config.pluginmanager.register(AgentopsSession(config, settings), "agentops-session")


def pytest_unconfigure(config: pytest.Config) -> None:
    if config.stash.get(_ENV_SET_KEY, False):
        os.environ.pop(_COST_MAP_ENV, None)
    if "pytest_agentops.autocapture" in sys.modules:
        from .autocapture import deactivate

        deactivate()
    if "pytest_agentops.network" in sys.modules:
        from .network import GUARD

        GUARD.uninstall()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, None, object]:
    """``--agentops-block-network``: only loopback connections while the test runs."""
    if not item.config.stash[SETTINGS_KEY].block_network:
        return (yield)
    from .network import GUARD

    with GUARD.applied("all", item.nodeid, _fail_exception):
        return (yield)


def _fail_exception(message: str) -> BaseException:
    return pytest.fail.Exception(message, pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """Check the test's policies once its body has run; violations fail the test itself.

    So do cassette misses that the agent caught and hid (the miss is raised where the request
    was made, but an agent may swallow it and carry on).
    """
    try:
        result = yield
    except BaseException:
        _check_policies(item, fail=False)  # still reported, but the test's own error wins
        raise
    _check_cassette(item)
    _check_policies(item, fail=True)
    if item.get_closest_marker("agentops_judge") is not None:
        from .judging import apply_markers

        apply_markers(item)
    return result


def _check_cassette(item: pytest.Item) -> None:
    __tracebackhide__ = True
    if "pytest_agentops.cassettes" not in sys.modules:
        return
    from .replay import CASSETTE_KEY

    cassette = item.stash.get(CASSETTE_KEY, None)
    if cassette is not None and cassette.misses:
        pytest.fail(
            "\n\n".join(cassette.misses)
            + "\n(The test went on after this error: the agent caught it.)",
            pytrace=False,
        )


def _check_policies(item: pytest.Item, fail: bool) -> None:
    __tracebackhide__ = True
    from .session import RECORDER_KEY

    recorder = item.stash.get(RECORDER_KEY, None)
    if recorder is None or "pytest_agentops.compliance" not in sys.modules:
        return
    from .compliance import POLICIES_KEY, check_item, violation_message

    if not item.stash.get(POLICIES_KEY, None):
        return  # nothing to check: do not build the trajectory for nothing
    trajectory = recorder.trajectory
    violations = check_item(item, trajectory)
    if violations:
        message = violation_message(violations, trajectory)
        if fail:  # the message says it all; the plugin's own frames would only be noise
            pytest.fail(message, pytrace=False)
        item.add_report_section("call", "agentops policy violations", message)


def pytest_assertrepr_compare(op: str, left: object, right: object) -> list[str] | None:
    """``assert traj.tool_names == [...]``: show the two sequences aligned, with positions."""
    if op != "==":
        return None
    for actual, expected in ((left, right), (right, left)):
        if type(actual).__name__ == "ToolNames" and isinstance(expected, (list, tuple)):
            from .render import tool_names_diff

            assert isinstance(actual, list)
            return [
                f"tool_names == {short_list(expected)}",
                *tool_names_diff([str(e) for e in expected], actual),
            ]
    return None


def short_list(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _marker_args(item: pytest.Item) -> tuple[str | None, dict[str, Any]]:
    marker = item.get_closest_marker("agentops")
    if marker is None:
        return None, {}
    if len(marker.args) > 1:
        raise pytest.UsageError(
            f"{item.nodeid}: @pytest.mark.agentops takes at most one positional argument "
            f"(the trajectory name), got {marker.args!r}"
        )
    name = marker.kwargs.get("name", marker.args[0] if marker.args else None)
    if name is not None and not isinstance(name, str):
        raise pytest.UsageError(
            f"{item.nodeid}: @pytest.mark.agentops name must be a string, got {name!r}"
        )
    metadata = {k: v for k, v in marker.kwargs.items() if k != "name"}
    return name, metadata


@pytest.fixture
def agentops_cassette(request: pytest.FixtureRequest) -> Generator[Cassette | None, None, None]:
    """The test's cassette (``None`` when it runs without one): every HTTP request the test
    makes is replayed from it, or recorded into it when ``--agentops-record`` allows.

    Attributes: ``path``, ``mode``, ``recording`` (live calls can happen), ``replaying``.
    """
    from .replay import cassette_for

    yield from cassette_for(request.node)


@pytest.fixture
def agentops_judge_config() -> dict[str, Any]:
    """Extra litellm ``completion`` arguments for the judge (``api_base``, ``api_key``, ...).

    Override it in a conftest.py, e.g. to point the judge at a local server only while the
    test records (it may request ``agentops_cassette``).
    """
    return {}


@pytest.fixture
def agent_judge(request: pytest.FixtureRequest, agentops_judge_config: dict[str, Any]) -> Judge:
    """``agent_judge(subject=None, criteria, *, threshold=None, model=None, samples=1,
    rubric=None)`` -> Verdict: an LLM judge's score of a text, a Trajectory, or (no subject)
    this test's trajectory.  ``assert verdict`` fails with the score and the judge's reasoning.
    """
    from .judging import Judge

    return Judge(request.node)


@pytest.hookimpl(trylast=True)
def pytest_agentops_judge(request: JudgeRequest) -> Verdict:
    """The built-in judge (any litellm model); a conftest or plugin may answer first."""
    from .judging import builtin_judge

    return builtin_judge(request)


@pytest.fixture
def agent_trace(request: pytest.FixtureRequest) -> Generator[Recorder, None, None]:
    """Record everything the agent does during this test into ``agent_trace.trajectory``.

    Captured automatically: ``@pytest_agentops.tool`` functions and litellm calls (sync, async,
    streaming).  Manual API: ``tool_call``, ``llm_call``, ``message``, ``step``, ``set_input``,
    ``set_output``.
    """
    from .recording import Recorder
    from .session import RECORDER_KEY, TRAJECTORY_KEY

    settings = request.config.stash[SETTINGS_KEY]
    name, metadata = _marker_args(request.node)
    recorder = Recorder(
        name=name or request.node.nodeid,
        metadata=metadata,
        capture_litellm=settings.capture_litellm,
    )
    if settings.capture_litellm:
        from .autocapture import activate

        activate()
    cassette = request.getfixturevalue("agentops_cassette")
    if cassette is not None:
        recorder._tool_replay = cassette.tape
    recorder.start()
    request.node.stash[RECORDER_KEY] = recorder
    try:
        yield recorder
    finally:
        recorder.stop()
        trajectory = recorder.trajectory
        request.node.stash[TRAJECTORY_KEY] = trajectory
        request.config.hook.pytest_agentops_trajectory_recorded(
            item=request.node, trajectory=trajectory
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``@pytest.mark.agentops`` record without requesting ``agent_trace``, and
    policies (ini ``agentops_policies``, ``agentops_policy`` markers) are loaded and validated.

    Done at collection rather than with an autouse fixture, so unmarked tests pay nothing.
    """
    if config.getini("agentops_policies") or any(
        item.get_closest_marker("agentops_policy") for item in items
    ):
        from .compliance import PolicyCache, collect_policies

        cache = config.stash.setdefault(_POLICY_CACHE_KEY, PolicyCache())
        collect_policies(config, items, cache)
    from .compliance import request_agent_trace
    from .replay import prepare

    for item in items:
        if item.get_closest_marker("agentops_judge") is not None:
            from .judging import marker_options

            marker_options(item)  # usage errors now, not after the test ran
            request_agent_trace(item)
            if "agentops_judge_config" not in item.fixturenames:  # type: ignore[attr-defined]
                item.fixturenames.append("agentops_judge_config")  # type: ignore[attr-defined]
        if item.get_closest_marker("agentops") is not None:
            request_agent_trace(item)
        prepare(item)
