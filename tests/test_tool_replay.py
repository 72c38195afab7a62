"""``@tool`` results stored with the cassette and replayed: side effects happen once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

TOOLS = """
import json, pathlib
import pytest
from pytest_agentops import tool

def effects():
    path = pathlib.Path("effects.log")
    return path.read_text().splitlines() if path.exists() else []

def effect(line):
    with open("effects.log", "a") as fh:
        fh.write(line + "\\n")

@tool
def charge(customer, amount):
    effect(f"charge {customer} {amount}")
    return {"charged": amount, "customer": customer, "receipt": f"R-{len(effects())}"}

@tool
def lookup(order_id):
    effect(f"lookup {order_id}")
    if order_id == "missing":
        raise KeyError(f"no order {order_id}")
    if order_id == "bad":
        raise ValueError("order ids look like ORD-1234")
    return {"order_id": order_id, "status": "shipped"}

@tool(replay=False)
def now():
    effect("now")
    return "always real"

class Thing:
    def __init__(self, x):
        self.x = x

@tool
def make_thing():
    effect("thing")
    return Thing(1)
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(tools=TOOLS)
    return pytester


def _effects(pytester: pytest.Pytester) -> list[str]:
    path = pytester.path / "effects.log"
    lines = path.read_text().splitlines() if path.exists() else []
    path.unlink(missing_ok=True)
    return lines


def _tape(pytester: pytest.Pytester, name: str = "test_agent") -> dict:
    text = (pytester.path / "cassettes" / "test_agent" / f"{name}.yaml").read_text()
    return yaml.safe_load(text)["agentops"]


def test_recorded_results_replay_without_running_the_tool(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_agent="""
import json, pathlib
from tools import charge, lookup

def test_agent(agent_trace):
    out = [lookup("ORD-1"), charge("C1", 20), charge("C1", 20), lookup(order_id="ORD-2")]
    pathlib.Path("out.json").write_text(json.dumps(out))
    assert agent_trace.trajectory.tool_names == ["lookup", "charge", "charge", "lookup"]
"""
    )
    project.runpytest("--agentops-record=once").assert_outcomes(passed=1)
    recorded = json.loads((project.path / "out.json").read_text())
    assert _effects(project) == ["lookup ORD-1", "charge C1 20", "charge C1 20", "lookup ORD-2"]
    tape = _tape(project)
    assert tape["schema_version"] == 1
    assert [t["name"] for t in tape["tools"]] == ["lookup", "charge", "charge", "lookup"]
    # identical calls keep their own results, in order
    assert [t["result"].get("receipt") for t in tape["tools"][1:3]] == ["R-2", "R-3"]

    project.runpytest().assert_outcomes(passed=1)
    assert _effects(project) == []  # nothing ran for real
    assert json.loads((project.path / "out.json").read_text()) == recorded


def test_recorded_exceptions_replay_with_their_type(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_agent="""
import pytest
from tools import lookup

def test_agent(agent_trace):
    with pytest.raises(KeyError):
        lookup("missing")
    with pytest.raises(ValueError, match="order ids look like ORD-1234"):
        lookup("bad")
    errors = [c.error for c in agent_trace.trajectory.tool_calls]
    assert errors == ["KeyError: 'no order missing'", "ValueError: order ids look like ORD-1234"]
"""
    )
    project.runpytest("--agentops-record=once").assert_outcomes(passed=1)
    assert len(_effects(project)) == 2
    project.runpytest().assert_outcomes(passed=1)
    assert _effects(project) == []


def test_an_unrecorded_tool_call_fails_clearly(project: pytest.Pytester) -> None:
    project.makepyfile(test_agent="from tools import lookup\n\ndef test_agent(agent_trace):\n"
                       "    lookup('ORD-1')\n")  # fmt: skip
    project.runpytest("--agentops-record=once").assert_outcomes(passed=1)
    project.makepyfile(test_agent="from tools import lookup\n\ndef test_agent(agent_trace):\n"
                       "    lookup('ORD-9')\n")  # fmt: skip
    result = project.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "Tool call not recorded: lookup(order_id='ORD-9') is not in "
            "cassettes/test_agent/test_agent.yaml.",
            "Recorded and not replayed yet: lookup(order_id='ORD-1')",
            "Re-run with --agentops-record=new_episodes to record it (this runs the real tool), "
            "or let this tool run for real: @tool(replay=False), or "
            "@pytest.mark.agentops_cassette(real_tools=['lookup']).",
        ]
    )
    result.stdout.fnmatch_lines(
        ["Tool call not recorded: *", "Called at test_agent.py:4 in test_agent: lookup('ORD-9')"]
    )
    assert _effects(project) == ["lookup ORD-1"]  # the recording run only
    project.runpytest("--agentops-record=new_episodes").assert_outcomes(passed=1)
    assert [t["arguments"] for t in _tape(project)["tools"]] == [
        {"order_id": "ORD-1"},
        {"order_id": "ORD-9"},
    ]
    project.runpytest().assert_outcomes(passed=1)


def test_tools_can_be_opted_out(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_agent="""
import pytest
from tools import charge, lookup, now

@pytest.mark.agentops_cassette(real_tools=["charge"])
def test_agent(agent_trace):
    lookup("ORD-1")
    charge("C1", 5)
    assert now() == "always real"
"""
    )
    project.runpytest("--agentops-record=once").assert_outcomes(passed=1)
    assert [t["name"] for t in _tape(project)["tools"]] == ["lookup"]
    _effects(project)
    project.runpytest().assert_outcomes(passed=1)
    assert _effects(project) == ["charge C1 5", "now"]


def test_replay_can_be_turned_off_per_test_and_by_ini(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_agent="""
import pytest
from tools import lookup

@pytest.mark.agentops_cassette(replay_tools=False)
def test_marker(agent_trace):
    lookup("ORD-1")

def test_plain(agent_trace):
    lookup("ORD-2")
"""
    )
    project.runpytest("--agentops-record=once", "-o", "agentops_replay_tools=false")
    assert not (project.path / "cassettes").exists()  # nothing recorded: no file
    assert _effects(project) == ["lookup ORD-1", "lookup ORD-2"]
    project.runpytest().assert_outcomes(passed=2)  # no cassette, no HTTP: tools run for real
    assert _effects(project) == ["lookup ORD-1", "lookup ORD-2"]


def test_results_that_are_not_json_run_for_real_on_replay(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_agent="from tools import make_thing\n\ndef test_agent(agent_trace):\n"
        "    assert make_thing().x == 1\n"
    )
    result = project.runpytest("--agentops-record=once")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*@tool make_thing returned a Thing, which is not JSON data*"])
    assert _tape(project)["tools"][0]["replayable"] is False
    _effects(project)
    project.runpytest().assert_outcomes(passed=1)
    assert _effects(project) == ["thing"]


def test_async_tools_replay_too(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_agent="""
import asyncio
from pytest_agentops import tool
from tools import effect

@tool
async def fetch(url):
    effect("fetch " + url)
    return {"url": url, "size": 3}

def test_agent(agent_trace):
    async def main():
        return await asyncio.gather(fetch("a"), fetch("b"))
    assert [r["url"] for r in asyncio.run(main())] == ["a", "b"]
"""
    )
    project.runpytest("--agentops-record=once").assert_outcomes(passed=1)
    assert sorted(_effects(project)) == ["fetch a", "fetch b"]
    project.runpytest().assert_outcomes(passed=1)
    assert _effects(project) == []


def test_tool_tape_keeps_secrets_out(project: pytest.Pytester) -> None:
    secret = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"
    project.makepyfile(
        test_agent=f"""
from pytest_agentops import tool

@tool
def call_api(token):
    return {{"echo": token}}

def test_agent(agent_trace):
    assert call_api({secret!r}) == {{"echo": {secret!r}}}
"""
    )
    project.runpytest("--agentops-record=once").assert_outcomes(passed=1)
    text = Path(project.path / "cassettes" / "test_agent" / "test_agent.yaml").read_text()
    assert secret not in text
    assert "<REDACTED>" in text


def test_arguments_that_are_not_data_are_left_out_of_the_replay_key(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        test_agent="""
from pytest_agentops import tool

class Session:  # repr differs every run (an address)
    pass

@tool
def fetch(session, order_id):
    return {"order_id": order_id}

def test_agent(agent_trace):
    assert fetch(Session(), "A1") == {"order_id": "A1"}
    assert fetch(Session(), "A2") == {"order_id": "A2"}
"""
    )
    result = project.runpytest("--agentops-record=once")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(
        ["*@tool fetch: argument 'session' is a Session, not JSON data: it is left out*"]
    )
    assert [t["arguments"] for t in _tape(project)["tools"]] == [
        {"order_id": "A1"},
        {"order_id": "A2"},
    ]
    project.runpytest().assert_outcomes(passed=1, warnings=1)  # replayed: no miss


def test_results_that_cannot_be_json_warn_and_run_for_real(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_agent="""
from pytest_agentops import tool

@tool
def make_loop():
    loop = []
    loop.append(loop)
    return loop

def test_agent(agent_trace):
    assert make_loop()[0][0] is not None
"""
    )
    result = project.runpytest("--agentops-record=once")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*@tool make_loop returned a list, which is not JSON data*"])


FROZEN = """
from pytest_agentops import tool

@tool
def status(order_id):
    return {"order_id": order_id, "status": "shipped"}
"""


def test_a_tool_whose_code_changed_since_recording_is_reported(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(frozen=FROZEN)
    project.makepyfile(
        test_agent="from frozen import status\n\ndef test_agent(agent_trace):\n"
        "    assert status('A1')['status'] == 'shipped'\n"
    )
    project.runpytest("--agentops-record=once").assert_outcomes(passed=1)
    # a comment, a docstring, formatting: the same code, nothing to say
    project.makepyfile(
        frozen=FROZEN.replace(
            "def status(order_id):\n", 'def status(order_id):  # note\n    """Doc."""\n'
        )
    )
    project.runpytest("-W", "error::pytest_agentops.AgentopsWarning").assert_outcomes(passed=1)
    # the body changed: the replayed result may be stale
    project.makepyfile(frozen=FROZEN.replace('"shipped"', '"lost"'))
    result = project.runpytest()
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "*the code of @tool status changed since its results were recorded in "
            "cassettes/test_agent/test_agent.yaml*--agentops-record=rewrite*"
        ]
    )
    result = project.runpytest("--agentops-strict-tools")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the code of @tool status changed*--agentops-strict-tools*"])
    project.makeini("[pytest]\nagentops_strict_tools = true\n")
    project.runpytest().assert_outcomes(failed=1)
    project.runpytest("--agentops-record=rewrite").assert_outcomes(failed=1)  # 'lost' now
