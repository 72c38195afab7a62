"""The pytest side of cassettes: which tests get one, where it lives, in which record mode,
and the ``agentops_cassette`` fixture (no heavy imports until a test has a cassette).

A test gets a cassette when it uses ``agent_trace`` (directly, or through the ``agentops``,
policy or judge markers) or ``agent_judge``, or is marked ``agentops_cassette``;
``agentops_cassette(False)`` or ini ``agentops_cassettes = false`` turn that off.  The file is
``<cassette dir>/<test module path>/<class>/<test name>.yaml``.

Record mode precedence: ``--agentops-record`` > ``agentops_cassette(record=...)`` > ini
``agentops_record`` > ``none``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_agentops._markers import cassette_args
from pytest_agentops._stash import (
    CASSETTE_KEY,
    CASSETTE_OPTIONS_KEY,
    INTERRUPTED_KEY,
    LEFT_FILES_KEY,
    SESSION_GUARD_KEY,
    SETTINGS_KEY,
)

if TYPE_CHECKING:
    from pytest_agentops.settings import Settings

    from .cassette import Cassette

_UNSAFE = re.compile(r"[^A-Za-z0-9._=+,@\[\]-]")
_MAX_NAME = 80
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$", re.IGNORECASE)


@dataclass(frozen=True)
class CassetteOptions:
    path: Path
    display_path: str
    mode: str
    real_tools: frozenset[str]
    replay_tools: bool


def safe_name(name: str) -> str:
    """A file-name-safe, bounded form of a test or module name, unique per input.

    Unsafe characters become ``_``; when anything had to change, or the name is longer than
    80 characters, a short hash of the original keeps distinct names distinct.
    """
    cleaned = _UNSAFE.sub("_", name).strip(". ") or "_"
    if _WINDOWS_RESERVED.match(cleaned):
        cleaned = "_" + cleaned
    if cleaned == name and len(name) <= _MAX_NAME:
        return name
    digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
    return f"{cleaned[:_MAX_NAME]}-{digest}"


def default_cassette_path(item: pytest.Item, cassette_dir: Path) -> Path:
    rootpath = item.config.rootpath
    try:
        module = item.path.relative_to(rootpath)
    except ValueError:
        module = Path(item.path.name)
    module_parts = [*module.parent.parts, module.stem]
    # nodeid: "path/to/test_x.py::TestClass::test_name[param]"
    nodeid = item.nodeid
    callspec = getattr(item, "callspec", None)
    trial = callspec.params.get("agent_trial") if callspec is not None else None
    if isinstance(trial, int):  # a repeated test: .../<test>/trial-<i>.yaml
        from pytest_agentops.report.repeats import base_nodeid

        nodeid = base_nodeid(nodeid, trial) + f"::trial-{trial}"
    names = nodeid.split("::")[1:] or [item.name]
    parts = [safe_name(p) for p in module_parts] + [safe_name(n) for n in names]
    return cassette_dir.joinpath(*parts[:-1], parts[-1] + ".yaml")


def _display(path: Path, rootpath: Path) -> str:
    try:
        return path.relative_to(rootpath).as_posix()
    except ValueError:
        return str(path)


def resolve_options(item: pytest.Item, settings: Settings) -> CassetteOptions | None:
    """The cassette of a test, or ``None`` when it runs without one."""
    marker = cassette_args(item)
    if marker is None or not settings.cassettes:
        return None
    if marker.get("path") is not None:
        path = Path(marker["path"])
        if path.suffix not in (".yaml", ".yml"):
            path = path.with_name(path.name + ".yaml")
        if not path.is_absolute():
            path = settings.cassette_dir / path
    else:
        path = default_cassette_path(item, settings.cassette_dir)
    mode = settings.record_cli or marker.get("record") or settings.record_ini or "none"
    return CassetteOptions(
        path=path,
        display_path=_display(path, item.config.rootpath),
        mode=mode,
        real_tools=frozenset(marker.get("real_tools", ())),
        replay_tools=settings.replay_tools and marker.get("replay_tools", True),
    )


def prepare(item: pytest.Item) -> None:
    """At collection, for a test that records (uses ``agent_trace``), judges (uses
    ``agent_judge``: judge calls replay from cassettes too) or is marked ``agentops_cassette``:
    validate the marker, and set the cassette up before the test's other fixtures."""
    names = getattr(item, "fixturenames", None)
    if names is None:
        return
    options = resolve_options(item, item.config.stash[SETTINGS_KEY])
    item.stash[CASSETTE_OPTIONS_KEY] = options
    if options is not None and "agentops_cassette" not in names:
        names.insert(0, "agentops_cassette")


def options_of(item: pytest.Item) -> CassetteOptions | None:
    if CASSETTE_OPTIONS_KEY in item.stash:
        return item.stash[CASSETTE_OPTIONS_KEY]
    return resolve_options(item, item.config.stash[SETTINGS_KEY])


def cassette_for(item: pytest.Item) -> Iterator[Cassette | None]:
    """The ``agentops_cassette`` fixture: the test's cassette, active until teardown.

    While it replays, the network guard keeps the test off hosted LLM APIs (or, with
    ``--agentops-block-network``, off everything but loopback); while it records, the
    network is open.
    """
    options = options_of(item)
    if options is None:
        yield None
        return
    from pytest_agentops._util import LeftTemporaryFiles
    from pytest_agentops.errors import CassetteFileError

    from .cassette import Cassette
    from .guard import GUARD

    config = item.config

    def redact_hook(interaction: dict[str, Any]) -> None:
        config.hook.pytest_agentops_redact(interaction=interaction, trajectory=None, item=item)

    cassette = Cassette(
        options.path,
        options.mode,
        nodeid=item.nodeid,
        real_tools=options.real_tools,
        replay_tools=options.replay_tools,
        capture_http=config.stash[SETTINGS_KEY].capture_http,
        redact_hook=redact_hook,
        display_path=options.display_path,
        strict_tools=config.stash[SETTINGS_KEY].strict_tools,
        interrupted=lambda: config.stash.get(INTERRUPTED_KEY, False),
        left_files=config.stash.setdefault(LEFT_FILES_KEY, LeftTemporaryFiles()),
    )
    problem = None
    try:
        cassette.__enter__()
    except CassetteFileError as exc:
        problem = str(exc)
    if problem is not None:
        pytest.fail(problem, pytrace=False)
    item.stash[CASSETTE_KEY] = cassette
    # recording opens the network; replaying closes LLM hosts, or keeps the stricter "all"
    # that --agentops-block-network set for the whole test
    outer = GUARD.policy
    policy = "off" if cassette.recording else max(outer, "llm", key=("off", "llm", "all").index)
    try:
        why = "network" if cassette.recording else "replay"
        with GUARD.applied(policy, item.nodeid, cassette.fail, why=why):
            yield cassette
    finally:
        cassette.__exit__(None, None, None)


def check_misses(item: pytest.Item) -> None:
    """After the test body: fail the test for cassette misses the agent caught and hid (the
    miss is raised where the request was made, but an agent may swallow it and carry on)."""
    __tracebackhide__ = True
    cassette = item.stash.get(CASSETTE_KEY, None)
    if cassette is not None and cassette.misses:
        pytest.fail(
            "\n\n".join(cassette.misses)
            + "\n(The test went on after this error: the agent caught it.)",
            pytrace=False,
        )


# ---- the session guard ---------------------------------------------------------------------


def plan_session_guard(config: pytest.Config) -> None:
    """After collection, when a test that will run has a cassette: does record mode ``none``
    hold for the whole session?

    It does when the session's record mode (``--agentops-record``, else ini) is ``none``.
    Hosted LLM APIs are then closed everywhere except in tests that record: in tests without
    a cassette, in threads an earlier test left running, between tests.  A session without
    cassette tests is left alone (installing the plugin changes nothing for suites that do
    not use it); ``agentops_live`` lets one test through, ini ``agentops_session_guard =
    false`` the whole session.
    """
    settings = config.stash[SETTINGS_KEY]
    mode = settings.record_cli or settings.record_ini or "none"
    config.stash[SESSION_GUARD_KEY] = settings.session_guard and mode == "none"


def _fail(message: str) -> BaseException:
    # pytest's failure outcome: a BaseException, so SDK retry loops do not swallow it
    return pytest.fail.Exception(message, pytrace=False)


@contextmanager
def guard_for_test(item: pytest.Item) -> Iterator[None]:
    """The network policy of the test's whole run (setup to teardown); its cassette, if any,
    narrows it while the test body records or replays."""
    from .guard import GUARD

    if item.config.stash[SETTINGS_KEY].block_network:
        policy, why = "all", "network"
    else:
        policy, why = ("off" if item.get_closest_marker("agentops_live") else "llm"), "session"
    with GUARD.applied(policy, item.nodeid, _fail, why=why):
        yield


@contextmanager
def session_guard() -> Iterator[None]:
    """Hosted LLM APIs closed between tests (blocked calls raise NetworkBlockedError)."""
    from .guard import GUARD

    with GUARD.applied("llm", "", None, why="session"):
        yield
