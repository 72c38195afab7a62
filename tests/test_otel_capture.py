"""Live OpenTelemetry capture: the GenAI spans an agent emits while a test records are steps.

Two producers: spans written by hand with the OpenTelemetry SDK's tracer (as an application's
own instrumentation does: GenAI conventions, tool spans with only a name and call id), and
the real openinference-instrumentation-openai on the openai SDK against the scripted model,
recorded and then replayed offline, with and without the wire capture that sees the same
calls (so the de-duplication by response id is exercised).
"""

from __future__ import annotations

import pytest

from fake_model import use_fake_model

pytest.importorskip("opentelemetry.sdk.trace")

CONFTEST = """
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

trace.set_tracer_provider(TracerProvider())
"""

MANUAL = """
import json
from opentelemetry import trace
from pytest_agentops import assert_tool_calls, call

tracer = trace.get_tracer("my-agent")

def agent():
    with tracer.start_as_current_span("invoke_agent support") as root:
        root.set_attribute("gen_ai.operation.name", "invoke_agent")
        with tracer.start_as_current_span("chat gpt-4o-mini") as span:
            span.set_attribute("gen_ai.operation.name", "chat")
            span.set_attribute("gen_ai.request.model", "gpt-4o-mini")
            span.set_attribute("gen_ai.provider.name", "openai")
            span.set_attribute("gen_ai.response.id", "chatcmpl-1")
            span.set_attribute("gen_ai.usage.input_tokens", 120)
            span.set_attribute("gen_ai.usage.output_tokens", 12)
            span.set_attribute("gen_ai.input.messages", json.dumps(
                [{"role": "user", "parts": [{"type": "text", "content": "Refund ORD-7"}]}]))
            span.set_attribute("gen_ai.output.messages", json.dumps([{"role": "assistant",
                "parts": [{"type": "tool_call", "id": "c1", "name": "refund",
                           "arguments": {"order_id": "ORD-7", "amount": 20}}]}]))
        with tracer.start_as_current_span("execute_tool refund") as span:
            span.set_attribute("gen_ai.operation.name", "execute_tool")
            span.set_attribute("gen_ai.tool.name", "refund")
            span.set_attribute("gen_ai.tool.call.id", "c1")
        with tracer.start_as_current_span("chat gpt-4o-mini") as span:
            span.set_attribute("gen_ai.operation.name", "chat")
            span.set_attribute("gen_ai.request.model", "gpt-4o-mini")
            span.set_attribute("gen_ai.response.id", "chatcmpl-2")
            span.set_attribute("gen_ai.input.messages", json.dumps([
                {"role": "user", "parts": [{"type": "text", "content": "Refund ORD-7"}]},
                {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1",
                                            "response": {"status": "issued"}}]}]))
            span.set_attribute("gen_ai.output.messages", json.dumps(
                [{"role": "assistant", "parts": [{"type": "text", "content": "Refunded."}]}]))
    with tracer.start_as_current_span("GET /health") as span:
        span.set_attribute("http.request.method", "GET")  # not an agent's span: not a step

def test_manual_spans(agent_trace):
    agent()
    traj = agent_trace.trajectory
    assert traj.tool_names == ["refund"]
    refund = traj.tool_calls[0]
    assert refund.arguments == {"order_id": "ORD-7", "amount": 20}
    assert refund.result == {"status": "issued"}
    assert refund.source == "opentelemetry"
    assert [c.response_id for c in traj.llm_calls] == ["chatcmpl-1", "chatcmpl-2"]
    assert traj.llm_calls[0].cost_usd
    assert traj.output == "Refunded."
    assert_tool_calls(agent_trace, [call("refund", order_id="ORD-7", amount=20)])

def test_spans_outside_a_recording_test_are_not_kept():
    agent()  # no agent_trace: nothing records, nothing fails
"""


def test_spans_the_agent_emits_are_its_steps(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_manual=MANUAL)
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


def test_otel_capture_can_be_turned_off(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        test_manual=MANUAL.replace(
            'assert traj.tool_names == ["refund"]', "assert traj.steps == []\n    return"
        )
    )
    pytester.makeini("[pytest]\nagentops_capture_otel = false\n")
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


INSTRUMENTED = """
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from openinference.instrumentation.openai import OpenAIInstrumentor
from pytest_agentops import assert_tool_calls, call
from support_agent import frameworks

QUESTION = "Hi, I'm customer C1001 (ada@example.com). Where is ORD-1002?"

@pytest.fixture(scope="module", autouse=True)
def instrumented():
    provider = TracerProvider()
    trace.set_tracer_provider(provider)
    OpenAIInstrumentor().instrument(tracer_provider=provider)
    yield
    OpenAIInstrumentor().uninstrument()

def test_status(agent_trace, base_url):
    answer = frameworks.run_with_openai(QUESTION, base_url)
    traj = agent_trace.trajectory
    assert "ORD-1002" in answer
    llm = traj.llm_calls
    assert len(llm) == 3, [(c.model, c.response_id) for c in llm]
    assert len({c.response_id for c in llm}) == 3
    assert all(c.input_tokens and c.output_tokens and c.cost_usd for c in llm)
    assert_tool_calls(agent_trace, [
        call("verify_identity", customer_id="C1001", email="ada@example.com"),
        call("lookup_order", order_id="ORD-1002"),
    ], mode="strict")
"""


@pytest.mark.parametrize("wire", ["true", "false"], ids=["with-wire-capture", "spans-only"])
def test_a_real_instrumentation_records_and_replays_offline(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, wire: str
) -> None:
    pytest.importorskip("openinference.instrumentation.openai")
    use_fake_model(pytester, monkeypatch)
    pytester.makepyfile(test_instrumented=INSTRUMENTED)
    pytester.makeini(f"[pytest]\nagentops_capture_http = {wire}\n")
    recorded = pytester.runpytest_subprocess("-p", "no:randomly", "--agentops-record=once")
    recorded.assert_outcomes(passed=1)
    replayed = pytester.runpytest_subprocess("-p", "no:randomly")  # the server is gone
    replayed.assert_outcomes(passed=1)
