"""Cassettes from the outside: record, then replay with the model server gone.

Every inner test module talks to ``FakeLLM`` (a scripted OpenAI-compatible server on
127.0.0.1) through one client: litellm sync/async/streaming over both async transports, or the
openai SDK directly.  The ``base_url`` fixture starts the server only when the cassette
records; when it replays, the client is pointed at a port where nothing listens.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from fake_model import CONFTEST, use_fake_model

KEY = "sk-test-SECRET0123456789abcdefXYZ"

HEADER = f"""
import asyncio, json, os, pathlib, time
import pytest
MODEL = "openai/gpt-4o-mini"
KEY = {KEY!r}

def ask(text):
    return [{{"role": "user", "content": text}}]

def save(name, value):
    pathlib.Path(name).write_text(json.dumps(value))
"""

CLIENTS = {
    "litellm_sync": """
def run(base_url, text):
    import litellm
    r = litellm.completion(model=MODEL, messages=ask(text), api_base=base_url, api_key=KEY)
    return r.choices[0].message.content
""",
    "litellm_async": """
def run(base_url, text):
    import litellm
    async def go():
        r = await litellm.acompletion(model=MODEL, messages=ask(text), api_base=base_url,
                                      api_key=KEY)
        return r.choices[0].message.content
    return asyncio.run(go())
""",
    "litellm_stream_sync": """
def run(base_url, text):
    import litellm
    r = litellm.completion(model=MODEL, messages=ask(text), api_base=base_url, api_key=KEY,
                           stream=True, stream_options={"include_usage": True})
    return "".join(c.choices[0].delta.content or "" for c in r if c.choices)
""",
    "litellm_stream_async": """
def run(base_url, text):
    import litellm
    async def go():
        r = await litellm.acompletion(model=MODEL, messages=ask(text), api_base=base_url,
                                      api_key=KEY, stream=True,
                                      stream_options={"include_usage": True})
        return "".join([c.choices[0].delta.content or "" async for c in r if c.choices])
    return asyncio.run(go())
""",
    "openai_sync": """
def run(base_url, text):
    import openai
    client = openai.OpenAI(base_url=base_url, api_key=KEY)
    r = client.chat.completions.create(model="gpt-4o-mini", messages=ask(text))
    return r.choices[0].message.content
""",
    "openai_async": """
def run(base_url, text):
    import openai
    async def go():
        client = openai.AsyncOpenAI(base_url=base_url, api_key=KEY)
        r = await client.chat.completions.create(model="gpt-4o-mini", messages=ask(text))
        return r.choices[0].message.content
    return asyncio.run(go())
""",
    "openai_stream": """
def run(base_url, text):
    import openai
    client = openai.OpenAI(base_url=base_url, api_key=KEY)
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=ask(text),
                                            stream=True, stream_options={"include_usage": True})
    return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
""",
}

TEST_CALL = """
def test_call(agent_trace, base_url):
    answer = run(base_url, os.environ.get("QUESTION", "Where is my order?"))
    llm = agent_trace.trajectory.llm_calls
    save("outcome.json", {"answer": answer, "llm_calls": len(llm),
                          "tokens": [c.input_tokens for c in llm],
                          "cost": [c.cost_usd for c in llm],
                          "response_ids": [c.response_id for c in llm],
                          "models": [c.model for c in llm]})
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    use_fake_model(pytester, monkeypatch)
    pytester.makeini("[pytest]\nfilterwarnings =\n    ignore::DeprecationWarning\n")
    return pytester


def _module(client: str, body: str = TEST_CALL) -> str:
    return HEADER + CLIENTS[client] + body


def _outcome(pytester: pytest.Pytester) -> dict:
    return json.loads((pytester.path / "outcome.json").read_text())


def _cassette(pytester: pytest.Pytester, module: str = "test_agent", name: str = "test_call"):
    return pytester.path / "cassettes" / module / f"{name}.yaml"


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_record_then_replay_with_the_server_gone(project: pytest.Pytester, client: str) -> None:
    project.makepyfile(test_agent=_module(client))
    project.runpytest("--agentops-record=once").assert_outcomes(passed=1)
    recorded = _outcome(project)
    cassette = _cassette(project)
    assert cassette.is_file()
    data = yaml.safe_load(cassette.read_text())
    assert data["version"] == 1
    assert len(data["interactions"]) == 1

    (project.path / "outcome.json").unlink()
    result = project.runpytest()  # default mode: none (replay only)
    result.assert_outcomes(passed=1)
    replayed = _outcome(project)
    assert replayed["answer"] == recorded["answer"] != ""
    # One LLM step per call, whichever layer saw it (litellm's callback, the wire, or both).
    assert replayed["llm_calls"] == recorded["llm_calls"] == 1
    assert replayed["tokens"][0] > 0
    assert replayed["cost"][0] > 0
    assert replayed["response_ids"] == recorded["response_ids"]
    assert replayed["response_ids"][0].startswith("chatcmpl-")


@pytest.mark.parametrize(
    ("record_env", "replay_env"),
    [("", "True"), ("True", "")],
    ids=["aiohttp-httpx", "httpx-aiohttp"],
)
def test_one_cassette_serves_both_async_transports(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, record_env: str, replay_env: str
) -> None:
    project.makepyfile(test_agent=_module("litellm_async"))
    monkeypatch.setenv("DISABLE_AIOHTTP_TRANSPORT", record_env)
    project.runpytest_subprocess("--agentops-record=once").assert_outcomes(passed=1)
    recorded = _outcome(project)
    monkeypatch.setenv("DISABLE_AIOHTTP_TRANSPORT", replay_env)
    project.runpytest_subprocess().assert_outcomes(passed=1)
    assert _outcome(project)["answer"] == recorded["answer"]


def test_secrets_never_reach_the_cassette(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_secret = "env-secret-value-4242"
    monkeypatch.setenv("MY_SERVICE_TOKEN", env_secret)
    project.makepyfile(
        test_agent=_module("openai_sync")
        + f"""
def test_more(agent_trace, base_url):
    import httpx
    body = {{"model": "gpt-4o-mini", "messages": ask("my key is {KEY}, token {env_secret}")}}
    httpx.post(base_url + "/chat/completions?api_key={KEY}&x=1", json=body,
               headers={{"x-api-key": "another-secret-123456", "Cookie": "session=abcdef123456"}})
"""
    )
    project.runpytest("--agentops-record=once").assert_outcomes(passed=2)
    texts = [_cassette(project, name=n).read_text() for n in ("test_call", "test_more")]
    for text in texts:
        for secret in (KEY, env_secret, "another-secret-123456", "abcdef123456", "Bearer"):
            assert secret not in text
        assert not re.search(r"(?im)^\s*(authorization|x-api-key|cookie):", text)
    assert "<REDACTED>" in texts[1]
    assert "x=1" in texts[1]
    # What was redacted still matches on replay.
    project.runpytest().assert_outcomes(passed=2)


def test_a_miss_fails_at_once_naming_the_request_and_the_fix(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = TEST_CALL.replace(
        '    answer = run(base_url, os.environ.get("QUESTION", "Where is my order?"))',
        """    import openai

    # warm openai's lazy imports before the clock starts: only the miss is timed
    openai.OpenAI(base_url=base_url, api_key=KEY).chat.completions.create

    t0 = time.perf_counter()
    try:
        answer = run(base_url, os.environ.get("QUESTION", "Where is my order?"))
    finally:
        save("elapsed.json", time.perf_counter() - t0)""",
    )
    project.makepyfile(test_agent=_module("openai_sync", body))
    project.runpytest("--agentops-record=once").assert_outcomes(passed=1)
    monkeypatch.setenv("QUESTION", "Where is my other order?")
    result = project.runpytest()
    result.assert_outcomes(failed=1)
    elapsed = json.loads((project.path / "elapsed.json").read_text())
    assert elapsed < 1.0  # no retries, no backoff sleeps
    result.stdout.fnmatch_lines(
        [
            "Cassette miss: POST http://127.0.0.1/v1/chat/completions (model gpt-4o-mini, "
            "1 message, digest *) is not in cassettes/test_agent/test_call.yaml.",
            "Closest recorded request: #1 of 1 (not played yet): POST http://127.0.0.1/v1/chat/"
            "completions (model gpt-4o-mini, 1 message, digest *)",
            '  differs in messages[[]0[]].content: recorded "Where is my order?", '
            'now "Where is my other order?"',
            "Re-run with --agentops-record=new_episodes to add it (this calls the real model), "
            "or --agentops-record=rewrite to record the whole test again.",
        ]
    )
    # the line of the agent that made the request
    result.stdout.fnmatch_lines(
        [
            "Cassette miss: *",
            "Requested at test_agent.py:* in run: "
            'r = client.chat.completions.create(model="gpt-4o-mini", messages=ask(text))',
        ]
    )
    assert "Connection error" not in result.stdout.str()
    assert "Traceback" not in result.stdout.str()
    # The README shows this very output.
    lines = result.stdout.lines
    start = next(i for i, line in enumerate(lines) if line.startswith("Cassette miss:"))
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    excerpt = re.search(r"<!-- readme-test: miss-output -->\s*```text\n(.*?)```", readme, re.S)
    assert excerpt, "README.md lacks the miss-output excerpt"
    shown = excerpt.group(1).strip().splitlines()
    assert shown == lines[start : start + len(shown)], "\n".join(lines[start : start + 5])


@pytest.mark.parametrize("client", ["litellm_sync", "litellm_async"])
def test_no_cassette_says_how_to_record_it(project: pytest.Pytester, client: str) -> None:
    project.makepyfile(test_agent=_module(client))
    result = project.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "Cassette miss: POST http://127.0.0.1/v1/chat/completions * is not in "
            "cassettes/test_agent/test_call.yaml.",
            "No cassette for test_agent.py::test_call (looked in cassettes/test_agent/"
            "test_call.yaml). Re-run with --agentops-record=once to record it (this calls the "
            "real model).",
        ]
    )
    assert not _cassette(project).exists()


def test_a_swallowed_miss_still_fails_the_test(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_agent=_module(
            "litellm_sync",
            """
def test_call(agent_trace, base_url):
    try:
        run(base_url, "hello")
    except BaseException:
        pass  # an agent that hides every error
""",
        )
    )
    result = project.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["Cassette miss: *", "(The test went on after this error: the agent caught it.)"]
    )


def test_identical_requests_replay_in_recorded_order(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_agent=_module(
            "openai_sync",
            """
COUNT = {"n": 0}

def test_call(agent_trace, base_url, agentops_cassette):
    import httpx
    answers = []
    for _ in range(3):
        answers.append(run(base_url, "Where is my order?"))
    save("outcome.json", answers)
""",
        )
    )
    project.runpytest("--agentops-record=once").assert_outcomes(passed=1)
    assert len(yaml.safe_load(_cassette(project).read_text())["interactions"]) == 3
    project.runpytest().assert_outcomes(passed=1)
    # A fourth identical request would be a miss: recordings are used once each.
    project.makepyfile(
        test_agent=_module(
            "openai_sync",
            """
def test_call(agent_trace, base_url):
    for _ in range(4):
        run(base_url, "Where is my order?")
""",
        )
    )
    result = project.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "Closest recorded request: #* of 3 (already played): *",
            "  differs in already played: the test makes this request more often than recorded",
        ]
    )


def test_rewrite_replaces_and_new_episodes_adds(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.makepyfile(test_agent=_module("litellm_sync"))
    monkeypatch.setenv("QUESTION", "first question")
    project.runpytest("--agentops-record=once").assert_outcomes(passed=1)
    cassette = _cassette(project)

    def questions() -> list[str]:
        data = yaml.safe_load(cassette.read_text())
        return [
            json.loads(i["request"]["body"])["messages"][0]["content"] for i in data["interactions"]
        ]

    assert questions() == ["first question"]
    monkeypatch.setenv("QUESTION", "second question")
    project.runpytest("--agentops-record=once").assert_outcomes(failed=1)  # once: no overwrite
    project.runpytest("--agentops-record=new_episodes").assert_outcomes(passed=1)
    assert questions() == ["first question", "second question"]
    monkeypatch.setenv("QUESTION", "third question")
    project.runpytest("--agentops-record=rewrite").assert_outcomes(passed=1)
    assert questions() == ["third question"]
    project.runpytest().assert_outcomes(passed=1)


def test_http_capture_records_raw_sdk_calls_once_each(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_agent=HEADER
        + CLIENTS["openai_sync"].replace("def run", "def run_openai")
        + CLIENTS["litellm_sync"].replace("def run", "def run_litellm")
        + """
def test_call(agent_trace, base_url):
    run_openai(base_url, "Where is my order?")
    run_litellm(base_url, "Where is my order, please?")
    traj = agent_trace.trajectory
    save("outcome.json", [c.model_dump(mode="json") for c in traj.llm_calls])
"""
    )
    project.runpytest("--agentops-record=once").assert_outcomes(passed=1)
    for run in range(2):
        calls = _outcome(project)
        assert len(calls) == 2, calls
        raw, via_litellm = calls
        assert raw["provider"] == "openai"
        assert raw["input_messages"] == [{"role": "user", "content": "Where is my order?"}]
        assert raw["output_message"]["content"]
        assert raw["input_tokens"] > 0
        assert raw["output_tokens"] > 0
        assert raw["cost_usd"] > 0
        assert via_litellm["input_messages"][0]["content"] == "Where is my order, please?"
        assert raw["response_id"] != via_litellm["response_id"]
        if run == 0:
            project.runpytest().assert_outcomes(passed=1)


def test_corrupt_cassette_is_a_clear_error(project: pytest.Pytester) -> None:
    project.makepyfile(test_agent=_module("litellm_sync"))
    cassette = _cassette(project)
    cassette.parent.mkdir(parents=True)
    cassette.write_text("interactions:\n- request: [unclosed\n")
    result = project.runpytest()
    result.assert_outcomes(errors=1)  # the cassette is set up before the test runs
    result.stdout.fnmatch_lines(
        [
            "cassettes/test_agent/test_call.yaml (line *): not a valid YAML cassette: *. Delete "
            "it and record it again with --agentops-record=rewrite."
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_cassette_of_another_version_is_a_clear_error(project: pytest.Pytester) -> None:
    project.makepyfile(test_agent=_module("litellm_sync"))
    project.runpytest("--agentops-record=once").assert_outcomes(passed=1)
    cassette = _cassette(project)
    text = cassette.read_text()
    assert text.startswith("version: 1\n")
    cassette.write_text(text.replace("version: 1\n", "version: 2\n", 1))
    result = project.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "cassettes/test_agent/test_call.yaml: field `version`: this file is version 2, "
            "but this pytest-agentops reads version 1. Upgrade pytest-agentops *, or delete the "
            "cassette and record it again with --agentops-record=rewrite."
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_redact_hook_runs_before_saving(project: pytest.Pytester) -> None:
    project.makeconftest(
        CONFTEST
        + """
def pytest_agentops_redact(interaction):
    if interaction is not None:
        body = interaction["response"]["body"]
        body["string"] = body["string"].replace("fp_fake_llm", "fp_hidden")
        headers = interaction["response"]["headers"]
        for name in [n for n in headers if n.lower() == "server"]:
            del headers[name]
"""
    )
    project.makepyfile(test_agent=_module("openai_sync"))
    project.runpytest("--agentops-record=once").assert_outcomes(passed=1)
    text = _cassette(project).read_text()
    assert "fp_hidden" in text
    assert "fp_fake_llm" not in text
    assert "BaseHTTP" not in text


def test_reports_are_redacted_too(project: pytest.Pytester) -> None:
    project.makeconftest(
        CONFTEST
        + """
def pytest_agentops_redact(trajectory):
    if trajectory is not None:
        trajectory.metadata["redacted_by_hook"] = True
"""
    )
    project.makepyfile(
        test_agent=f"""
def test_agent(agent_trace):
    agent_trace.tool_call("login", {{"token": {KEY!r}}}, result="ok")
"""
    )
    project.runpytest("--agentops-report=report.json").assert_outcomes(passed=1)
    text = (project.path / "report.json").read_text()
    assert KEY not in text
    trajectory = json.loads(text)["tests"][0]["trajectory"]
    assert trajectory["steps"][0]["arguments"] == {"token": "<REDACTED>"}
    assert trajectory["metadata"] == {"redacted_by_hook": True}


def test_a_stream_without_usage_says_how_to_get_tokens(project: pytest.Pytester) -> None:
    client = """
def run(base_url, text):
    import openai
    client = openai.OpenAI(base_url=base_url, api_key=KEY)
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=ask(text), stream=True)
    return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
"""
    project.makepyfile(test_agent=HEADER + client + TEST_CALL)
    result = project.runpytest("--agentops-record=once")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "*a streamed chat completion (gpt-4o-mini) carried no usage: its tokens and cost are "
            "unknown. Ask for them: stream_options={'include_usage': True}*"
        ]
    )
    assert _outcome(project)["tokens"] == [0]


def test_a_cassette_never_runs_code_whatever_vcrpy_loads_with(
    project: pytest.Pytester,
) -> None:
    # vcrpy 6.0-8.1 loaded cassettes with PyYAML's unsafe loader: play that vcrpy here.
    project.makeconftest(
        CONFTEST
        + """
import yaml
import vcr.serializers.yamlserializer as vcr_yaml

vcr_yaml.deserialize = lambda text: yaml.load(text, Loader=yaml.UnsafeLoader)
"""
    )
    project.makepyfile(test_agent=_module("litellm_sync"))
    cassette = _cassette(project)
    cassette.parent.mkdir(parents=True)
    cassette.write_text(
        "version: 1\ninteractions:\n"
        "- request: !!python/object/apply:os.system ['echo pwned > pwned.txt']\n"
        "  response: {status: {code: 200, message: OK}, headers: {}, body: {string: ''}}\n"
    )
    result = project.runpytest()
    result.assert_outcomes(errors=1)
    assert not (project.path / "pwned.txt").exists()
    result.stdout.fnmatch_lines(
        [
            "cassettes/test_agent/test_call.yaml (line 3): YAML tag "
            "'!!python/object/apply:os.system' is not allowed in a cassette*"
        ]
    )


def test_a_key_seen_in_a_later_request_header_is_redacted_everywhere(
    project: pytest.Pytester,
) -> None:
    token = "tok-issued-by-a-tool-0123456789"
    project.makepyfile(
        test_agent=HEADER
        + f"""
from pytest_agentops import tool

@tool
def issue_token():
    return {{"token": {token!r}}}  # recorded in the tool tape before any request uses it

def test_call(agent_trace, base_url):
    import openai
    key = issue_token()["token"]
    client = openai.OpenAI(base_url=base_url, api_key=key)
    client.chat.completions.create(model="gpt-4o-mini", messages=ask("Where is my order?"))
"""
    )
    project.runpytest("--agentops-record=once").assert_outcomes(passed=1)
    text = _cassette(project).read_text()
    assert token not in text
    assert "token: <REDACTED>" in text
