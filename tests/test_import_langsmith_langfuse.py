"""LangSmith runs and Langfuse traces: the fixtures the real libraries made, read into
trajectories; other shapes of the same exports; broken exports are one clear error."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given

from pytest_agentops import Trajectory, TrajectoryLoadError, assert_tool_calls, call
from pytest_agentops.policy import parse_policy
from pytest_agentops.trajectory.importers.langfuse import trajectories_from_langfuse
from pytest_agentops.trajectory.importers.langsmith import trajectories_from_langsmith
from pytest_agentops.trajectory.importers.registry import detect
from pytest_agentops.trajectory.model import LLMCall, SpanStep, ToolCall
from test_fuzz import (
    all_or_error,
    fuzz_settings,
    holds_for_a_loaded,
    loaded_or_error,
    mutated_data,
)
from trace_fixtures import LOOKUP_RESULT, REFUND_RESULT, TRACES

RUN_TREE = TRACES / "langsmith_run_tree.json"
RUNS = TRACES / "langsmith_runs.json"
INGEST = TRACES / "langsmith_ingest.json"
LANGFUSE = TRACES / "langfuse_trace.json"
LANGSMITH = [RUN_TREE, RUNS, INGEST]
FIXTURES = [*LANGSMITH, LANGFUSE]

QUESTION = "Refund order ORD-1001 for customer C1001."
ANSWER = (
    "Done: I've refunded $45.00 for ORD-1001 (refund RF-1). It should reach your original "
    "payment method within 5-7 business days. Thank you for your patience!"
)
#: (input, output) tokens of the three model calls.  LangGraph's prompt has no tool
#: descriptions in the messages, so its calls are smaller than the plain loop's (README).
TOKENS = {
    "langsmith": [(284, 31), (385, 34), (472, 38)],
    "langfuse": [(332, 31), (428, 34), (510, 38)],
}


def raw(path: Path) -> Any:
    return json.loads(path.read_text())


def fmt(path: Path) -> str:
    return "langfuse" if path == LANGFUSE else "langsmith"


def load(path: Path) -> Trajectory:
    # The ingest file holds the client's requests ([{"method", "path", "body"}]), which
    # registry.detect does not recognise yet (see test_detection): name the format.
    return Trajectory.load(path, format=fmt(path))


def tool(traj: Trajectory, name: str) -> ToolCall:
    return next(c for c in traj.tool_calls if c.name == name)


# ---- the real fixtures -------------------------------------------------------------------------


@pytest.mark.parametrize("path", [RUN_TREE, RUNS, LANGFUSE], ids=lambda p: p.stem)
def test_detection(path: Path) -> None:
    assert detect(raw(path)) == fmt(path)
    assert Trajectory.load(path).metadata["source_format"] == fmt(path)


def test_the_ingest_body_is_detected() -> None:
    body = raw(INGEST)[0]["body"]
    assert detect(body) == "langsmith"
    assert Trajectory.load(body).tool_names == ["lookup_order", "refund"]


def test_the_clients_requests_are_detected() -> None:
    assert detect(raw(INGEST)) == "langsmith"


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_every_fixture_reads_the_run(path: Path) -> None:
    traj = load(path)
    assert traj.metadata["source_format"] == fmt(path)
    assert traj.id == traj.metadata["trace_id"]
    assert traj.name == "support-agent"
    assert traj.metadata["tags"] == ["fixture"]
    assert traj.input == QUESTION
    assert traj.output == ANSWER
    assert traj.tool_names == ["lookup_order", "refund"]
    lookup, refund = traj.tool_calls
    assert lookup.arguments == {"order_id": "ORD-1001"}
    assert lookup.result == LOOKUP_RESULT
    assert refund.arguments == {"order_id": "ORD-1001", "amount": 45.0}
    assert refund.result == REFUND_RESULT
    assert [lookup.call_id, refund.call_id] == ["call_1_0", "call_2_0"]
    assert all(c.ok and c.source is None for c in traj.tool_calls)  # runs, not conversation
    llm = traj.llm_calls
    assert [(c.model, c.input_tokens, c.output_tokens) for c in llm] == [
        ("gpt-4o-mini", i, o) for i, o in TOKENS[fmt(path)]
    ]
    assert all(c.cost_usd is not None and c.cost_usd > 0 for c in llm)
    assert not traj.unpriced_calls
    assert [[r.name for r in c.requested_tool_calls] for c in llm] == [
        ["lookup_order"],
        ["refund"],
        [],
    ]
    assert [c.requested_tool_calls[0].id for c in llm[:2]] == ["call_1_0", "call_2_0"]
    assert llm[0].input_messages[0]["role"] == "system"
    assert llm[0].input_messages[-1] == {"role": "user", "content": QUESTION}
    assert llm[-1].output_text == ANSWER
    assert llm[1].input_messages[-1]["role"] == "tool"
    assert llm[1].input_messages[-1]["tool_call_id"] == "call_1_0"
    assert traj.started_at is not None
    assert traj.ended_at is not None
    assert traj.started_at < traj.ended_at
    assert all(s.started_at is not None and s.duration_ms is not None for s in traj.steps)
    assert_tool_calls(
        traj,
        [
            call("lookup_order", order_id="ORD-1001"),
            call("refund", order_id="ORD-1001", amount=45.0),
        ],
    )


@pytest.mark.parametrize("path", LANGSMITH, ids=lambda p: p.stem)
def test_langsmith_details(path: Path) -> None:
    traj = load(path)
    llm = traj.llm_calls
    assert all(c.provider == "openai" for c in llm)
    assert [c.response_id for c in llm] == [
        "chatcmpl-cd19bdcddfd1efd4fa758709",
        "chatcmpl-df629ccba39e19e64d9ee96c",
        "chatcmpl-4f6b8c6fb712291627032240",
    ]
    assert llm[0].output_message == {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "call_1_0",
                "type": "function",
                "function": {"name": "lookup_order", "arguments": '{"order_id": "ORD-1001"}'},
            }
        ],
    }
    assert len(traj.steps) == 23  # every run is a step
    spans = [s for s in traj.steps if isinstance(s, SpanStep)]
    assert spans[0].name == "support-agent"
    assert spans[0].parent_id is None
    assert {s.attributes["run_type"] for s in spans} == {"chain"}
    # Steps nest as the runs do: the tools under LangGraph's `tools` node, the model under
    # the `agent` node's RunnableSequence.
    by_id = {s.id: s for s in traj.steps}
    parent = by_id[tool(traj, "refund").parent_id or ""]
    assert isinstance(parent, SpanStep)
    assert parent.name == "tools"
    assert parent.attributes["langgraph_node"] == "tools"
    sequence = by_id[llm[0].parent_id or ""]
    assert isinstance(sequence, SpanStep)
    assert sequence.name == "RunnableSequence"
    starts = [s.started_at for s in traj.steps if s.started_at is not None]
    assert starts == sorted(starts)


def test_langfuse_details() -> None:
    traj = load(LANGFUSE)
    assert traj.metadata["user_id"] == "C1001"
    assert traj.metadata["session_id"] == "conversation-1"
    assert traj.metadata["trace_metadata"] == {"behaviour": "reckless"}
    assert [s.kind for s in traj.steps] == ["span", "llm", "tool", "llm", "tool", "llm"]
    agent = traj.steps[0]
    assert isinstance(agent, SpanStep)
    assert (agent.name, agent.attributes) == ("support", {"type": "AGENT"})
    assert all(s.parent_id == agent.id for s in traj.steps[1:])
    # costDetails.total, as Langfuse priced them
    assert [c.cost_usd for c in traj.llm_calls] == pytest.approx([6.84e-05, 8.46e-05, 9.93e-05])


def test_a_policy_rule_catches_the_refund() -> None:
    policy = parse_policy(
        "schema_version: 1\nname: refunds\nrules:\n"
        "  - {id: cap, tool: refund, args: {amount: {le: 10}}}\n"
        "  - {id: lookup-first, require_before: {tool: refund, first: lookup_order}}\n"
    )
    for path in FIXTURES:
        traj = load(path)
        violations = policy.check(traj)
        assert [v.rule_id for v in violations] == ["cap"], violations
        assert violations[0].step_id == tool(traj, "refund").id


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
@pytest.mark.parametrize("suffix", ["json", "yaml"])
def test_native_round_trip(path: Path, suffix: str, tmp_path: Path) -> None:
    traj = load(path)
    saved = tmp_path / f"traj.{suffix}"
    traj.dump(saved)
    again = Trajectory.load(saved)
    assert again.to_jsonable() == traj.to_jsonable()
    assert again.metadata["source_format"] == fmt(path)


# ---- LangSmith: other shapes -------------------------------------------------------------------


def flat_runs() -> list[dict[str, Any]]:
    return list(raw(RUNS))


def run_named(runs: list[dict[str, Any]], name: str, nth: int = 0) -> dict[str, Any]:
    return [r for r in runs if r["name"] == name][nth]


def test_a_failed_tool_run_and_a_failed_model_run_have_their_errors() -> None:
    runs = flat_runs()
    refund = run_named(runs, "refund")
    refund["error"] = "PermissionError('refunds over $100 need manager approval first')"
    refund["outputs"] = None
    model = run_named(runs, "ChatOpenAI", 2)
    model["error"] = "RateLimitError: slow down"
    traj = Trajectory.load(runs)
    step = tool(traj, "refund")
    assert not step.ok
    assert step.error == refund["error"]
    assert step.result == REFUND_RESULT  # not recorded: from the next model request
    assert traj.llm_calls[2].error == "RateLimitError: slow down"


def test_a_tool_message_with_error_status_is_the_steps_error() -> None:
    runs = flat_runs()
    output = run_named(runs, "lookup_order")["outputs"]["output"]
    output.update(status="error", content="Error: order not found")
    assert tool(Trajectory.load(runs), "lookup_order").error == "Error: order not found"


def test_several_traces_in_one_list_and_patches_in_the_ingest_body() -> None:
    runs = flat_runs()
    other = copy.deepcopy(runs)
    for run in other:
        for key in ("id", "trace_id", "parent_run_id"):
            if run.get(key):
                run[key] = run[key][:-4] + "beef"
        run["dotted_order"] = None
    found = list(Trajectory.load_all(runs + other))
    assert [t.id for t in found] == [runs[0]["id"], runs[0]["id"][:-4] + "beef"]
    assert all(t.tool_names == ["lookup_order", "refund"] for t in found)

    body = raw(INGEST)[0]["body"]
    refund = run_named(body["post"], "refund")
    patch = {"id": refund["id"], "trace_id": refund["trace_id"], "error": "boom", "outputs": None}
    body["patch"] = [patch]
    assert tool(Trajectory.load(body), "refund").error == "boom"


def test_runs_without_trace_ids_group_by_their_root() -> None:
    runs = flat_runs()
    for run in runs:
        run.pop("trace_id")
        run.pop("dotted_order")
    traj = Trajectory.load(runs, format="langsmith")
    assert traj.id == runs[0]["id"]
    assert traj.tool_names == ["lookup_order", "refund"]


def test_other_message_and_output_forms() -> None:
    runs = [
        {
            "id": "r1",
            "trace_id": "t1",
            "name": "ChatOpenAI",
            "run_type": "llm",
            "inputs": {
                "messages": [
                    {"type": "system", "content": "Be brief."},
                    {"type": "human", "data": {"content": "Refund ORD-1"}},
                    ["ai", "Looking."],
                    {"role": "user", "content": [{"type": "text", "text": "Please."}]},
                ]
            },
            "outputs": {
                "choices": [
                    {
                        "message": {
                            "role": "assistant",
                            "content": None,
                            "tool_calls": [
                                {
                                    "id": "c1",
                                    "type": "function",
                                    "function": {"name": "refund", "arguments": '{"amount": 5}'},
                                }
                            ],
                        }
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 3},
                "model": "gpt-4o",
                "id": "chatcmpl-1",
            },
            "total_cost": "0.25",
            "start_time": "2023-11-14T22:13:20Z",
        },
        {
            "id": "r2",
            "trace_id": "t1",
            "parent_run_id": None,
            "name": "refund",
            "run_type": "tool",
            "inputs": {"input": "{'amount': 5}"},
            "outputs": {"output": "ok"},
            "start_time": 1_700_000_000.5,  # epoch seconds
        },
    ]
    traj = Trajectory.load(runs, format="langsmith")
    model = traj.llm_calls[0]
    assert [m["role"] for m in model.input_messages] == ["system", "user", "assistant", "user"]
    assert model.input_messages[-1]["content"] == "Please."
    assert (model.model, model.input_tokens, model.output_tokens) == ("gpt-4o", 10, 3)
    assert (model.cost_usd, model.response_id) == (0.25, "chatcmpl-1")
    step = tool(traj, "refund")
    assert (step.arguments, step.result, step.call_id) == ({"amount": 5}, "ok", "c1")


def test_a_bare_tracer_s_prompts_are_one_user_message() -> None:
    run = {
        "id": "r1",
        "name": "ChatOpenAI",
        "run_type": "llm",
        "inputs": {"prompts": ["Human: hi"]},
        "outputs": {"generations": [[{"text": "hello"}]]},
        "prompt_tokens": 4,
        "completion_tokens": 1,
        "extra": {"metadata": {"ls_model_name": "gpt-4o-mini", "ls_provider": "openai"}},
    }
    model = Trajectory.load(run).llm_calls[0]
    assert model.input_messages == [{"role": "user", "content": "Human: hi"}]
    assert model.output_message == {"role": "assistant", "content": "hello"}
    assert (model.input_tokens, model.output_tokens, model.provider) == (4, 1, "openai")


# ---- Langfuse: other shapes --------------------------------------------------------------------


def test_an_observation_at_error_level_is_the_steps_error() -> None:
    data = raw(LANGFUSE)
    refund = next(o for o in data["observations"] if o["name"] == "refund")
    refund.update(level="ERROR", statusMessage="PermissionError: needs approval", output=None)
    generation = data["observations"][5]
    generation.update(level="ERROR", statusMessage=None)
    traj = Trajectory.load(data)
    assert tool(traj, "refund").error == "PermissionError: needs approval"
    assert traj.llm_calls[2].error == "error"


def test_older_sdks_spans_usage_and_snake_case() -> None:
    data = raw(LANGFUSE)
    for observation in data["observations"]:
        if observation["type"] == "TOOL":  # the v2 SDKs' @observe: a span, args and kwargs
            observation.update(type="SPAN", metadata={})
            observation["input"] = {"args": [], "kwargs": observation["input"]}
        elif observation["type"] == "GENERATION":
            for key in ("usageDetails", "costDetails", "calculatedTotalCost"):
                observation.pop(key)
            usage = observation.pop("usage")
            observation["promptTokens"] = usage["input"]
            observation["completionTokens"] = usage["output"]
            observation["parent_observation_id"] = observation.pop("parentObservationId")
            observation["start_time"] = observation.pop("startTime")
    traj = Trajectory.load({"data": [data]})
    assert [s.kind for s in traj.steps] == ["span", "llm", "tool", "llm", "tool", "llm"]
    assert [c.call_id for c in traj.tool_calls] == ["call_1_0", "call_2_0"]
    assert tool(traj, "refund").arguments == {"order_id": "ORD-1001", "amount": 45.0}
    assert [(c.input_tokens, c.output_tokens) for c in traj.llm_calls] == TOKENS["langfuse"]
    assert all(c.cost_usd for c in traj.llm_calls)  # priced from the price table
    assert all(c.parent_id == traj.steps[0].id for c in traj.llm_calls)


def test_a_span_that_no_model_asked_for_stays_a_span() -> None:
    data = raw(LANGFUSE)
    data["observations"][2].update(type="SPAN", name="audit")
    traj = Trajectory.load(data)
    kinds = [s.kind for s in traj.steps]
    assert kinds == ["span", "llm", "span", "tool", "llm", "tool", "llm"]
    assert traj.tool_names == ["lookup_order", "refund"]  # lookup_order from the conversation
    assert traj.tool_calls[0].source == "conversation"


def test_text_prompts_other_outputs_events_and_observation_lists() -> None:
    observations = [
        {
            "id": "g1",
            "traceId": "t1",
            "type": "GENERATION",
            "startTime": "2026-01-01T00:00:00Z",
            "input": "Summarise ORD-1",
            "output": {"choices": [{"message": {"role": "assistant", "content": "Fine."}}]},
            "model": "gpt-4o-mini",
            "usageDetails": {"input": 5, "output": 2, "input_cached_tokens": 1},
        },
        {"id": "e1", "traceId": "t1", "type": "EVENT", "name": "done", "level": "WARNING"},
        {"id": "g2", "traceId": "t2", "type": "GENERATION", "input": {"x": 1}, "output": [1]},
    ]
    first, second = list(Trajectory.load_all({"data": observations}, format="langfuse"))
    assert (first.id, second.id) == ("t1", "t2")
    model = first.llm_calls[0]
    assert model.input_messages == [{"role": "user", "content": "Summarise ORD-1"}]
    assert model.output_text == "Fine."
    assert (model.input_tokens, model.output_tokens, model.cached_tokens) == (5, 2, 1)
    event = first.steps[1]
    assert isinstance(event, SpanStep)
    assert event.attributes == {"type": "EVENT", "level": "WARNING"}
    other = second.llm_calls[0]
    assert other.input_messages == [{"role": "user", "content": '{"x": 1}'}]
    assert other.output_message == {"role": "assistant", "content": "[1]"}


def test_the_trace_list_s_observation_ids_are_a_clear_error() -> None:
    with pytest.raises(TrajectoryLoadError, match=r"observation ids only.*GET /api/public/traces"):
        Trajectory.load({"data": [{"id": "t1", "observations": ["o1"]}]}, format="langfuse")


# ---- bad input: one clear error ------------------------------------------------------------------


def _set(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    data = copy.deepcopy(data)
    target = data
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return data


TREE = raw(RUN_TREE)
LLM_AT = ("child_runs", 0, "child_runs", 0, "child_runs", 0, "child_runs", 1)
LANGSMITH_BAD = [
    (_set(TREE, ("id",), 5), "(root run): field `id`: expected the run id"),
    (_set(TREE, ("run_type",), None), "field `run_type`: expected the run type"),
    (_set(TREE, ("child_runs",), {}), "field `child_runs`: expected a list of runs"),
    (_set(TREE, ("child_runs", 0), "x"), "(root run).child_runs[0]: expected a run"),
    (_set(TREE, ("start_time",), "soon"), "field `start_time`: expected an ISO 8601"),
    (_set(TREE, ("inputs",), []), "field `inputs`: expected an object or null"),
    (_set(TREE, ("error",), 3), "field `error`: expected the error text"),
    (_set(TREE, ("parent_run_id",), 3), "field `parent_run_id`: expected a string or null"),
    (
        _set(TREE, (*LLM_AT, "inputs", "messages"), "hi"),
        "(run 01a230c9-673c-73fe-b2dc-438833875f30): field `inputs.messages`: expected a list",
    ),
    (
        _set(TREE, (*LLM_AT, "inputs", "messages", 0, 1), 7),
        "field `inputs.messages[0][1]`: expected a message",
    ),
    (
        _set(TREE, (*LLM_AT, "inputs", "messages", 0, 1, "id"), "x"),
        "field `inputs.messages[0][1].id`: expected the message class path",
    ),
    (
        _set(
            TREE, (*LLM_AT, "outputs", "generations", 0, 0, "message", "kwargs", "tool_calls"), [3]
        ),
        "field `outputs.generations[0][0].message.kwargs.tool_calls[0]`: expected a tool call",
    ),
    (
        _set(TREE, (*LLM_AT, "outputs", "generations"), {}),
        "field `outputs.generations`: expected a list",
    ),
    ({"post": "x"}, "(top level): field `post`: expected a list of runs"),
    ({"post": [], "patch": [{"id": 3}]}, "patch[0]: field `id`: expected the run id"),
    ([], "LangSmith runs with no run in them"),
    (7, "not LangSmith runs"),
]


@pytest.mark.parametrize(("data", "message"), LANGSMITH_BAD)
def test_broken_langsmith_runs_name_the_run_and_the_field(data: Any, message: str) -> None:
    with pytest.raises(TrajectoryLoadError) as caught:
        Trajectory.load(data, format="langsmith")
    text = str(caught.value)
    assert text.startswith("<trajectory data>: "), text
    assert message in text
    assert "\n" not in text


TRACE = raw(LANGFUSE)
LANGFUSE_BAD = [
    (_set(TRACE, ("id",), None), "(top level): field `id`: expected the trace id"),
    (_set(TRACE, ("observations",), {}), "field `observations`: expected a list"),
    (_set(TRACE, ("observations", 1), 4), "observations[1]: expected an observation"),
    (_set(TRACE, ("observations", 1, "id"), 4), "observations[1]: field `id`: expected the"),
    (
        _set(TRACE, ("observations", 1, "startTime"), "later"),
        "observations[1] (observation eb7a79959588532d): field `startTime`: expected an ISO",
    ),
    (_set(TRACE, ("observations", 1, "type"), 1), "field `type`: expected the observation type"),
    (_set(TRACE, ("observations", 1, "model"), 1), "field `model`: expected a string or null"),
    (_set(TRACE, ("userId",), 1), "field `userId`: expected a string or null"),
    (_set(TRACE, ("tags",), "x"), "field `tags`: expected a list of strings"),
    ({"data": 3}, "field `data`: expected a list of traces"),
    ({"data": [3]}, "data[0]: expected a trace"),
    ({"data": []}, "a Langfuse export with no trace in it"),
    (7, "not a Langfuse export"),
]


@pytest.mark.parametrize(("data", "message"), LANGFUSE_BAD)
def test_broken_langfuse_traces_name_the_observation_and_the_field(data: Any, message: str) -> None:
    with pytest.raises(TrajectoryLoadError) as caught:
        Trajectory.load(data, format="langfuse")
    text = str(caught.value)
    assert text.startswith("<trajectory data>: "), text
    assert message in text
    assert "\n" not in text


# ---- hostile input: only TrajectoryLoadError escapes ---------------------------------------------


def _small(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs that make steps worth mutating (root, the model, the tools, one chain), without
    their `serialized` constructors."""
    keep = [r for r in runs if r["run_type"] != "chain" or r["name"] in ("support-agent", "tools")]
    return [{k: v for k, v in r.items() if k != "serialized"} for r in keep]


def _small_tree(tree: dict[str, Any]) -> dict[str, Any]:
    tree = {k: v for k, v in tree.items() if k != "serialized"}
    tree["child_runs"] = [copy.deepcopy(c) for c in tree["child_runs"][:2]]
    return tree


LANGSMITH_SEEDS: list[Any] = [
    _small(raw(RUNS)),
    {"post": _small(raw(INGEST)[0]["body"]["post"])},
    _small_tree(raw(RUN_TREE)),
]
LANGFUSE_SEEDS: list[Any] = [raw(LANGFUSE), {"data": [raw(LANGFUSE)]}]


def test_the_seeds_load(tmp_path: Path) -> None:
    seeds = [(d, "langsmith") for d in LANGSMITH_SEEDS] + [(d, "langfuse") for d in LANGFUSE_SEEDS]
    for data, format in seeds:
        traj = Trajectory.load(copy.deepcopy(data), format=format)
        assert traj.tool_names == ["lookup_order", "refund"] or len(traj.llm_calls) == 1
        holds_for_a_loaded(traj, tmp_path)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("langsmith-langfuse-fuzz")


def _only_its_error(importer: Any, data: Any) -> None:
    try:
        found = importer(data, source="fuzz")
    except TrajectoryLoadError as exc:
        message = str(exc)
        assert message.startswith("fuzz: "), message
        assert "\n" not in message.strip(), message
        return
    assert isinstance(found, list)
    for item in found:
        loaded_or_error(lambda item=item: Trajectory.load(item, format="native"))  # type: ignore[misc]


@pytest.mark.fuzz
@fuzz_settings(40)
@given(data=mutated_data(LANGSMITH_SEEDS))
def test_langsmith_runs_with_wrong_fields_are_one_clear_error(scratch: Path, data: Any) -> None:
    _only_its_error(trajectories_from_langsmith, copy.deepcopy(data))
    for trajectory in all_or_error(lambda: list(Trajectory.load_all(data, format="langsmith"))):
        holds_for_a_loaded(trajectory, scratch)


@pytest.mark.fuzz
@fuzz_settings(40)
@given(data=mutated_data(LANGFUSE_SEEDS))
def test_langfuse_traces_with_wrong_fields_are_one_clear_error(scratch: Path, data: Any) -> None:
    _only_its_error(trajectories_from_langfuse, copy.deepcopy(data))
    for trajectory in all_or_error(lambda: list(Trajectory.load_all(data, format="langfuse"))):
        holds_for_a_loaded(trajectory, scratch)


def test_steps_are_the_model_s_types() -> None:
    traj = load(RUN_TREE)
    assert {type(s) for s in traj.steps} == {SpanStep, LLMCall, ToolCall}
