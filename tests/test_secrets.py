"""Secrets never reach a written file: keys of every provider, by shape and by name, in every
place an agent puts data; cassettes, tool tapes, reports and dumped trajectories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_agentops import LLMCall, ToolCall, Trajectory
from pytest_agentops.redact import PLACEHOLDER, Redactor, env_secrets

# Fake, but shaped like the real thing.
SHAPED = {
    "openai": "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z",
    "anthropic": "sk-ant-api03-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb3dEf6h",
    "aws access key id": "AKIAIOSFODNN7EXAMPLE",
    "google": "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW",
    "hugging face": "hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    "groq": "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",
    "github": "ghp_Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb3d",
    "github fine-grained": "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
    "slack": "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    "stripe": "sk_live_Ab3dEf6hIj9kLm2nOp5qRs8t",
    "jwt": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
    "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
}
PRIVATE_KEY = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx7Abc123\nq9Zx+/=Ab12\n"
    "-----END RSA PRIVATE KEY-----"
)
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AZURE_KEY = "0123456789abcdef0123456789abcdef"
# Keys with no telling shape: known by the environment variables that hold them.
BY_NAME = {
    "AZURE_OPENAI_KEY": "4f1c0e2b9a7d4c3e8f6a5b2d1c0e9f8a",
    "GROQ_KEY": "groq-plain-value-123456",
    "MISTRAL_API_KEY": "mistralMistral0123456789abcdef",
    "CO_API_KEY": "cohereCohere0123456789abcdefABCDEF",
    "SERVICE_JWT": "opaque.jwt.value.0123456789",
    "PROXY_AUTH": "proxy-auth-value-98765",
}


@pytest.mark.parametrize("provider", sorted(SHAPED))
def test_keys_are_known_by_their_shape(provider: str) -> None:
    key = SHAPED[provider]
    text = Redactor().text(f'{{"note": "use {key} here", "k": "{key}"}}')
    assert key not in text
    assert text.count(PLACEHOLDER) == 2


def test_private_keys_and_named_secrets() -> None:
    r = Redactor()
    assert PRIVATE_KEY not in r.text(f"config:\n{PRIVATE_KEY}\nend")
    assert "MIIEow" not in r.text(f"config:\n{PRIVATE_KEY}\nend")
    # an AWS secret key: next to its access key id, or under its name
    assert AWS_SECRET not in r.text(f"AKIAIOSFODNN7EXAMPLE:{AWS_SECRET}")
    assert AWS_SECRET not in r.text(f'{{"aws_secret_access_key": "{AWS_SECRET}"}}')
    assert AWS_SECRET not in r.text(f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}")
    # an Azure key: 32 hex digits under a key's name; other hex (digests) stays
    assert AZURE_KEY not in r.text(f'{{"api-key": "{AZURE_KEY}"}}')
    assert AZURE_KEY not in r.text(f"azure_openai_api_key: {AZURE_KEY}")
    assert AZURE_KEY in r.text(f'{{"sha": "{AZURE_KEY}"}}')


def test_secret_environment_variables_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in BY_NAME.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HOME_DIRECTORY", "/home/not-a-secret")
    found = env_secrets()
    assert set(BY_NAME.values()) <= set(found)
    assert "/home/not-a-secret" not in found
    text = Redactor().text(" ".join(BY_NAME.values()))
    assert not any(value in text for value in BY_NAME.values())


def test_a_value_seen_in_an_auth_header_is_redacted_everywhere() -> None:
    first = Redactor()
    first.remember_headers({"Authorization": ["Bearer tok-learned-0123456789"]})
    # every redactor of the process knows it from then on (reports, later cassettes)
    assert Redactor().text("echo tok-learned-0123456789") == f"echo {PLACEHOLDER}"


def test_dump_redacts_unless_told_not_to(tmp_path: Path) -> None:
    key = SHAPED["openai"]
    traj = Trajectory(
        steps=[
            ToolCall(name="fetch", arguments={"token": key}, result={"echo": key}),
            LLMCall(model="m", output_message={"role": "assistant", "content": f"key {key}"}),
        ],
        output=f"key {key}",
    )
    path = tmp_path / "t.json"
    traj.dump(path)
    assert key not in path.read_text()
    assert PLACEHOLDER in path.read_text()
    traj.dump(path, redact=False)
    assert key in path.read_text()
    assert key in traj.dump(redact=False)
    assert key not in traj.dump()


def test_report_violations_and_verdicts_are_redacted(pytester: pytest.Pytester) -> None:
    key = SHAPED["anthropic"]
    pytester.makefile(
        ".yaml",
        policy="schema_version: 1\nname: p\nrules:\n  - {id: no-delete, forbid_tools: [delete]}\n",
    )
    pytester.makeconftest(
        f"""
from pytest_agentops import Verdict

def pytest_agentops_judge(request):
    return Verdict(criteria=request.criteria, score=1.0, passed=True, threshold=0.5,
                   reasoning="the answer quotes {key}", model="rules")
"""
    )
    pytester.makepyfile(
        test_agent=f"""
import pytest

@pytest.mark.agentops_policy("policy.yaml")
def test_violation(agent_trace):
    agent_trace.tool_call("delete", {{"api_key": "{key}"}})

def test_verdict(agent_trace, agent_judge):
    agent_trace.set_output("ok")
    assert agent_judge("some text", "polite")
"""
    )
    result = pytester.runpytest("--agentops-report=report.json")
    result.assert_outcomes(passed=1, failed=1)
    text = (pytester.path / "report.json").read_text()
    assert key not in text
    report = json.loads(text)
    tests = {t["nodeid"].split("::")[-1]: t for t in report["tests"]}
    assert tests["test_violation"]["violations"][0]["call"]["arguments"] == {"api_key": PLACEHOLDER}
    assert PLACEHOLDER in tests["test_verdict"]["verdicts"][0]["reasoning"]


# ---- the whole product, attacked: every key in every place, every written file scanned --------

#: Where the planted keys go (each is a place an agent puts data).
LOCATIONS = (
    "auth header",
    "other credential headers",
    "URL query",
    "request messages",
    "tool arguments",
    "tool results",
    "LLM output",
    "response headers",
    "final output",
    "violation arguments",
    "judge reasoning",
)

ECHO_CONFTEST = """
import json, os, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import pytest
from pytest_agentops import Verdict

def planted():
    return json.loads(os.environ["PLANTED"])

def named_text():
    # keys without a telling shape appear under their names, as agents and configs write them
    return " ".join(f"{name}={value}" for name, value in planted().items())

class Echo(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["content-length"]))
        message = {
            "role": "assistant",
            "content": "I saw " + named_text(),
            "tool_calls": [{"id": "c1", "type": "function", "function": {
                "name": "lookup", "arguments": json.dumps({"creds": planted()})}}],
        }
        data = json.dumps({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1,
            "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
        }).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("x-echo-key", planted()["openai"])
        self.send_header("set-cookie", "session=" + planted()["jwt"])
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass

@pytest.fixture
def base_url(agentops_cassette):
    if not agentops_cassette.recording:
        yield "http://127.0.0.1:9/v1"  # nothing listens: replay only
        return
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()
    server.server_close()

def pytest_agentops_judge(request):
    return Verdict(criteria=request.criteria, score=1.0, passed=True, threshold=0.5,
                   reasoning="the answer quotes " + named_text(), model="rules")
"""

ECHO_TEST = """
import json, os
import openai, pytest
from pytest_agentops import tool
from conftest import named_text, planted

KEYS = planted()
NAMED = {name: os.environ[name] for name in json.loads(os.environ["PLANTED_ENV"])}

@tool
def lookup(creds):
    return {"found": creds, "env": NAMED, "note": named_text()}

@pytest.mark.agentops_policy("policy.yaml")
@pytest.mark.agentops_judge("quotes no secret")
def test_agent(agent_trace, base_url):
    client = openai.OpenAI(
        api_key=KEYS["openai"], base_url=base_url, max_retries=0,
        default_headers={"x-api-key": KEYS["anthropic"], "api-key": KEYS["api-key"],
                         "x-goog-api-key": KEYS["google"]},
        default_query={"key": KEYS["google"]},
    )
    messages = [
        {"role": "system", "content": "config: " + named_text() + " " + " ".join(NAMED.values())},
        {"role": "user", "content": "call lookup with " + json.dumps(KEYS)},
    ]
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    call = reply.choices[0].message.tool_calls[0]
    result = lookup(**json.loads(call.function.arguments))
    agent_trace.tool_call("delete", {"creds": KEYS, "env": NAMED})  # breaks the policy
    agent_trace.set_output(reply.choices[0].message.content + json.dumps(result))
    agent_trace.trajectory.dump("dumped.json")
    agent_trace.trajectory.dump("dumped.yaml")
"""


def _planted() -> dict[str, str]:
    keys = {name.replace(" ", "_"): value for name, value in SHAPED.items()}
    keys["private_key"] = PRIVATE_KEY
    keys["aws_secret_access_key"] = AWS_SECRET
    keys["api-key"] = AZURE_KEY
    return keys


def test_no_planted_secret_reaches_any_written_file(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    planted = _planted()
    monkeypatch.setenv("PLANTED", json.dumps(planted))
    for name, value in BY_NAME.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PLANTED_ENV", json.dumps(sorted(BY_NAME)))
    pytester.makeconftest(ECHO_CONFTEST)
    pytester.makepyfile(test_agent=ECHO_TEST)
    pytester.makefile(
        ".yaml",
        policy="schema_version: 1\nname: p\nrules:\n  - {id: no-delete, forbid_tools: [delete]}\n",
    )
    secrets = [*planted.values(), *BY_NAME.values(), "MIIEowIBAAKCAQEAx7Abc123"]
    for mode in ("--agentops-record=once", "--agentops-record=none"):
        result = pytester.runpytest(
            mode,
            "--agentops-report=report.json",
            "--agentops-html=report.html",
            "-p",
            "no:cacheprovider",
        )
        result.assert_outcomes(failed=1)  # the policy violation, nothing else
        result.stdout.fnmatch_lines(["*no-delete*delete*"])
        written = [
            path
            for path in pytester.path.rglob("*")
            if path.is_file() and path.suffix != ".py" and "__pycache__" not in path.parts
        ]
        names = {path.name for path in written}
        assert {"test_agent.yaml", "report.json", "report.html", "dumped.json"} <= names
        assert "dumped.yaml" in names
        for path in written:
            if path.name == "policy.yaml":
                continue
            text = path.read_text()
            leaked = [s[:12] for s in secrets if s in text]
            assert not leaked, f"{path.relative_to(pytester.path)} holds {leaked}"
        assert not [s for s in secrets if s in result.stdout.str()]


def test_values_under_secret_names_are_redacted_in_documents() -> None:
    data = {
        "aws_secret_access_key": AWS_SECRET,
        "creds": {"api-key": AZURE_KEY, "AZURE_OPENAI_API_KEY": AZURE_KEY},
        "sha": "fedcba9876543210fedcba9876543210",  # a digest, not a key
        "keywords": "plain words here",
    }
    redacted = Redactor().value(data)
    assert redacted["aws_secret_access_key"] == PLACEHOLDER
    assert redacted["creds"] == {"api-key": PLACEHOLDER, "AZURE_OPENAI_API_KEY": PLACEHOLDER}
    assert redacted["sha"] == "fedcba9876543210fedcba9876543210"
    assert redacted["keywords"] == "plain words here"


def test_named_secrets_inside_json_encoded_strings() -> None:
    # a message whose content is JSON, inside a request body that is JSON again
    inner = json.dumps({"aws_secret_access_key": AWS_SECRET, "api-key": AZURE_KEY})
    outer = json.dumps({"messages": [{"role": "user", "content": inner}]})
    text = Redactor().text(outer)
    assert AWS_SECRET not in text
    assert AZURE_KEY not in text
    assert json.loads(json.loads(text)["messages"][0]["content"]) == {
        "aws_secret_access_key": PLACEHOLDER,
        "api-key": PLACEHOLDER,
    }


def test_no_secret_pattern_matches_fewer_characters_than_the_redactor_reads() -> None:
    """Redactor.text skips the patterns for strings shorter than _SHORTEST_MATCH."""
    try:
        from re import _parser  # type: ignore[attr-defined]
    except ImportError:  # Python 3.10
        import sre_parse as _parser

    from pytest_agentops import redact

    for pattern in (redact.API_KEY, redact._NAMED, redact._BEARER, redact._PRIVATE_KEY):
        shortest = _parser.parse(pattern.pattern, pattern.flags).getwidth()[0]
        assert shortest >= redact._SHORTEST_MATCH, pattern.pattern[:40]
    r = Redactor()
    assert r.text("xoxb-0123456789") == PLACEHOLDER  # the shortest there is: redacted
    assert r.text("Bearer abcdefgh") == f"Bearer {PLACEHOLDER}"


def test_a_secret_learned_after_a_test_ended_is_still_kept_out_of_the_reports(
    pytester: pytest.Pytester,
) -> None:
    """Entries are redacted when each test ends; a value learned from a credential header
    later in the run (here: by the second test) is removed from the first one's too."""
    token = "9f2c-local-proxy-credential-77aa"  # no telling shape: only known once seen
    pytester.makepyfile(
        test_agent=f"""
from pytest_agentops.redact import LEARNED

def test_first(agent_trace):
    agent_trace.tool_call("fetch", {{}}, result="the proxy takes {token}")

def test_second(agent_trace):
    LEARNED.add(["{token}"])  # what a request's Authorization header teaches
    agent_trace.tool_call("fetch", {{}}, result="nothing")
"""
    )
    result = pytester.runpytest(
        "--agentops-report=report.json", "--agentops-html=report.html", "-p", "no:randomly"
    )
    result.assert_outcomes(passed=2)
    for name in ("report.json", "report.html"):
        text = (pytester.path / name).read_text()
        assert token not in text, name
        assert "the proxy takes" in text


def test_a_secret_one_xdist_worker_learned_is_kept_out_of_another_workers_tests(
    pytester: pytest.Pytester,
) -> None:
    """The controller redacts each worker's tests again with what the others learned."""
    import json as _json
    from types import SimpleNamespace

    token = "5e1d-gateway-credential-90bc"
    config = pytester.parseconfigure("--agentops-report=report.json")
    session = config.pluginmanager.get_plugin("agentops-session")
    entry = {
        "nodeid": "test_a.py::test_a",
        "outcome": "passed",
        "trial": None,
        "trajectory": {"steps": [{"kind": "tool", "name": "fetch", "result": f"uses {token}"}]},
        "totals": {},
        "violations": [],
        "verdicts": [],
        "failure": None,
    }
    brief = {k: entry[k] for k in ("nodeid", "outcome", "trial", "totals")}
    brief.update(violations=[], verdicts=[], unpriced=[])
    saw_it = {"agentops": "[]", "agentops_tests": "", "agentops_learned": [token]}
    holds_it = {
        "agentops": _json.dumps([brief]),
        "agentops_tests": _json.dumps(entry),
        "agentops_learned": [],
    }
    session.pytest_testnodedown(SimpleNamespace(workeroutput=holds_it), None)
    session.pytest_testnodedown(SimpleNamespace(workeroutput=saw_it), None)
    session._redact_what_was_learned()
    (_, text), *_ = session.entries.values()
    assert token not in text
    assert f"uses {PLACEHOLDER}" in text
    config._ensure_unconfigure()
