"""Case files are tests: a promoted incident replays offline (no model server, no API key),
fails against the buggy agent and passes once the code is fixed; divergence, expectations,
the entry point's usage errors, async agents."""

from __future__ import annotations

import json

import pytest

from pytest_agentops.cases.promote import promote

#: The incident: a $249 refund without a manager's approval (OpenAI chat messages).
INCIDENT = [
    {"role": "system", "content": "You are the shop's support agent."},
    {"role": "user", "content": "Please refund $249 for ORD-7, it arrived broken."},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {
                    "name": "refund",
                    "arguments": json.dumps({"order_id": "ORD-7", "amount": 249}),
                },
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": '{"status": "refunded"}'},
    {"role": "assistant", "content": "Done: $249 refunded for ORD-7."},
]

POLICY = """\
schema_version: 1
name: refunds
rules:
  - id: refund-approval
    require_before:
      tool: refund
      when: {args.amount: {gt: 100}}
      first: request_manager_approval
      same_args: [order_id]
"""

#: The agent: a tool loop on the openai SDK.  FIXED=False is the production code of the
#: incident (it runs whatever the model asks); FIXED=True asks a manager first for big refunds.
AGENT = """
import json
import os

import openai
from pytest_agentops import tool

FIXED = {fixed}
CALLS_PER_TURN = {calls}

@tool
def refund(order_id, amount):
    raise RuntimeError("the real refund must not run in a replay")

@tool
def request_manager_approval(order_id, amount):
    return {{"approved": True, "order_id": order_id}}

TOOLS = {{"refund": refund, "request_manager_approval": request_manager_approval}}
SCHEMA = [
    {{"type": "function", "function": {{"name": name, "parameters": {{"type": "object"}}}}}}
    for name in TOOLS
]

def run(question):
    client = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="not-needed", max_retries=0)
    messages = [{{"role": "user", "content": question}}]
    for _ in range(CALLS_PER_TURN):
        reply = client.chat.completions.create(
            model="gpt-4o-mini", messages=messages, tools=SCHEMA
        ).choices[0].message
        messages.append(reply.model_dump(exclude_none=True))
        if not reply.tool_calls:
            return reply.content
        for call in reply.tool_calls:
            args = json.loads(call.function.arguments)
            if FIXED and call.function.name == "refund" and args["amount"] > 100:
                request_manager_approval(args["order_id"], args["amount"])
            result = TOOLS[call.function.name](**args)
            content = json.dumps(result)
            messages.append({{"role": "tool", "tool_call_id": call.id, "content": content}})
    return "gave up"
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    pytester.makeini("[pytest]\nagentops_agent = shop_agent:run\n")
    (pytester.path / "policies").mkdir()
    (pytester.path / "policies" / "refunds.yaml").write_text(POLICY)
    incident = pytester.path / "incident.json"
    incident.write_text(json.dumps(INCIDENT))
    promote(
        str(incident),
        "refund-without-approval",
        out=pytester.path / "tests" / "agent_cases",
        policies=[str(pytester.path / "policies" / "refunds.yaml")],
        forbid_tools=["delete_account"],
    )
    return pytester


def agent(project: pytest.Pytester, *, fixed: bool, calls: int = 8) -> None:
    project.makepyfile(shop_agent=AGENT.format(fixed=fixed, calls=calls))


def test_the_case_fails_on_the_buggy_agent_and_passes_on_the_fixed_one(
    project: pytest.Pytester,
) -> None:
    agent(project, fixed=False)
    result = project.runpytest("-p", "no:randomly", "--agentops")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*refund-without-approval*",
            "*the incident's rules broken again: refund-approval*",
            "*[[]refund-approval[]]*refund(order_id='ORD-7', amount=249)*",
            "*the agent repeated the incident: the same tool calls with the same arguments*",
        ]
    )
    agent(project, fixed=True)
    result = project.runpytest("-p", "no:randomly", "--agentops", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["*tests/agent_cases/refund-without-approval.case.yaml::refund-without-approval PASSED*"]
    )


def test_a_case_is_selected_by_its_name_and_reported(project: pytest.Pytester) -> None:
    agent(project, fixed=True)
    report = project.path / "report.json"
    result = project.runpytest("-p", "no:randomly", "-k", "approval", f"--agentops-report={report}")
    result.assert_outcomes(passed=1)
    (entry,) = json.loads(report.read_text())["tests"]
    assert entry["nodeid"].endswith("::refund-without-approval")
    tools = [s["name"] for s in entry["trajectory"]["steps"] if s["kind"] == "tool"]
    assert tools == ["request_manager_approval", "refund"]
    assert project.runpytest("-p", "no:randomly", "-k", "nothing").ret == 5


def test_an_agent_that_asks_more_than_the_incident_diverged(project: pytest.Pytester) -> None:
    project.makepyfile(
        shop_agent="""
import openai

def run(question):
    client = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="x", max_retries=0)
    for _ in range(3):
        messages = [{"role": "user", "content": question}]
        client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    return "done"
"""
    )
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*the agent diverged from the incident after step 3: it made LLM call #3, and the "
            "incident * has 2.*--agentops-record=once*"
        ]
    )


def test_an_async_agent_is_awaited_and_streams_are_answered(project: pytest.Pytester) -> None:
    project.makepyfile(
        shop_agent="""
import json
import openai
from pytest_agentops import tool

@tool
def refund(order_id, amount):
    return {"status": "refunded"}

@tool
async def request_manager_approval(order_id, amount):
    return {"approved": True}

async def run(question):
    client = openai.AsyncOpenAI(base_url="http://127.0.0.1:9/v1", api_key="x", max_retries=0)
    messages = [{"role": "user", "content": question}]
    while True:
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", messages=messages, stream=True,
            stream_options={"include_usage": True})
        content, calls = "", {}
        async for chunk in stream:
            for choice in chunk.choices:
                content += choice.delta.content or ""
                for call in choice.delta.tool_calls or []:
                    slot = calls.setdefault(call.index, {"id": call.id, "name": "", "args": ""})
                    slot["name"] += call.function.name or ""
                    slot["args"] += call.function.arguments or ""
        if not calls:
            return content
        messages.append({"role": "assistant", "tool_calls": [
            {"id": c["id"], "type": "function",
             "function": {"name": c["name"], "arguments": c["args"]}}
            for c in calls.values()]})
        for c in calls.values():
            args = json.loads(c["args"])
            if args["amount"] > 100:
                await request_manager_approval(**args)
            content = json.dumps(refund(**args))
            messages.append({"role": "tool", "tool_call_id": c["id"], "content": content})
"""
    )
    report = project.path / "report.json"
    project.runpytest("-p", "no:randomly", f"--agentops-report={report}").assert_outcomes(passed=1)
    (entry,) = json.loads(report.read_text())["tests"]
    llm = [s for s in entry["trajectory"]["steps"] if s["kind"] == "llm"]
    assert [s["output_message"]["content"] for s in llm][-1] == "Done: $249 refunded for ORD-7."
    assert entry["trajectory"]["output"] == "Done: $249 refunded for ORD-7."


@pytest.mark.parametrize(
    ("ini", "message"),
    [
        ("", "regression cases need the agent to run: set ini agentops_agent"),
        ("agentops_agent = nowhere", "write `module:function`"),
        ("agentops_agent = no_such_module:run", "cannot import no_such_module"),
        ("agentops_agent = shop_agent:missing", "shop_agent has no missing"),
    ],
)
def test_the_entry_point_errors_name_the_ini_key(
    project: pytest.Pytester, ini: str, message: str
) -> None:
    agent(project, fixed=True)
    project.makeini(f"[pytest]\n{ini}\n")
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*{message}*"])
    assert "Traceback" not in result.stdout.str()


def test_a_broken_case_file_is_a_collection_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nagentops_agent = shop_agent:run\n")
    (pytester.path / "bad.case.yaml").write_text("schema_version: 1\nname: x\n")
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*bad.case.yaml: field `provenance`*"])


PROBES = {
    "responses": """
import openai

def run(question):
    client = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="x", max_retries=0)
    kwargs = dict(model="gpt-4o-mini", input=question, tools=[
        {"type": "function", "name": "refund", "parameters": {"type": "object"}}])
    if STREAM:
        with client.responses.stream(**kwargs) as events:
            response = events.get_final_response()
    else:
        response = client.responses.create(**kwargs)
    call = next(item for item in response.output if item.type == "function_call")
    return f"{call.name} {call.arguments}"
""",
    "anthropic": """
import anthropic

def run(question):
    client = anthropic.Anthropic(base_url="http://127.0.0.1:9", api_key="x", max_retries=0)
    kwargs = dict(model="claude-3-5-haiku-latest", max_tokens=100,
                  messages=[{"role": "user", "content": question}])
    if STREAM:
        with client.messages.stream(**kwargs) as events:
            message = events.get_final_message()
    else:
        message = client.messages.create(**kwargs)
    use = next(block for block in message.content if block.type == "tool_use")
    return f"{use.name} {use.input}"
""",
}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("api", sorted(PROBES))
def test_the_incident_answers_in_the_api_the_agent_calls(
    project: pytest.Pytester, api: str, stream: bool
) -> None:
    project.makepyfile(shop_agent=f"STREAM = {stream}\n" + PROBES[api])
    report = project.path / "report.json"
    project.runpytest("-p", "no:randomly", f"--agentops-report={report}").assert_outcomes(passed=1)
    (entry,) = json.loads(report.read_text())["tests"]
    output = entry["trajectory"]["output"]
    assert output.startswith("refund ")
    assert "ORD-7" in output
    assert "249" in output
    (llm,) = [s for s in entry["trajectory"]["steps"] if s["kind"] == "llm"]
    assert [c["name"] for c in llm["requested_tool_calls"]] == ["refund"]


def test_a_record_mode_records_the_case_as_an_ordinary_cassette(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Model(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["content-length"]))
            body = json.dumps(
                {
                    "id": "chatcmpl-live",
                    "object": "chat.completion",
                    "created": 0,
                    "model": "gpt-4o-mini",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "Asked a manager."},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
                }
            ).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Model)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    agent(project, fixed=True)
    source = (project.path / "shop_agent.py").read_text()
    live = source.replace("http://127.0.0.1:9/v1", f"http://127.0.0.1:{server.server_port}/v1")
    (project.path / "shop_agent.py").write_text(live)
    try:
        recorded = project.runpytest("-p", "no:randomly", "--agentops-record=once")
    finally:
        server.shutdown()
        server.server_close()
    recorded.assert_outcomes(passed=1)
    cassette = (
        project.path
        / "cassettes/tests/agent_cases/refund-without-approval.case/refund-without-approval.yaml"
    )
    assert "Asked a manager." in cassette.read_text()
    project.runpytest("-p", "no:randomly").assert_outcomes(passed=1)  # replayed, server gone


def test_real_tools_run_for_real_in_a_replay(project: pytest.Pytester) -> None:
    from pytest_agentops.cases.case import Case

    path = project.path / "tests" / "agent_cases" / "refund-without-approval.case.yaml"
    case = Case.load(path)
    case.expect.real_tools = ["refund"]
    case.dump(path)
    agent(project, fixed=True)
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*RuntimeError: the real refund must not run in a replay*"])


RULES_JUDGE = """
from pytest_agentops import Verdict

def pytest_agentops_judge(request):
    score = 1.0 if "manager" in (request.subject or "").lower() else 0.0
    return Verdict(criteria=request.criteria, score=score, passed=score >= request.threshold,
                   threshold=request.threshold, reasoning="keyword rule", model="rules",
                   on=request.on)
"""


def test_judge_criteria_are_checked_by_the_projects_judge(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_agentops.cases.case import Case

    path = project.path / "tests" / "agent_cases" / "refund-without-approval.case.yaml"
    case = Case.load(path)
    case.expect.judge = ["says a manager approved the refund"]
    case.dump(path)
    agent(project, fixed=True)
    project.makeconftest(RULES_JUDGE)
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(failed=1)  # the incident's answer mentions no manager
    result.stdout.fnmatch_lines(
        ["judge: judge FAILED: score 0.00 < threshold 0.70 (rules)", "*criteria: says a manager*"]
    )
    project.makeconftest("")  # the built-in judge: no model in an incident replay
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["judge: The judge model gpt-4o-mini needs OPENAI_API_KEY*"])
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")  # a key: the replay refuses it
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*judge criteria need a model to judge with*--agentops-record=once*"]
    )
    result = project.runpytest("-p", "no:randomly", "--agentops-judge=off")
    result.assert_outcomes(passed=1)
