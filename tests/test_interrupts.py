"""Kills and interrupts at seeded random points while the plugin writes its files.

Every file the plugin writes (cassettes, the JSON report, ``Trajectory.dump`` in JSON and YAML)
is written again and again by a child process that dies (SIGKILL) or is interrupted (SIGINT,
so a KeyboardInterrupt) at one *write-point*: the start of the write, before and after each
call into the file layers (``os``, ``io`` and file objects: ``open``, ``fchmod``,
``write``, ``flush``, ``fsync``, ``close``, ``replace``, ...) in any frame below the write, or
its end.  Afterwards the file must be exactly the old content or exactly the new text the
child meant to write, never torn, partial or missing, and no temporary file may match the glob
the file is found by.  Orphaned temporary files of killed writes are removed by the next write
(and the next run of a cassette's test).

The children are forked from one driver process that has imported pytest and the plugin and
made the old file itself (a pytest start costs about a second, a warm fork a tenth of that).
Points are drawn with ``random.Random(seed)``, one in each of N equal stretches of the points
an uninterrupted write goes through.  ``AGENTOPS_KILL_POINTS`` sets N per file kind and signal
(default 8, dumps three times as many; 60 for a thorough run), ``AGENTOPS_KILL_SEED`` the seed;
every failure message names the seed, the point and what runs there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_agentops import Trajectory

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the children are forked")

SEED = int(os.environ.get("AGENTOPS_KILL_SEED", "20240611"))
POINTS = int(os.environ.get("AGENTOPS_KILL_POINTS", "8"))
SIGNALS = ["SIGKILL", "SIGINT"]

# ---- the child side ------------------------------------------------------------------------

#: Imported by the driver before anything is forked: wraps ``atomic_write_text`` where the
#: plugin looks it up; while the watched file is written it counts write-points and at point
#: ``KILL_AT`` raises ``KILL_SIGNAL`` (``KILL_AT=0``: count them, and log their labels).
KILLPOINTS = '''
import json
import os
import signal
import sys
from pathlib import Path

import pytest_agentops._util as util
import pytest_agentops.cassettes.storage as storage
import pytest_agentops.trajectory.io as trajectory_io


def inplace(path, text, **options):
    """A broken writer (truncate, then write): the checks must catch it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "w", encoding="utf-8") as fh:
        fh.write(text)
    return target


def visible(path, text, **options):
    """A broken writer whose temporary file matches the glob the file is found by."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.stem}.partial{target.suffix}")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    return target


WRITERS = {"inplace": inplace, "visible": visible}
REAL = WRITERS.get(os.environ.get("KILL_WRITER", ""), util.atomic_write_text)
#: The layers every file operation goes through: os functions, open, file objects.
FILE_LAYERS = ("posix", "nt", "io", "_io")
state = {"count": 0, "at": 0, "labels": None}


def log(entry):
    with open(os.environ["KILL_LOG"], "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry) + "\\n")


def point(label):
    state["count"] += 1
    if state["labels"] is not None:
        state["labels"].append(label)
    if state["count"] == state["at"]:
        sys.setprofile(None)
        log({"fired": state["count"], "label": label})
        name = os.environ["KILL_SIGNAL"]
        # SIGINT: Python's handler raises KeyboardInterrupt right here, inside the write
        signal.raise_signal(signal.SIGKILL if name == "SIGKILL" else signal.SIGINT)


def profile(frame, event, arg):
    if event != "c_call" and event != "c_return":
        return
    layer = getattr(arg, "__module__", None) or type(getattr(arg, "__self__", None)).__module__
    if layer in FILE_LAYERS:
        when = "before" if event == "c_call" else "after"
        point(f"{frame.f_code.co_name}: {when} {arg.__qualname__}")


def watched(path, text, **options):
    target = os.environ.get("KILL_TARGET")
    if target is None or os.path.realpath(path) != os.path.realpath(target):
        return REAL(path, text, **options)
    state["at"] = int(os.environ.get("KILL_AT", "0"))
    if state["at"] == 0:
        state["labels"] = []
    log({"intended": text})
    point("start of the write")
    sys.setprofile(profile)
    try:
        written = REAL(path, text, **options)
    finally:
        sys.setprofile(None)
    point("end of the write")
    if state["labels"] is not None:
        log({"labels": state["labels"]})
    return written


util.atomic_write_text = watched
storage.atomic_write_text = watched
trajectory_io.atomic_write_text = watched
'''

#: The fork server: makes the old file, counts the write-points of each configuration in an
#: uninterrupted run, then forks one child per chosen point and records what it left behind.
DRIVER = '''
import json
import os
import random
import sys
import threading
import time
import traceback
from pathlib import Path

started = time.monotonic()
spec = json.loads(Path(sys.argv[1]).read_text())
kind = spec["kind"]
target = Path(spec["target"]).resolve()
logs = Path(spec["logs"])
logs.mkdir()
sys.path.insert(0, os.getcwd())
import killpoints  # noqa: E402

if kind == "dump":
    from pytest_agentops import ToolCall, Trajectory

    def action(config, version):
        steps = [
            ToolCall(name="lookup", arguments={"order": f"{version}-{i}"}, result={"ok": i})
            for i in range(int(config.get("steps", 40)))
        ]
        Trajectory(name=version, steps=steps).dump(target)
        return 0
else:
    import pytest

    UNUSED = (
        "terminal", "randomly", "cacheprovider", "hypothesispytest", "xdist",
        "xdist.looponfail", "anyio", "unraisableexception", "threadexception", "faulthandler",
        "doctest", "junitxml", "pastebin", "legacypath", "stepwise",
        "recording",  # pytest-recording (the bench extra) needs legacypath
    )

    def action(config, version):
        os.environ["ORDER"] = version
        # Without the plugins that play no part here, a run takes a tenth of a second; no
        # terminal: its report of a KeyboardInterrupt parses every frame's source (0.4 s).
        args = [f"--agentops-record={config['mode']}"]
        for name in UNUSED:
            args += ["-p", f"no:{name}"]
        if kind == "report":
            args.append(f"--agentops-report={target}")
        return int(pytest.main(args))


def text(path):
    try:
        return path.read_bytes().decode("utf-8", "surrogateescape")
    except FileNotFoundError:
        return None


def reset(config):
    for name in os.listdir(target.parent):
        if name.endswith(".tmp"):
            os.unlink(target.parent / name)
    if config["old"]:
        target.write_bytes(old.encode("utf-8", "surrogateescape"))
    else:
        target.unlink(missing_ok=True)


def run(config, at, signal_name, version="new"):
    """Fork a child that writes the file and raises signal_name at point at (0: none)."""
    log = logs / f"run{len(os.listdir(logs))}.jsonl"
    log.touch()
    pid = os.fork()
    if pid == 0:
        code = 98
        try:
            killpoints.state.update(count=0, labels=None)
            os.environ.update(
                KILL_TARGET=str(target), KILL_AT=str(at), KILL_SIGNAL=signal_name, KILL_LOG=str(log)
            )
            code = action(config, version)
        except KeyboardInterrupt:
            code = 130
        except BaseException:
            traceback.print_exc()
            code = 99
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return {
        "config": config,
        "signal": signal_name,
        "point": at,
        "status": os.waitstatus_to_exitcode(status),
        "log": [json.loads(line) for line in log.read_text().splitlines()],
        "content": text(target),
        "listing": sorted(os.listdir(target.parent)),
    }


def kill(config, labels, at, signal_name):
    reset(config)
    outcome = run(config, at, signal_name)
    outcome.update(label=labels[at - 1], points=len(labels))
    result["runs"].append(outcome)
    return outcome


# The old file: a complete earlier write, made in this process (which so imports what the
# children use: each fork starts warm).
target.parent.mkdir(parents=True, exist_ok=True)
action(spec["configs"][0], "old")
old = text(target)
assert threading.active_count() == 1, threading.enumerate()  # safe to fork
result = {"old": old, "counts": [], "runs": []}
counted = []
for config in spec["configs"]:  # an uninterrupted write: which points it goes through
    reset(config)
    result["counts"].append(run(config, 0, ""))
    log = result["counts"][-1]["log"]
    counted.append(next((e["labels"] for e in log if "labels" in e), []))

rng = random.Random(spec["seed"])
for signal_name in spec["signals"]:
    for index, (config, labels) in enumerate(zip(spec["configs"], counted)):
        runs = len(range(index, spec["points"], len(spec["configs"])))
        for stretch in range(runs):  # one point in each of `runs` equal stretches
            low = 1 + len(labels) * stretch // runs
            high = max(low, len(labels) * (stretch + 1) // runs)
            kill(config, labels, rng.randint(low, high), signal_name)

if spec["at_label"]:  # the first point with this label, in each configuration
    for config, labels in zip(spec["configs"], counted):
        at = next(i for i, label in enumerate(labels, 1) if label.endswith(spec["at_label"]))
        outcome = kill(config, labels, at, spec["signals"][0])
        if spec["then"] is not None:  # the next use: an uninterrupted write of the same file
            outcome["then"] = run({**config, **spec["then"]}, 0, "", version="old")

result["seconds"] = time.monotonic() - started
Path(spec["result"]).write_text(json.dumps(result))
'''

TOOLS = """
from pytest_agentops import tool

@tool
def lookup(order_id):
    return {"order_id": order_id}
"""

TEST_AGENT = """
import os
from tools import lookup

def test_call(agent_trace):
    for i in range(20):
        lookup(f"ORD-{os.environ['ORDER']}-{i}")
    agent_trace.tool_call("refund", {"order": os.environ["ORDER"]}, result="done")
"""

#: Per file kind: where the file is, and the runs that write it (with an old file or none;
#: cassettes in the record modes that write one).
KINDS: dict[str, dict[str, Any]] = {
    "cassette": {
        "target": "cassettes/test_agent/test_call.yaml",
        "configs": [
            {"old": True, "mode": "rewrite"},
            {"old": True, "mode": "all"},
            {"old": False, "mode": "once"},
        ],
    },
    "report": {
        "target": "out/report.json",
        "configs": [{"old": True, "mode": "none"}, {"old": False, "mode": "none"}],
    },
    "dump-json": {
        "target": "dumps/trajectory.json",
        "configs": [{"old": True}, {"old": False, "steps": 3}],
    },
    "dump-yaml": {
        "target": "dumps/trajectory.yaml",
        "configs": [{"old": True}, {"old": False, "steps": 3}],
    },
}


def drive(
    root: Path,
    kind: str,
    signals: list[str],
    points: int = 0,
    *,
    writer: str = "",
    at_label: str = "",
    then: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run the fork server for one file kind: what each child left behind."""
    project = root / "project"
    project.mkdir()
    (project / "pytest.ini").write_text("[pytest]\n")
    (project / "tools.py").write_text(TOOLS)
    (project / "test_agent.py").write_text(TEST_AGENT)
    (project / "killpoints.py").write_text(KILLPOINTS)
    (root / "driver.py").write_text(DRIVER)
    spec = {
        "kind": kind.split("-")[0],
        "signals": signals,
        "target": str(project / KINDS[kind]["target"]),
        "configs": KINDS[kind]["configs"],
        "points": points,
        "seed": SEED,
        "at_label": at_label,
        "then": then,
        "logs": str(root / "logs"),
        "result": str(root / "result.json"),
    }
    (root / "spec.json").write_text(json.dumps(spec))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_XDIST", "KILL_"))}
    env.pop("PYTEST_CURRENT_TEST", None)
    env["PYTEST_ADDOPTS"] = "-p no:langsmith_plugin"  # as tests/conftest.py sets it
    if writer:
        env["KILL_WRITER"] = writer
    done = subprocess.run(
        [sys.executable, str(root / "driver.py"), str(root / "spec.json")],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:  # not an AssertionError: the xfail tests must not take it
        pytest.fail(f"seed {SEED}: the driver failed:\n{done.stdout}\n{done.stderr}")
    result: dict[str, Any] = json.loads((root / "result.json").read_text())
    return result


def parses(kind: str, content: str, scratch: Path) -> bool:
    """Whether ``content`` is a whole file of its kind, read as the plugin's users read it."""
    if kind == "cassette":
        data = yaml.safe_load(content)
        return isinstance(data, dict) and len(data["agentops"]["tools"]) == 20
    if kind == "report":
        return len(json.loads(content)["tests"]) == 1
    copy = scratch / f"check{Path(KINDS[kind]['target']).suffix}"
    copy.write_text(content, encoding="utf-8")
    return Trajectory.load(copy).name in ("old", "new")


def intended(outcome: dict[str, Any]) -> str | None:
    """The text the child meant to write (logged before it started), if it got that far."""
    return next((e["intended"] for e in outcome["log"] if "intended" in e), None)


def problems(kind: str, result: dict[str, Any]) -> list[str]:
    """Everything wrong with what the interrupted writes left behind, one line each."""
    name = Path(KINDS[kind]["target"]).name
    suffix = Path(name).suffix
    found: list[str] = []
    for outcome in result["runs"]:
        signal_name = outcome["signal"]
        where = (
            f"seed {SEED}, {signal_name} at point {outcome['point']}/{outcome['points']} "
            f"({outcome['label']}), {outcome['config']}"
        )
        fired = [e["fired"] for e in outcome["log"] if "fired" in e]
        if fired != [outcome["point"]]:
            found.append(f"{where}: the point was not reached once (log {outcome['log']})")
        expected = {
            "SIGKILL": {-9},
            "SIGINT": {int(pytest.ExitCode.INTERRUPTED), 130},  # 130: escaped pytest.main
        }[signal_name]
        if outcome["status"] not in expected:
            found.append(f"{where}: exit status {outcome['status']}, not {sorted(expected)}")
        old = result["old"] if outcome["config"]["old"] else None
        content = outcome["content"]
        if content is None and old is not None:
            found.append(f"{where}: the file is missing")
        elif content is not None and content not in (old, intended(outcome)):
            found.append(f"{where}: the file is torn: {content[:60]!r} ({len(content)} chars)")
        matching = [n for n in outcome["listing"] if Path(n).match(f"*{suffix}")]
        if matching != ([] if content is None else [name]):
            found.append(f"{where}: files found by the glob *{suffix}: {matching}")
        others = [n for n in outcome["listing"] if n != name]
        strays = [n for n in others if not (n.startswith(f".{name}.") and n.endswith(".tmp"))]
        if strays:
            found.append(f"{where}: files that are not temporary files: {strays}")
        # A KeyboardInterrupt is an exception: the write removes its temporary file
        if signal_name == "SIGINT" and others:
            found.append(f"{where}: the interrupted write left temporary files: {others}")
    return found


def check_counts(kind: str, result: dict[str, Any], scratch: Path) -> None:
    """The uninterrupted writes went through the watched writer and wrote what it was given."""
    old = result["old"]
    assert old is not None, f"{kind}: the old file was not written"
    assert parses(kind, old, scratch)
    for count in result["counts"]:
        assert count["status"] == 0, count
        labels = next(e["labels"] for e in count["log"] if "labels" in e)
        # open, write, flush, fsync, close and replace: dozens of points, the key ones
        assert len(labels) >= 30, labels
        for needed in ("after TextIOWrapper.write", "after fsync", "before replace"):
            assert any(label.endswith(needed) for label in labels), (needed, labels)
        new = intended(count)
        assert count["content"] == new, f"{kind}: the uninterrupted write wrote something else"
        assert new != old
        assert parses(kind, new, scratch)
        assert count["listing"] == [Path(KINDS[kind]["target"]).name]


# ---- the tests -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(KINDS))
def test_an_interrupted_write_leaves_the_old_file_or_the_new_one(tmp_path: Path, kind: str) -> None:
    points = POINTS * 3 if kind.startswith("dump") else POINTS  # a dump forks in milliseconds
    result = drive(tmp_path, kind, SIGNALS, points)
    check_counts(kind, result, tmp_path)
    assert len(result["runs"]) == points * len(SIGNALS)
    assert problems(kind, result) == []


def test_a_killed_cassette_write_leaves_a_temporary_file_the_next_run_removes(
    tmp_path: Path,
) -> None:
    result = drive(tmp_path, "cassette", ["SIGKILL"], at_label="after fsync", then={"mode": "once"})
    assert len(result["runs"]) == len(KINDS["cassette"]["configs"])
    for killed in result["runs"]:
        old = result["old"] if killed["config"]["old"] else None
        assert killed["status"] == -9, killed
        assert killed["content"] == old  # written and flushed, not renamed yet
        assert [n.startswith(".test_call.yaml.") for n in killed["listing"]].count(True) == 1
        after = killed["then"]
        assert after["status"] == 0, after
        assert after["listing"] == ["test_call.yaml"]  # the orphan is gone
        assert after["content"] == (old or intended(after))  # replayed, or recorded anew


def require(condition: bool, message: object) -> None:
    """A precondition of an xfail test: its failure is a real one, not the expected one."""
    if not condition:
        pytest.fail(str(message))


def test_an_interrupt_just_after_the_temporary_file_is_created_leaves_none(
    tmp_path: Path,
) -> None:
    # was a leak while the temporary file came from tempfile.mkstemp: Ctrl-C after its open()
    # and before it returned left a .NAME.*.tmp that nothing removed
    result = drive(tmp_path, "dump-json", ["SIGINT"], at_label="atomic_write_text: after open")
    for outcome in result["runs"]:
        require(outcome["status"] == 130, outcome)  # the KeyboardInterrupt ended the run
        old = result["old"] if outcome["config"]["old"] else None
        require(outcome["content"] == old, outcome)  # the file itself is fine
    assert [outcome["listing"] for outcome in result["runs"]] == [["trajectory.json"], []]


def test_the_next_write_removes_temporary_files_of_a_killed_one(tmp_path: Path) -> None:
    result = drive(tmp_path, "dump-json", ["SIGKILL"], at_label="after fsync", then={})
    for killed in result["runs"]:
        require(killed["status"] == -9, killed)
        require(len(killed["listing"]) == 1 + killed["config"]["old"], killed)  # the orphan
        require(killed["then"]["status"] == 0, killed["then"])
        assert killed["then"]["listing"] == ["trajectory.json"]


@pytest.mark.parametrize(
    ("writer", "expected"),
    [
        ("inplace", {"SIGKILL": "the file is torn", "SIGINT": "the file is torn"}),
        ("visible", {"SIGKILL": "found by the glob", "SIGINT": "left temporary files"}),
    ],
    ids=["in-place", "visible-temporary-file"],
)
def test_the_checks_catch_a_writer_that_is_not_atomic(
    tmp_path: Path, writer: str, expected: dict[str, str]
) -> None:
    """The same points and checks on broken writers: one that truncates the file and then
    writes it, one whose temporary file is named like the real one."""
    result = drive(tmp_path, "dump-json", SIGNALS, 12, writer=writer)
    found = problems("dump-json", result)
    for signal_name, problem in expected.items():
        assert any(f" {signal_name} " in line and problem in line for line in found), found
