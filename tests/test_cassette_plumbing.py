"""Cassette plumbing: file names, record-mode precedence, atomic writes under xdist and kills,
compressed bodies, and the network guard."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from pytest_agentops.cassettes.pytest_side import safe_name

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

TOOL = """
from pytest_agentops import tool

@tool
def lookup(order_id):
    return {"order_id": order_id}
"""


# ---- names ---------------------------------------------------------------------------------


def test_safe_name_keeps_plain_names_and_makes_odd_ones_unique() -> None:
    assert safe_name("test_refund") == "test_refund"
    assert safe_name("test_x[gpt-4o-1]") == "test_x[gpt-4o-1]"
    odd = [safe_name(n) for n in ("test_x[a/b]", "test_x[a b]", "test_x[a_b]")]
    assert len(set(odd)) == 3
    assert all("/" not in n and " " not in n for n in odd)
    long = safe_name("test_" + "x" * 300)
    assert len(long) <= 89
    assert safe_name("test_" + "x" * 300) == long  # stable
    assert safe_name("test_" + "x" * 299 + "y") != long
    assert safe_name("con") != "con"


def test_each_test_and_parameter_gets_its_own_cassette(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(tools=TOOL)
    pytester.makepyfile(
        test_names="""
import pytest
from tools import lookup

class TestGroup:
    @pytest.mark.parametrize("q", ["a/b", "a b", "plain"])
    def test_p(self, agent_trace, q):
        lookup(q)

def test_top(agent_trace):
    lookup("top")

@pytest.mark.agentops_cassette("shared/custom_name")
def test_custom(agent_trace):
    lookup("custom")
"""
    )
    pytester.runpytest("--agentops-record=once").assert_outcomes(passed=5)
    base = pytester.path / "cassettes"
    found = sorted(p.relative_to(base).as_posix() for p in base.rglob("*.yaml"))
    expected = sorted(
        [
            f"test_names/TestGroup/{safe_name('test_p[a/b]')}.yaml",
            f"test_names/TestGroup/{safe_name('test_p[a b]')}.yaml",
            "test_names/TestGroup/test_p[plain].yaml",
            "test_names/test_top.yaml",
            "shared/custom_name.yaml",
        ]
    )
    assert found == expected
    pytester.runpytest().assert_outcomes(passed=5)


# ---- record mode precedence ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "ini", "expected"),
    [
        ([], "", ["none", "once"]),
        ([], "new_episodes", ["new_episodes", "once"]),
        (["--agentops-record=all"], "new_episodes", ["all", "all"]),
        (["--agentops-record=rewrite"], "", ["rewrite", "rewrite"]),
    ],
    ids=["default", "ini", "cli-over-ini-and-marker", "cli"],
)
def test_record_mode_precedence_cli_marker_ini_default(
    pytester: pytest.Pytester, args: list[str], ini: str, expected: list[str]
) -> None:
    if ini:
        pytester.makeini(f"[pytest]\nagentops_record = {ini}\n")
    pytester.makepyfile(
        test_modes="""
import json, pathlib, pytest

def test_plain(agentops_cassette):
    pathlib.Path("plain.txt").write_text(agentops_cassette.mode)

@pytest.mark.agentops_cassette(record="once")
def test_marked(agentops_cassette):
    pathlib.Path("marked.txt").write_text(agentops_cassette.mode)
"""
    )
    pytester.runpytest(*args).assert_outcomes(passed=2)
    modes = [(pytester.path / f"{n}.txt").read_text() for n in ("plain", "marked")]
    assert modes == expected


def test_bad_record_settings_are_usage_errors(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x(agent_trace):\n    pass\n")
    result = pytester.runpytest("--agentops-record=sometimes")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*--agentops-record: invalid choice: 'sometimes'*"])
    pytester.makeini("[pytest]\nagentops_record = always\n")
    result = pytester.runpytest()
    assert result.ret == 4
    result.stderr.fnmatch_lines(
        ["*agentops_record = 'always' is not a record mode; use one of none, once, new_*"]
    )


def test_bad_marker_arguments_are_usage_errors(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_x="""
import pytest

@pytest.mark.agentops_cassette(record="sometimes")
def test_x(agent_trace):
    pass
"""
    )
    result = pytester.runpytest()
    assert result.ret == 4
    result.stderr.fnmatch_lines(
        ["*test_x.py::test_x: @pytest.mark.agentops_cassette: record='sometimes' is not a record*"]
    )


def test_cassettes_can_be_turned_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_x="""
import pytest

@pytest.mark.agentops_cassette(False)
def test_off(agentops_cassette, agent_trace):
    assert agentops_cassette is None

def test_on(agentops_cassette):
    assert agentops_cassette is not None
"""
    )
    pytester.runpytest().assert_outcomes(passed=2)
    pytester.runpytest("-o", "agentops_cassettes=false", "-k", "off").assert_outcomes(passed=1)


# ---- files: once, whole ------------------------------------------------------------------


def test_xdist_writes_each_cassette_once_and_whole(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = pytester.path / "writes.log"
    monkeypatch.setenv("WRITE_LOG", str(log))
    pytester.makepyfile(tools=TOOL)
    pytester.makeconftest(
        """
import os
import pytest_agentops.cassettes.storage as storage

_write = storage.atomic_write_text

def counting(path, text, **options):
    with open(os.environ["WRITE_LOG"], "a") as fh:
        fh.write(f"{os.getpid()} {path}\\n")
    return _write(path, text, **options)

storage.atomic_write_text = counting
"""
    )
    pytester.makepyfile(
        test_many="""
import pytest
from tools import lookup

@pytest.mark.parametrize("n", range(8))
def test_n(agent_trace, n):
    for i in range(50):
        lookup(f"ORD-{n}-{i}")
"""
    )
    result = pytester.runpytest_subprocess("-n", "2", "--agentops-record=once")
    result.assert_outcomes(passed=8)
    writes = [line.split(" ", 1) for line in log.read_text().splitlines()]
    paths = [path for _, path in writes]
    assert len(paths) == len(set(paths)) == 8
    assert len({pid for pid, _ in writes}) == 2  # both workers wrote
    for path in paths:
        tape = yaml.safe_load(Path(path).read_text())["agentops"]["tools"]
        assert len(tape) == 50
    assert not list((pytester.path / "cassettes").rglob("*.tmp"))
    pytester.runpytest_subprocess("-n", "2").assert_outcomes(passed=8)


def test_a_run_killed_while_writing_leaves_the_old_cassette_whole(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(tools=TOOL)
    pytester.makeconftest(
        """
import os, signal

if os.environ.get("DIE_ON_FSYNC"):
    _fsync = os.fsync

    def dying_fsync(fd):
        _fsync(fd)
        os.kill(os.getpid(), signal.SIGKILL)  # the cassette's data is on disk, not yet renamed

    os.fsync = dying_fsync
"""
    )
    pytester.makepyfile(
        test_agent="from tools import lookup\n\ndef test_call(agent_trace):\n    lookup('ORD-1')\n"
    )
    pytester.runpytest_subprocess("--agentops-record=once").assert_outcomes(passed=1)
    cassette = pytester.path / "cassettes" / "test_agent" / "test_call.yaml"
    before = cassette.read_text()

    monkeypatch.setenv("DIE_ON_FSYNC", "1")
    result = pytester.runpytest_subprocess("--agentops-record=rewrite")
    assert result.ret != 0  # killed
    monkeypatch.delenv("DIE_ON_FSYNC")
    assert cassette.read_text() == before
    leftovers = [p.name for p in cassette.parent.iterdir() if p != cassette]
    assert all(name.endswith(".tmp") for name in leftovers)
    pytester.runpytest_subprocess().assert_outcomes(passed=1)


def test_an_interrupted_test_keeps_the_old_cassette(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(tools=TOOL)
    pytester.makepyfile(
        test_agent="""
import os
from tools import lookup

def test_call(agent_trace):
    for order in ("ORD-1", "ORD-2", "ORD-3"):
        lookup(order)
        if os.environ.get("CTRL_C") and order == "ORD-1":
            raise KeyboardInterrupt  # Ctrl-C while the test re-records
"""
    )
    pytester.runpytest_subprocess("--agentops-record=once").assert_outcomes(passed=1)
    cassette = pytester.path / "cassettes" / "test_agent" / "test_call.yaml"
    before = cassette.read_text()
    assert before.count("name: lookup") == 3
    os.environ["CTRL_C"] = "1"
    try:
        result = pytester.runpytest_subprocess("--agentops-record=rewrite")
    finally:
        del os.environ["CTRL_C"]
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert cassette.read_text() == before  # not a partial recording of one call


def test_temporary_files_of_killed_writes_are_cleaned_and_modes_follow_the_umask(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(tools=TOOL)
    pytester.makepyfile(
        test_agent="from tools import lookup\n\ndef test_call(agent_trace):\n    lookup('ORD-1')\n"
    )
    folder = pytester.path / "cassettes" / "test_agent"
    folder.mkdir(parents=True)
    orphan = folder / ".test_call.yaml.k1ll3d.tmp"  # what a killed write leaves behind
    orphan.write_text("half a cassette")
    old = os.umask(0o022)
    try:
        pytester.runpytest_subprocess("--agentops-record=once").assert_outcomes(passed=1)
    finally:
        os.umask(old)
    assert not orphan.exists()
    assert sorted(p.name for p in folder.iterdir()) == ["test_call.yaml"]
    assert (folder / "test_call.yaml").stat().st_mode & 0o777 == 0o644


# ---- compressed responses --------------------------------------------------------------------

GZIP_SERVER = """
import gzip, json, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import pytest

REPLY = {"id": "chatcmpl-gz1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
         "choices": [{"index": 0, "message": {"role": "assistant", "content": "compressed hello"},
                      "finish_reason": "stop"}],
         "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}}

class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        body = gzip.compress(json.dumps(REPLY).encode())
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

@pytest.fixture
def base_url(agentops_cassette):
    if not agentops_cassette.recording:
        yield "http://127.0.0.1:9/v1"
        return
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()
    server.server_close()
"""


def test_compressed_responses_are_stored_decoded(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(GZIP_SERVER)
    pytester.makepyfile(
        test_gz="""
import asyncio, litellm

def ask(base_url, asynchronous):
    kwargs = dict(model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "hi"}],
                  api_base=base_url, api_key="k")
    if asynchronous:
        return asyncio.run(litellm.acompletion(**kwargs))
    return litellm.completion(**kwargs)

def test_sync(agent_trace, base_url):
    assert ask(base_url, False).choices[0].message.content == "compressed hello"

def test_async(agent_trace, base_url):
    assert ask(base_url, True).choices[0].message.content == "compressed hello"
"""
    )
    pytester.runpytest("--agentops-record=once").assert_outcomes(passed=2)
    for name in ("test_sync", "test_async"):
        data = yaml.safe_load(
            (pytester.path / "cassettes" / "test_gz" / f"{name}.yaml").read_text()
        )
        response = data["interactions"][0]["response"]
        assert json.loads(response["body"]["string"])["id"] == "chatcmpl-gz1"
        assert "content-encoding" not in {k.lower() for k in response["headers"]}
    pytester.runpytest().assert_outcomes(passed=2)


# ---- the network guard ------------------------------------------------------------------------


def test_replaying_tests_cannot_reach_llm_hosts(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_net="""
import socket, time

def test_replaying(agent_trace):
    t0 = time.perf_counter()
    try:
        socket.getaddrinfo("api.openai.com", 443)
    finally:
        assert time.perf_counter() - t0 < 1

def test_without_cassette():
    # not an agent test: nothing is blocked without --agentops-block-network
    assert socket.getaddrinfo("localhost", 80)
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "Network blocked: test_net.py::test_replaying tried to reach the LLM API at "
            "api.openai.com:443 while replaying its cassette.*"
        ]
    )


def test_block_network_allows_loopback_only(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_net="""
import socket, pytest
from pytest_agentops.errors import NetworkBlockedError

def test_outside():
    with pytest.raises(NetworkBlockedError, match="allows loopback only"):
        socket.create_connection(("192.0.2.1", 80), timeout=1)
    with pytest.raises(NetworkBlockedError):
        socket.getaddrinfo("example.com", 80)

def test_loopback():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    client = socket.create_connection(server.getsockname(), timeout=1)
    client.close()
    server.close()
"""
    )
    pytester.runpytest("--agentops-block-network").assert_outcomes(passed=2)
    pytester.makepyfile(
        test_net="""
import socket

def test_unblocked():
    # without the flag (and outside agent tests) the socket module is left alone
    assert socket.getaddrinfo.__module__ == "socket"
    assert socket.socket.connect.__qualname__ == "socket.connect"
"""
    )
    pytester.runpytest().assert_outcomes(passed=1)


def _load(path: Path) -> object:
    from types import SimpleNamespace

    from pytest_agentops.cassettes.storage import Persister, Serializer

    owner = SimpleNamespace(display_path=path.name, loaded_tools=[])
    return Persister(owner).load_cassette(str(path), Serializer)  # type: ignore[arg-type]


def test_every_broken_cassette_is_one_clear_error(tmp_path: Path) -> None:
    from vcr.persisters.filesystem import CassetteNotFoundError

    from pytest_agentops import CassetteFileError

    root = Path(__file__).resolve().parents[1]
    source = next((root / "cassettes" / "examples" / "test_support_agent").glob("*.yaml"))
    text = source.read_text()
    path = tmp_path / "broken.yaml"
    messages = []
    for cut in range(0, len(text), max(len(text) // 150, 1)):  # truncated anywhere
        path.write_text(text[:cut])
        try:
            _load(path)
        except (CassetteFileError, CassetteNotFoundError) as exc:  # nothing else escapes
            messages.append(str(exc))
    assert len(messages) > 100
    assert all(m == "" or m.startswith("broken.yaml") for m in messages), messages
    for where, value in [
        (("response", "status", "code"), [1, 2]),
        (("request", "method"), [1]),
        (("response", "status", "message"), {"a": 1}),
        (("response", "body", "string"), [1]),
        (("response", "body"), None),
        (("request", "headers", "accept"), []),  # vcrpy reads value[0]
        (("response", "headers", "content-type"), []),
    ]:
        bad = yaml.safe_load(text)
        target = bad["interactions"][0]
        for key in where[:-1]:
            target = target[key]
        if value is None:
            del target[where[-1]]
        else:
            target[where[-1]] = value
        path.write_text(yaml.safe_dump(bad))
        field = ".".join(where)
        with pytest.raises(
            CassetteFileError, match=rf"^broken\.yaml: interaction #1: field `{field}"
        ):
            _load(path)
    # what vcrpy would trip over but a hand-edited cassette may well say: no body, extra keys
    relaxed = yaml.safe_load(text)
    del relaxed["interactions"][0]["request"]["body"]
    relaxed["interactions"][0]["request"]["note"] = "edited by hand"
    path.write_text(yaml.safe_dump(relaxed))
    requests, _ = _load(path)
    assert requests[0].body is None


def test_block_network_message_for_a_test_without_cassette(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_net="""
import socket

def test_plain():
    socket.getaddrinfo("api.openai.com", 443)
"""
    )
    result = pytester.runpytest("--agentops-block-network")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "Network blocked: test_net.py::test_plain tried to reach the LLM API at "
            "api.openai.com:443 (--agentops-block-network allows loopback only).*"
        ]
    )
    assert "replaying its cassette" not in result.stdout.str()


# A name lookup that never leaves the machine: a live call reaching it is a guard failure.
FAKE_DNS = """
import socket

_real = socket.getaddrinfo

def _fake(host, *args, **kwargs):
    if host in ("localhost", "127.0.0.1", "::1"):
        return _real(host, *args, **kwargs)
    raise OSError(f"LIVE: {host} reached the name lookup")

socket.getaddrinfo = _fake
"""

LEAKY = """
import socket, threading
import pytest
from pytest_agentops.cassettes.guard import GUARD

seen = []
started, go, done = threading.Event(), threading.Event(), threading.Event()

def _later():
    go.wait(10)
    try:
        socket.getaddrinfo("api.openai.com", 443)
    except BaseException as exc:
        seen.append(str(exc))
    done.set()

def test_a_starts_a_thread(agent_trace):
    threading.Thread(target=_later, name="leaky", daemon=True).start()
    started.set()

def test_b_plain():
    if not started.is_set():
        return
    go.set()
    assert done.wait(10)
    print("THREAD:", seen[0])

def test_c_plain_call():
    socket.getaddrinfo("api.anthropic.com", 443)

@pytest.mark.agentops_live
def test_d_live():
    GUARD.check("api.openai.com", 443)  # let through
"""


def test_record_mode_none_holds_for_the_whole_session(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(FAKE_DNS)
    pytester.makepyfile(test_leak=LEAKY)
    result = pytester.runpytest("-s", "-p", "no:randomly")
    result.assert_outcomes(passed=3, failed=1)
    out = result.stdout.str()
    assert "LIVE" not in out
    result.stdout.fnmatch_lines(
        [
            "*THREAD: Network blocked: test_leak.py::test_b_plain (thread 'leaky': a thread an "
            "earlier test started may still run) tried to reach the LLM API at api.openai.com:443"
            " outside a recording.*",
            "*Network blocked: test_leak.py::test_c_plain_call tried to reach the LLM API at "
            "api.anthropic.com:443 outside a recording. In record mode `none` the session makes"
            " no live LLM call*agentops_live*agentops_session_guard = false*",
        ]
    )


@pytest.mark.parametrize(
    "how", [["--agentops-record=once"], ["-o", "agentops_session_guard=false"], ["-k", "not a_"]]
)
def test_the_session_guard_is_off_when_asked_or_unused(
    pytester: pytest.Pytester, how: list[str]
) -> None:
    # recording, the ini switch, or a session without any cassette test: calls go through
    pytester.makeconftest(FAKE_DNS)
    pytester.makepyfile(test_leak=LEAKY)
    result = pytester.runpytest("-s", "-p", "no:randomly", *how)
    assert "Network blocked" not in result.stdout.str()
    result.stdout.fnmatch_lines(["*LIVE: api.anthropic.com reached the name lookup*"])


def test_between_tests_a_blocked_call_is_a_connection_error() -> None:
    from pytest_agentops.cassettes.guard import GUARD
    from pytest_agentops.errors import NetworkBlockedError

    with (
        GUARD.applied("llm", "", None, why="session"),
        pytest.raises(NetworkBlockedError, match="code running between tests"),
    ):
        GUARD.check("api.openai.com", 443)
    GUARD.check("api.openai.com", 443)  # the policy before it: off
