"""OpenAI Agents SDK traces (``openai-agents``): the fixtures the real SDK made, read into
trajectories; broken exports are one clear error; a live run of the installed SDK reads the
same way."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given

from pytest_agentops import Trajectory, TrajectoryLoadError, assert_tool_calls, call
from pytest_agentops.policy import parse_policy
from pytest_agentops.trajectory.importers.openai_agents import trajectories_from_openai_agents
from pytest_agentops.trajectory.importers.registry import detect
from pytest_agentops.trajectory.model import LLMCall, SpanStep, ToolCall
from test_fuzz import fuzz_settings, holds_for_a_loaded, loaded_or_error, mutated_data
from trace_fixtures import LOOKUP_RESULT, REFUND_RESULT, TRACES

CHAT = TRACES / "openai_agents_trace.json"
EXPORT = TRACES / "openai_agents_export.json"
RESPONSES = TRACES / "openai_agents_responses_trace.json"
FIXTURES = [CHAT, EXPORT, RESPONSES]

TOOLS = ["transfer_to_refund_agent", "lookup_order", "refund"]
ANSWER = "Done: I've refunded $45.00 for ORD-1001 (refund RF-1)."


def raw(path: Path) -> Any:
    return json.loads(path.read_text())


def agent(traj: Trajectory, name: str) -> SpanStep:
    found = [s for s in traj.steps if isinstance(s, SpanStep) and s.name == name]
    assert len(found) == 1, [s.name for s in traj.steps if isinstance(s, SpanStep)]
    return found[0]


def tool(traj: Trajectory, name: str) -> ToolCall:
    return next(c for c in traj.tool_calls if c.name == name)


# ---- the real fixtures -------------------------------------------------------------------------


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_every_fixture_is_detected_and_reads_the_run(path: Path) -> None:
    assert detect(raw(path)) == "openai-agents"
    traj = Trajectory.load(path)
    assert traj.metadata["source_format"] == "openai-agents"
    assert traj.name == "Support workflow"
    assert traj.id == traj.metadata["trace_id"]
    assert traj.id.startswith("trace_")
    assert traj.metadata["group_id"] == "conversation-1"
    assert traj.metadata["trace_metadata"] == {"customer": "C1001"}
    assert traj.metadata["nodes_not_read"] == 5  # the SDK's task span and four turn spans
    assert traj.tool_names == TOOLS
    assert tool(traj, "lookup_order").arguments == {"order_id": "ORD-1001"}
    assert tool(traj, "lookup_order").result == LOOKUP_RESULT
    assert tool(traj, "refund").arguments == {"order_id": "ORD-1001", "amount": 45.0}
    assert tool(traj, "refund").result == REFUND_RESULT
    assert all(c.ok and c.source is None for c in traj.tool_calls)  # spans, not conversation
    assert len(traj.llm_calls) == 4
    assert traj.started_at is not None
    assert traj.ended_at is not None
    assert traj.started_at < traj.ended_at
    assert all(s.started_at is not None and s.duration_ms is not None for s in traj.steps)
    starts = [s.started_at.isoformat() for s in traj.steps if s.started_at is not None]
    assert starts == sorted(starts)  # spans arrive children first; steps are in start order
    assert_tool_calls(
        traj,
        [
            call("transfer_to_refund_agent", {}),
            call("lookup_order", order_id="ORD-1001"),
            call("refund", order_id="ORD-1001", amount=45.0),
        ],
    )
    assert_tool_calls(
        traj,
        [call("lookup_order", order_id="ORD-1001"), call("refund", order_id="ORD-1001", amount=45)],
        ignore=["transfer_to_refund_agent"],
    )


@pytest.mark.parametrize("path", [CHAT, EXPORT], ids=lambda p: p.stem)
def test_generation_spans_are_priced_llm_calls_with_the_conversation(path: Path) -> None:
    traj = Trajectory.load(path)
    llm = traj.llm_calls
    assert [(c.model, c.input_tokens, c.output_tokens) for c in llm] == [
        ("gpt-4o-mini", 117, 27),
        ("gpt-4o-mini", 402, 31),
        ("gpt-4o-mini", 502, 34),
        ("gpt-4o-mini", 589, 38),
    ]
    assert all(c.cost_usd is not None and c.cost_usd > 0 for c in llm)
    assert not traj.unpriced_calls
    assert traj.cost_usd == pytest.approx(sum(c.cost_usd or 0 for c in llm))
    assert llm[0].input_messages[-1] == {
        "role": "user",
        "content": "Refund order ORD-1001 for customer C1001.",
    }
    # The model's requests: the handoff, then each tool, linked to the executions by call id.
    assert [[r.name for r in c.requested_tool_calls] for c in llm] == [[n] for n in TOOLS] + [[]]
    requests = [c.requested_tool_calls[0] for c in llm[:3]]
    for request, execution in zip(requests, traj.tool_calls, strict=True):
        assert execution.call_id == request.id
        assert execution.name == request.name
    assert llm[-1].output_message == {"role": "assistant", "content": llm[-1].output_text}
    assert traj.input == "Refund order ORD-1001 for customer C1001."
    assert isinstance(traj.output, str)
    assert traj.output.startswith(ANSWER)


def test_the_exporters_body_reads_like_the_processors_spans() -> None:
    # The exporter reshapes generation usage to {input_tokens, output_tokens, details}.
    assert Trajectory.load(EXPORT).to_jsonable() == Trajectory.load(CHAT).to_jsonable()


def test_response_spans_are_llm_calls_with_tokens_and_response_ids_but_no_content() -> None:
    traj = Trajectory.load(RESPONSES)
    llm = traj.llm_calls
    assert [(c.input_tokens, c.output_tokens) for c in llm] == [
        (56, 27),
        (245, 31),
        (346, 34),
        (432, 38),
    ]
    assert all(c.response_id and c.response_id.startswith("resp_") for c in llm)
    assert all(c.model == "unknown" and not c.input_messages for c in llm)
    assert len(traj.unpriced_calls) == 4  # the SDK exports no model name on response spans
    assert all(c.call_id is None for c in traj.tool_calls)  # nothing to link them to
    assert traj.input is None
    assert traj.output is None


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_the_handoff_is_the_transfer_tool_the_model_called(path: Path) -> None:
    traj = Trajectory.load(path)
    handoff = tool(traj, "transfer_to_refund_agent")
    assert handoff.arguments == {}
    assert handoff.result == {"assistant": "Refund agent"}
    assert handoff.parent_id == agent(traj, "Triage agent").id
    if path != RESPONSES:
        assert handoff.call_id == "call_0_0"
        # it answers the model's request, so the conversation adds no second copy
        assert traj.tool_names.count("transfer_to_refund_agent") == 1
    triage = agent(traj, "Triage agent")
    assert triage.attributes == {
        "type": "agent",
        "handoffs": ["Refund agent"],
        "output_type": "str",
    }
    assert triage.parent_id is None


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_steps_nest_under_their_agent(path: Path) -> None:
    traj = Trajectory.load(path)
    refund_agent = agent(traj, "Refund agent")
    assert refund_agent.attributes["tools"] == ["lookup_order", "refund"]
    assert refund_agent.parent_id is None
    assert [c.parent_id for c in traj.tool_calls[1:]] == [refund_agent.id] * 2
    assert [c.parent_id for c in traj.llm_calls[1:]] == [refund_agent.id] * 3
    top = traj.children(None)
    assert {s.name for s in top if isinstance(s, SpanStep)} == {"Triage agent", "Refund agent"}
    assert len(top) == 2


def test_a_policy_rule_catches_the_refund() -> None:
    policy = parse_policy(
        "schema_version: 1\nname: refunds\nrules:\n"
        "  - {id: cap, tool: refund, args: {amount: {le: 10}}}\n"
        "  - {id: handoff-first, require_before: {tool: lookup_order, "
        "first: transfer_to_refund_agent}}\n"
    )
    for path in FIXTURES:
        traj = Trajectory.load(path)
        violations = policy.check(traj)
        assert [v.rule_id for v in violations] == ["cap"], violations
        assert violations[0].step_id == tool(traj, "refund").id


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
@pytest.mark.parametrize("suffix", ["json", "yaml"])
def test_native_round_trip(path: Path, suffix: str, tmp_path: Path) -> None:
    traj = Trajectory.load(path)
    saved = tmp_path / f"traj.{suffix}"
    traj.dump(saved)
    again = Trajectory.load(saved)
    assert again.to_jsonable() == traj.to_jsonable()
    assert again.metadata["source_format"] == "openai-agents"


# ---- other shapes --------------------------------------------------------------------------------


def spans_of(path: Path) -> list[dict[str, Any]]:
    data = raw(path)
    return list(data["spans"]) if "spans" in data else list(data["data"][1:])


def test_a_tool_that_failed_has_the_spans_error() -> None:
    data = raw(CHAT)
    span = next(s for s in data["spans"] if s["span_data"].get("name") == "refund")
    span["error"] = {
        "message": "Error running tool",
        "data": {"tool_name": "refund", "error": "PermissionError: needs manager approval"},
    }
    span["span_data"]["output"] = None
    model = next(s for s in data["spans"] if s["span_data"]["type"] == "generation")
    model["error"] = {"message": "Error getting response", "data": {}}
    traj = Trajectory.load(data)
    refund = tool(traj, "refund")
    assert refund.error == "Error running tool: PermissionError: needs manager approval"
    assert refund.result is None
    assert not refund.ok
    assert traj.llm_calls[0].error == "Error getting response"
    assert_tool_calls(traj, ["transfer_to_refund_agent", "lookup_order"], only_successful=True)


def test_guardrail_mcp_and_custom_spans_are_span_steps() -> None:
    data = raw(CHAT)
    root = data["spans"][-1]
    extra = [
        {"type": "guardrail", "name": "no_pii", "triggered": True},
        {"type": "guardrail", "name": "on_topic", "triggered": False},
        {"type": "custom", "name": "lookup cache", "data": {"hit": True, "big": "x" * 500}},
        {"type": "mcp_tools", "server": "shop", "result": ["lookup_order"]},
        {
            "type": "speech",
            "model": "tts-1",
            "input": "hi",
            "output": {"data": "", "format": "pcm"},
        },
    ]
    for number, span_data in enumerate(extra):
        data["spans"].append(
            {
                "object": "trace.span",
                "id": f"span_extra{number}",
                "trace_id": data["trace"]["id"],
                "parent_id": root["id"],
                "started_at": root["started_at"],
                "ended_at": root["started_at"],
                "span_data": span_data,
                "error": None,
            }
        )
    traj = Trajectory.load(data)
    spans = {s.name: s for s in traj.steps if isinstance(s, SpanStep)}
    assert spans["no_pii"].attributes == {"type": "guardrail", "triggered": True}
    assert spans["no_pii"].error == "guardrail tripwire triggered"
    assert spans["on_topic"].error is None
    assert spans["lookup cache"].attributes == {"type": "custom", "hit": True}  # short values
    assert spans["mcp_tools: shop"].attributes["result"] == ["lookup_order"]
    assert spans["speech"].attributes == {"type": "speech", "model": "tts-1", "input": "hi"}
    assert traj.tool_names == TOOLS


def test_several_traces_in_one_export_body_and_spans_without_their_trace() -> None:
    chat, responses = raw(EXPORT), raw(RESPONSES)
    items = chat["data"] + responses["spans"]  # the second trace's object is missing
    found = list(Trajectory.load_all({"data": items}))
    assert [t.id for t in found] == [chat["data"][0]["id"], responses["trace"]["id"]]
    assert [t.name for t in found] == ["Support workflow", None]
    assert [t.tool_names for t in found] == [TOOLS, TOOLS]
    picked = Trajectory.load({"data": items}, trace_id=responses["trace"]["id"])
    assert picked.llm_calls[0].response_id == found[1].llm_calls[0].response_id
    with pytest.raises(TrajectoryLoadError, match="holds 2 trajectories"):
        Trajectory.load({"data": items})
    # a plain list of items, and a list of exporter bodies (one per batch)
    assert Trajectory.load(chat["data"]).to_jsonable() == found[0].to_jsonable()
    batches = [{"data": chat["data"][:4]}, {"data": chat["data"][4:]}]
    assert Trajectory.load(batches, format="openai-agents").to_jsonable() == found[0].to_jsonable()


def test_a_span_without_trace_id_joins_the_only_trace() -> None:
    data = raw(CHAT)
    for span in data["spans"]:
        del span["trace_id"]
    assert Trajectory.load(data).tool_names == TOOLS


def test_python_repr_outputs_and_truncated_fields() -> None:
    data = raw(CHAT)
    lookup = next(s for s in data["spans"] if s["span_data"].get("name") == "lookup_order")
    lookup["span_data"]["output"] = str(LOOKUP_RESULT)  # a tool returning a dict: str(result)
    refund = next(s for s in data["spans"] if s["span_data"].get("name") == "refund")
    refund["span_data"]["input"] = '{"order_id": "ORD-10... [truncated]'
    first = next(s for s in data["spans"] if s["span_data"]["type"] == "generation")
    preview = {"truncated": True, "original_type": "list", "preview": "<list len=2 truncated>"}
    first["span_data"]["input"] = preview
    traj = Trajectory.load(data)
    assert tool(traj, "lookup_order").result == LOOKUP_RESULT
    # a truncated argument text is taken from the model's request
    assert tool(traj, "refund").arguments == {"order_id": "ORD-1001", "amount": 45.0}
    assert traj.llm_calls[0].input_messages == []
    assert traj.metadata["truncated_spans"] == 1


def test_renamed_handoff_tool_is_found_in_the_models_request() -> None:
    text = CHAT.read_text().replace("transfer_to_refund_agent", "escalate_to_refunds")
    traj = Trajectory.load(json.loads(text))
    # the one call the model made that is not one of the Triage agent's tools
    assert traj.tool_names == ["escalate_to_refunds", "lookup_order", "refund"]
    assert tool(traj, "escalate_to_refunds").call_id == "call_0_0"
    text = CHAT.read_text().replace("transfer_to_refund_agent", "transfer_to_refunds_team")
    traj = Trajectory.load(json.loads(text))
    assert traj.tool_names == ["transfer_to_refunds_team", "lookup_order", "refund"]
    assert tool(traj, "transfer_to_refunds_team").call_id == "call_0_0"


# ---- bad input: one clear error ------------------------------------------------------------------


def broken(change: Any) -> Any:
    data = raw(CHAT)
    change(data)
    return data


def _set(path: tuple[Any, ...], value: Any) -> Any:
    def change(data: Any) -> None:
        target = data
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return change


BAD = [
    (_set(("spans",), "x"), "field `spans`: expected a list of spans, got 'x'"),
    (_set(("spans", 0), 3), "spans[0]: expected a span (an object), got 3"),
    (_set(("spans", 0, "id"), None), "spans[0]: field `id`: expected the span id"),
    (
        _set(("spans", 0, "span_data"), []),
        "spans[0] (span span_e405626b75104966b183eec4): field `span_data`: expected an object",
    ),
    (_set(("spans", 0, "span_data", "type"), 7), "field `span_data.type`: expected the span type"),
    (_set(("spans", 0, "started_at"), "yesterday"), "field `started_at`: expected an ISO 8601"),
    (_set(("spans", 0, "parent_id"), 5), "field `parent_id`: expected an id"),
    (_set(("spans", 0, "error"), 5), "field `error`: expected null or an object"),
    (_set(("spans", 0, "span_data", "input"), "hi"), "field `span_data.input`: expected a list"),
    (
        _set(("spans", 0, "span_data", "input", 1), "hi"),
        "field `span_data.input[1]`: expected a chat message",
    ),
    (
        _set(("spans", 0, "span_data", "output", 0, "tool_calls"), [{"id": "x"}]),
        "field `span_data.output[0].tool_calls[0]`: expected a list of",
    ),
    (
        _set(("spans", 0, "span_data", "output", 0, "function_call"), ["x"]),
        "field `span_data.output[0].function_call`: expected null or",
    ),
    (_set(("spans", 0, "span_data", "usage"), 12), "field `span_data.usage`: expected an object"),
    (_set(("spans", 0, "span_data", "model"), 4), "field `span_data.model`: expected the model"),
    (_set(("spans", 5, "span_data", "name"), None), "field `span_data.name`: expected the tool"),
    (_set(("spans", 1, "span_data", "to_agent"), 1), "field `span_data.to_agent`: expected an"),
    (_set(("spans", 3, "span_data", "tools"), "a"), "field `span_data.tools`: expected a list"),
    (_set(("trace", "id"), 1), "trace: field `id`: expected the trace id"),
    (_set(("trace", "metadata"), []), "field `metadata`: expected an object"),
]


@pytest.mark.parametrize(("change", "message"), BAD)
def test_a_broken_export_names_the_span_and_the_field(change: Any, message: str) -> None:
    with pytest.raises(TrajectoryLoadError) as caught:
        Trajectory.load(broken(change), format="openai-agents")
    text = str(caught.value)
    assert text.startswith("<trajectory data>: "), text
    assert message in text
    assert "\n" not in text


def test_other_broken_exports() -> None:
    def load(data: Any) -> str:
        with pytest.raises(TrajectoryLoadError) as caught:
            Trajectory.load(data, format="openai-agents")
        return str(caught.value)

    assert "not an OpenAI Agents SDK export: expected an object with `trace`" in load(5)
    assert "no trace and no span" in load({"data": []})
    assert 'field `object`: expected "trace" or "trace.span"' in load([{"object": "x"}])
    assert "data[1]: expected a trace or a span" in load(
        {"data": [{"object": "trace", "id": "t"}, 1]}
    )
    spans = spans_of(CHAT)
    other = dict(spans[0], span_data={"type": "custom", "name": "x", "data": {}})
    assert "is used by two different spans" in load({"data": [spans[0], other]})
    assert Trajectory.load({"data": [spans[0], copy.deepcopy(spans[0])]}).llm_calls
    orphan = {k: v for k, v in spans[0].items() if k != "trace_id"}
    assert "field `trace_id`: expected the id of the span's trace" in load({"data": [orphan]})


AGENT_SEEDS = [raw(path) for path in FIXTURES]


def test_the_seeds_load(tmp_path: Path) -> None:
    for data in AGENT_SEEDS:
        holds_for_a_loaded(Trajectory.load(copy.deepcopy(data)), tmp_path)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("agents-fuzz")


@pytest.mark.fuzz
@fuzz_settings(40)
@given(data=mutated_data(AGENT_SEEDS))
def test_an_export_with_wrong_fields_is_one_clear_error(scratch: Path, data: Any) -> None:
    trajectory = loaded_or_error(lambda: Trajectory.load(data))
    if trajectory is not None:
        holds_for_a_loaded(trajectory, scratch)


@pytest.mark.fuzz
@fuzz_settings(40)
@given(data=mutated_data(AGENT_SEEDS))
def test_the_importer_raises_only_its_error(data: Any) -> None:
    try:
        found = trajectories_from_openai_agents(data, source="fuzz")
    except TrajectoryLoadError as exc:
        message = str(exc)
    else:
        message = ""
    if message:
        assert message.startswith("fuzz: "), message
        assert "\n" not in message.strip(), message
        return
    for item in found:
        loaded_or_error(lambda item=item: Trajectory.model_validate(item))  # type: ignore[misc]


# ---- live: the installed SDK, against the scripted model on 127.0.0.1 --------------------------


def test_a_tracing_processor_on_a_live_run_gives_what_the_importer_reads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    agents = pytest.importorskip("agents")
    from agents.tracing import TracingProcessor, get_trace_provider
    from openai import AsyncOpenAI

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "examples"))
    from support_agent import fake_llm as scripted
    from support_agent.store import SupportStore
    from support_agent.tools import SupportTools

    original = scripted.completion

    def with_handoff(body: Any, behaviour: str) -> dict[str, Any]:
        # The scripted model knows no handoffs: the triage turn gets the transfer call.
        offered = [(t.get("function") or {}).get("name") or "" for t in body.get("tools") or []]
        handoffs = [name for name in offered if name.startswith("transfer_to_")]
        if not handoffs:
            answer: dict[str, Any] = original(body, behaviour)
            return answer
        function = {"name": handoffs[0], "arguments": "{}"}
        request = {"id": "call_h", "type": "function", "function": function}
        message = {"role": "assistant", "content": None, "tool_calls": [request]}
        return {
            "id": "chatcmpl-handoff",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60},
        }

    monkeypatch.setattr(scripted, "completion", with_handoff)

    class Collector(TracingProcessor):
        def __init__(self) -> None:
            self.trace: Any = None
            self.spans: list[dict[str, Any]] = []

        def on_trace_start(self, trace: Any) -> None:
            pass

        def on_trace_end(self, trace: Any) -> None:
            self.trace = trace.export()

        def on_span_start(self, span: Any) -> None:
            pass

        def on_span_end(self, span: Any) -> None:
            self.spans.append(span.export())

        def shutdown(self) -> None:
            pass

        def force_flush(self) -> None:
            pass

    store = SupportTools(SupportStore.demo())

    @agents.function_tool
    def lookup_order(order_id: str) -> str:
        """Look up an order's status, items, total and amount already refunded."""
        return json.dumps(SupportTools.lookup_order.__wrapped__(store, order_id))

    @agents.function_tool
    def refund(order_id: str, amount: float) -> str:
        """Refund an order. Over $100 needs manager approval first."""
        return json.dumps(SupportTools.refund.__wrapped__(store, order_id, amount))

    provider = get_trace_provider()
    multi = getattr(provider, "_multi_processor", None)
    before = list(getattr(multi, "_processors", ()))
    collector = Collector()
    agents.set_trace_processors([collector])
    agents.set_tracing_disabled(False)
    try:
        with scripted.FakeLLM("reckless") as server:
            client = AsyncOpenAI(base_url=server.base_url, api_key="sk-test")
            model = agents.OpenAIChatCompletionsModel(model="gpt-4o-mini", openai_client=client)
            refunds = agents.Agent(
                name="Refund agent",
                instructions="Refund.",
                tools=[lookup_order, refund],
                model=model,
            )
            triage = agents.Agent(
                name="Triage agent", instructions="Triage.", handoffs=[refunds], model=model
            )
            with agents.trace("Live workflow", group_id="g-1"):
                result = agents.Runner.run_sync(triage, "Refund order ORD-1001 for customer C1001.")
    finally:
        agents.set_trace_processors(before)
        agents.set_tracing_disabled(True)
    assert "refunded $45.00" in str(result.final_output)
    traj = Trajectory.load({"trace": collector.trace, "spans": collector.spans})
    assert traj.name == "Live workflow"
    assert traj.metadata["group_id"] == "g-1"
    assert_tool_calls(
        traj,
        [
            call("transfer_to_refund_agent", {}),
            call("lookup_order", order_id="ORD-1001"),
            call("refund", order_id="ORD-1001", amount=45.0),
        ],
    )
    assert all(c.call_id for c in traj.tool_calls)
    assert tool(traj, "refund").parent_id == agent(traj, "Refund agent").id
    assert all(isinstance(s, LLMCall) and s.cost_usd for s in traj.llm_calls)
    assert traj.output == result.final_output
