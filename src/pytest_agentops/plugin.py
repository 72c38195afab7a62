"""pytest entry point of pytest-agentops: fixtures and hook wiring (options and ini keys are
declared in ``settings.py``, markers in ``_markers.py``).

Kept thin and cheap to import: every pytest run of every project that installs the plugin
imports this module, so pydantic, litellm, vcrpy and deepdiff are imported only inside the
fixtures and hooks that need them (enforced by ruff TID253 and a test).  The work is done by
the capability folders, each through its ``pytest_side`` module:

- ``capture``: the ``agent_trace`` fixture (recording), ``cassettes``: ``agentops_cassette``
  and the network guard, ``policy``: checks after the test, ``judge``: ``agent_judge`` and
  judge markers, ``report``: the session's summary and JSON report.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import pytest

from . import _markers
from ._stash import (
    CASSETTE_KEY,
    CASSETTE_OPTIONS_KEY,
    COST_MAP_SET_KEY,
    POLICIES_KEY,
    RECORDER_KEY,
    SESSION_GUARD_KEY,
    SETTINGS_KEY,
)
from .settings import add_options, resolve

if TYPE_CHECKING:
    from .capture.recorder import Recorder
    from .cassettes.cassette import Cassette
    from .judge.pytest_side import Judge
    from .judge.verdict import JudgeRequest, Verdict

_COST_MAP_ENV = "LITELLM_LOCAL_MODEL_COST_MAP"


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``agentops_repeat`` / ``--agentops-repeat``: one item per trial (``agent_trial``)."""
    if metafunc.config.stash[SETTINGS_KEY].repeat or metafunc.definition.get_closest_marker(
        "agentops_repeat"
    ):
        from .report.repeats import parametrize

        parametrize(metafunc)


def pytest_collect_file(file_path: Any, parent: pytest.Collector) -> pytest.Collector | None:
    """Regression cases promoted from incidents (``*.case.yaml``) are tests."""
    if not file_path.name.endswith(".case.yaml"):
        return None
    from .cases.pytest_side import collect_file

    return collect_file(file_path, parent)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def _use_local_cost_map(config: pytest.Config) -> None:
    """Reproducible costs and no network fetch of litellm's price table, unless the user chose.

    Must happen before anything imports litellm, conftest.py files included.
    """
    if COST_MAP_SET_KEY not in config.stash:
        config.stash[COST_MAP_SET_KEY] = _COST_MAP_ENV not in os.environ
        os.environ.setdefault(_COST_MAP_ENV, "True")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    _use_local_cost_map(early_config)


#: Warnings that recording makes other libraries raise, and that nobody can act on.
_NOISE = (
    # pydantic about litellm's own TypedDicts, when litellm first builds them
    "ignore:Items? .* (is|are) using the `ReadOnly` qualifier:UserWarning",
)


def pytest_configure(config: pytest.Config) -> None:
    _markers.register(config)
    for line in _NOISE:
        config.addinivalue_line("filterwarnings", line)
    settings = resolve(config)
    config.stash[SETTINGS_KEY] = settings
    _use_local_cost_map(config)  # when loaded with -p or from a conftest, not as an entry point
    from .report.session import AgentopsSession

    config.pluginmanager.register(AgentopsSession(config, settings), "agentops-session")
    from .trajectory.importers.registry import CUSTOM

    CUSTOM.append(_hook_importer(config))


def _hook_importer(config: pytest.Config) -> Any:
    """``Trajectory.load`` asks the ``pytest_agentops_import_trace`` hook first."""

    def read(data: Any, format: str) -> Any:
        return config.hook.pytest_agentops_import_trace(data=data, format=format)

    read.config = config  # type: ignore[attr-defined]  # to take it out again at unconfigure
    return read


def pytest_unconfigure(config: pytest.Config) -> None:
    from .trajectory.importers.registry import CUSTOM

    CUSTOM[:] = [c for c in CUSTOM if getattr(c, "config", None) is not config]
    if config.stash.get(COST_MAP_SET_KEY, False):
        os.environ.pop(_COST_MAP_ENV, None)
    if "pytest_agentops.capture.litellm" in sys.modules:
        from .capture.litellm import deactivate

        deactivate()
    if "pytest_agentops.cassettes.guard" in sys.modules:
        from .cassettes.guard import GUARD

        GUARD.uninstall()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``@pytest.mark.agentops`` (or with policies or judge markers) record
    without requesting ``agent_trace``; policies are loaded and validated, cassettes set up.

    Done at collection rather than with an autouse fixture, so unmarked tests pay nothing.
    """
    if config.getini("agentops_policies") or any(
        item.get_closest_marker("agentops_policy") for item in items
    ):
        from .policy.pytest_side import collect_policies

        collect_policies(config, items)
    if any(item.get_closest_marker("agentops_repeat") for item in items) or any(
        hasattr(item, "callspec") and "agent_trial" in item.callspec.params for item in items
    ):
        from .report.repeats import mark_trials

        mark_trials(items)
    for item in items:
        if item.get_closest_marker("agentops_judge") is not None:
            from .judge.pytest_side import prepare as prepare_judge

            prepare_judge(item)
        if item.get_closest_marker("agentops") is not None:
            from .capture.pytest_side import request_recording

            request_recording(item)
        names = getattr(item, "fixturenames", ())
        if (
            "agent_trace" in names
            or "agent_judge" in names
            or item.get_closest_marker("agentops_cassette") is not None
        ):
            from .cassettes.pytest_side import prepare as prepare_cassette

            prepare_cassette(item)


def pytest_collection_finish(session: pytest.Session) -> None:
    if any(item.stash.get(CASSETTE_OPTIONS_KEY, None) is not None for item in session.items):
        from .cassettes.pytest_side import plan_session_guard

        plan_session_guard(session.config)


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, None, object]:
    """Record mode ``none``: no live LLM call between tests either (leftover threads)."""
    if not session.config.stash.get(SESSION_GUARD_KEY, False):
        return (yield)
    from .cassettes.pytest_side import session_guard

    with session_guard():
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, None, object]:
    """The network guard while the test runs: ``--agentops-block-network`` (loopback only),
    or record mode ``none`` for the session (no hosted LLM API unless the test records)."""
    config = item.config
    if not (config.stash[SETTINGS_KEY].block_network or config.stash.get(SESSION_GUARD_KEY, False)):
        return (yield)
    from .cassettes.pytest_side import guard_for_test

    with guard_for_test(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """After the test body: cassette misses the agent hid, policies, judge markers."""
    has_policies = RECORDER_KEY in item.stash and bool(item.stash.get(POLICIES_KEY, None))
    try:
        result = yield
    except BaseException:
        if has_policies:  # still reported, but the test's own error wins
            from .policy.pytest_side import check_after_test

            check_after_test(item, fail=False)
        raise
    if CASSETTE_KEY in item.stash:
        from .cassettes.pytest_side import check_misses

        check_misses(item)
    if has_policies:
        from .policy.pytest_side import check_after_test

        check_after_test(item, fail=True)
    if item.get_closest_marker("agentops_judge") is not None:
        from .judge.pytest_side import apply_markers

        apply_markers(item)
    return result


def pytest_assertrepr_compare(op: str, left: object, right: object) -> list[str] | None:
    """``assert traj.tool_names == [...]``: show the two sequences aligned, with positions."""
    if op != "==":
        return None
    for actual, expected in ((left, right), (right, left)):
        if type(actual).__name__ == "ToolNames" and isinstance(expected, (list, tuple)):
            from .trajectory.render import tool_names_repr

            assert isinstance(actual, list)
            return tool_names_repr(expected, actual)
    return None


@pytest.fixture
def agent_trace(request: pytest.FixtureRequest) -> Generator[Recorder, None, None]:
    """Record everything the agent does during this test into ``agent_trace.trajectory``.

    Captured automatically: ``@pytest_agentops.tool`` functions, litellm calls (sync, async,
    streaming) and OpenAI/Anthropic API calls on the wire.  Manual API: ``tool_call``,
    ``llm_call``, ``message``, ``step``, ``set_input``, ``set_output``.
    """
    from .capture.pytest_side import agent_trace as body

    yield from body(request)


@pytest.fixture
def agentops_cassette(request: pytest.FixtureRequest) -> Generator[Cassette | None, None, None]:
    """The test's cassette (``None`` when it runs without one): every HTTP request the test
    makes is replayed from it, or recorded into it when ``--agentops-record`` allows.

    Attributes: ``path``, ``mode``, ``recording`` (live calls can happen), ``replaying``.
    """
    from .cassettes.pytest_side import cassette_for

    yield from cassette_for(request.node)


@pytest.fixture
def agent_trial(request: pytest.FixtureRequest) -> int:
    """The 0-based trial of a repeated test (``agentops_repeat``); 0 when not repeated."""
    trial: int = getattr(request, "param", 0)
    return trial


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
    from .judge.pytest_side import Judge

    return Judge(request.node)


@pytest.hookimpl(trylast=True)
def pytest_agentops_judge(request: JudgeRequest) -> Verdict:
    """The built-in judge (any litellm model); a conftest or plugin may answer first."""
    from .judge.pytest_side import builtin_judge

    return builtin_judge(request)
