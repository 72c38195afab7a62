"""Which tests get a cassette, where it lives, and in which record mode (no heavy imports).

A test gets a cassette when it uses ``agent_trace`` (directly, or through the ``agentops``
marker) or is marked ``agentops_cassette``; ``agentops_cassette(False)`` or ini
``agentops_cassettes = false`` turn that off.  The file is
``<cassette dir>/<test module path>/<class>/<test name>.yaml``.

Record mode precedence: ``--agentops-record`` > ``agentops_cassette(record=...)`` > ini
``agentops_record`` > ``none``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .settings import RECORD_MODES, SETTINGS_KEY, Settings

if TYPE_CHECKING:
    from .cassettes import Cassette

CASSETTE_KEY: pytest.StashKey[Cassette] = pytest.StashKey()
_OPTIONS_KEY: pytest.StashKey[CassetteOptions | None] = pytest.StashKey()

MARKER = (
    "agentops_cassette(path=None, *, record=None, real_tools=(), replay_tools=True): run this "
    "test inside a cassette (tests using agent_trace have one already); path overrides the "
    "file name (relative to the cassette dir), record the record mode, real_tools names @tool "
    "functions that always run for real. agentops_cassette(False) turns the cassette off."
)
_MARKER_KWARGS = ("path", "record", "real_tools", "replay_tools")
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
    names = item.nodeid.split("::")[1:] or [item.name]
    parts = [safe_name(p) for p in module_parts] + [safe_name(n) for n in names]
    return cassette_dir.joinpath(*parts[:-1], parts[-1] + ".yaml")


def _display(path: Path, rootpath: Path) -> str:
    try:
        return path.relative_to(rootpath).as_posix()
    except ValueError:
        return str(path)


def _marker_options(item: pytest.Item) -> dict[str, Any] | None:
    """The ``agentops_cassette`` marker's arguments; ``None`` when it turns cassettes off."""
    marker = item.get_closest_marker("agentops_cassette")
    if marker is None:
        return {}
    where = f"{item.nodeid}: @pytest.mark.agentops_cassette"
    if len(marker.args) > 1:
        raise pytest.UsageError(
            f"{where} takes at most one positional argument, got {marker.args!r}"
        )
    unknown = sorted(set(marker.kwargs) - set(_MARKER_KWARGS))
    if unknown:
        raise pytest.UsageError(
            f"{where}: unknown argument(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(_MARKER_KWARGS)}"
        )
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


def resolve_options(item: pytest.Item, settings: Settings) -> CassetteOptions | None:
    """The cassette of a test, or ``None`` when it runs without one."""
    marker = _marker_options(item)
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
    """At collection: validate the marker, and set the cassette up before other fixtures."""
    names = getattr(item, "fixturenames", None)
    if names is None:
        return
    wanted = "agent_trace" in names or item.get_closest_marker("agentops_cassette") is not None
    if not wanted:
        return
    options = resolve_options(item, item.config.stash[SETTINGS_KEY])
    item.stash[_OPTIONS_KEY] = options
    if options is not None and "agentops_cassette" not in names:
        names.insert(0, "agentops_cassette")


def options_of(item: pytest.Item) -> CassetteOptions | None:
    if _OPTIONS_KEY in item.stash:
        return item.stash[_OPTIONS_KEY]
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
    from .cassettes import Cassette, CassetteFileError
    from .network import GUARD

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
        with GUARD.applied(policy, item.nodeid, cassette.fail):
            yield cassette
    finally:
        cassette.__exit__(None, None, None)
