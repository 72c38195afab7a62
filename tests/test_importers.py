"""Trace importers on real exports: OTLP (GenAI conventions in both content modes, protobuf's
JSON mapping, the collector's JSON Lines), OpenInference, OpenLLMetry, OpenAI Responses items;
format detection, many trajectories per file, errors, the import hook and the command line.

The fixtures in tests/data/traces/ were made by the real instrumentation libraries against the
example's scripted model (tests/data/traces/generate_traces.py, README.md there).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_agentops import Trajectory, TrajectoryLoadError, assert_tool_calls, call
from pytest_agentops.cli import main as cli_main
from pytest_agentops.policy import parse_policy
from pytest_agentops.trajectory.importers.registry import FORMATS, detect
from trace_fixtures import TRACES

ROOT = Path(__file__).resolve().parents[1]

#: Files whose spans carry the whole run (messages, tool calls, tokens).
COMPLETE = [
    "otel_genai_latest_otlp.json",
    "otel_genai_latest_protobuf_json.json",  # base64 ids, enum names, int64 as strings
    "openinference_otlp.json",
    "openllmetry_otlp.json",
]
TOKENS = [(332, 31), (428, 34), (510, 38)]
ANSWER = "Done: I've refunded $45.00 for ORD-1001 (refund RF-1)."


def check_the_refund_run(traj: Trajectory) -> None:
    assert traj.tool_names == ["lookup_order", "refund"]
    lookup, refund = traj.tool_calls
    assert lookup.arguments == {"order_id": "ORD-1001"}
    assert refund.arguments == {"order_id": "ORD-1001", "amount": 45.0}
    assert lookup.result["status"] == "shipped"
    assert refund.result == {
        "refund_id": "RF-1",
        "order_id": "ORD-1001",
        "amount": 45.0,
        "status": "issued",
    }
    assert (lookup.call_id, refund.call_id) == ("call_1_0", "call_2_0")
    llm = traj.llm_calls
    assert [(c.input_tokens, c.output_tokens) for c in llm] == TOKENS
    assert {c.model for c in llm} == {"gpt-4o-mini"}
    assert all(c.cost_usd for c in llm)  # priced from the table: traces carry no cost
    assert [[r.name for r in c.requested_tool_calls] for c in llm] == [
        ["lookup_order"],
        ["refund"],
        [],
    ]
    assert traj.input == "Refund order ORD-1001 for customer C1001."
    assert str(traj.output).startswith(ANSWER)
    # every step in start order, the calls nested in the agent's span
    starts = [s.started_at for s in traj.steps]
    assert starts == sorted(starts)
    assert all(s.duration_ms is not None and s.duration_ms >= 0 for s in traj.steps)
    assert_tool_calls(
        traj,
        [
            call("lookup_order", order_id="ORD-1001"),
            call("refund", order_id="ORD-1001", amount=45.0),
        ],
        mode="strict",
    )


@pytest.mark.parametrize("name", COMPLETE)
def test_a_complete_export_reads_as_the_run_it_recorded(name: str) -> None:
    traj = Trajectory.load(TRACES / name)
    check_the_refund_run(traj)
    assert traj.metadata["source_format"] == "otlp"
    assert traj.metadata["service"] == "support-agent"
    agent = next(s for s in traj.steps if s.kind == "span")
    assert agent.name == "support"
    assert {s.parent_id for s in traj.steps if s is not agent} == {agent.id}


def test_hex_and_base64_ids_read_the_same() -> None:
    hex_ids = Trajectory.load(TRACES / "otel_genai_latest_otlp.json")
    base64_ids = Trajectory.load(TRACES / "otel_genai_latest_protobuf_json.json")
    assert hex_ids.to_jsonable() == base64_ids.to_jsonable()
    assert hex_ids.id == "79c8c2926b94b5b5749882321e35049e"


def test_conventions_are_named_in_the_metadata() -> None:
    def conventions(name: str) -> list[str]:
        return list(Trajectory.load(TRACES / name).metadata["conventions"])

    assert conventions("openinference_otlp.json") == ["openinference"]
    assert conventions("openllmetry_otlp.json") == ["gen_ai", "openllmetry"]
    assert conventions("otel_genai_latest_otlp.json") == ["gen_ai"]


def test_spans_without_content_give_the_calls_and_their_ids() -> None:
    # the default mode of opentelemetry-instrumentation-openai-v2 puts content in log events
    traj = Trajectory.load(TRACES / "otel_genai_otlp.json")
    assert traj.tool_names == ["lookup_order", "refund"]
    assert [c.call_id for c in traj.tool_calls] == ["call_1_0", "call_2_0"]
    assert [(c.input_tokens, c.output_tokens) for c in traj.llm_calls] == TOKENS
    assert traj.llm_calls[0].response_id == "chatcmpl-5e2dad63112ec14853c0f3d0"


def test_log_events_in_the_same_file_bring_the_messages(tmp_path: Path) -> None:
    spans = json.loads((TRACES / "otel_genai_otlp.json").read_text())
    logs = json.loads((TRACES / "otel_genai_logs_otlp.json").read_text())
    both = tmp_path / "export.jsonl"
    both.write_text(json.dumps(spans) + "\n" + json.dumps(logs) + "\n")
    check_the_refund_run(Trajectory.load(both))


def test_a_collector_file_gives_one_trajectory_per_trace() -> None:
    ok, failed = Trajectory.load_all(TRACES / "otel_genai_latest_collector.jsonl")
    check_the_refund_run(ok)
    refund = failed.tool_calls[1]
    assert refund.name == "refund"
    assert refund.arguments == {"order_id": "ORD-1003", "amount": 129.0}
    assert refund.error is not None
    assert "manager approval" in refund.error
    assert "didn't go through" in str(failed.output)


def test_load_says_how_to_pick_one_of_many() -> None:
    path = TRACES / "otel_genai_latest_collector.jsonl"
    with pytest.raises(TrajectoryLoadError, match=r"holds 2 trajectories .*trace_id="):
        Trajectory.load(path)
    picked = Trajectory.load(path, trace_id="5b08acc213a5bf07da1b195060c40eb7")
    assert picked.id == "5b08acc213a5bf07da1b195060c40eb7"
    with pytest.raises(TrajectoryLoadError, match=r"no trace with id 'nope'; the file has: 79c8"):
        Trajectory.load(path, trace_id="nope")


@pytest.mark.parametrize("name", [*COMPLETE, "otel_genai_latest_collector.jsonl"])
def test_import_then_dump_then_load_is_the_identity(name: str, tmp_path: Path) -> None:
    for index, traj in enumerate(Trajectory.load_all(TRACES / name)):
        for suffix in ("json", "yaml"):
            path = tmp_path / f"{index}.{suffix}"
            traj.dump(path)
            again = Trajectory.load(path)
            assert again.to_jsonable() == traj.to_jsonable()


def test_policies_check_imported_traces() -> None:
    policy = parse_policy(
        "schema_version: 1\nname: p\nrules:\n"
        "  - {id: cap, tool: refund, args: {amount: {le: 10}}}\n"
        "  - {id: verify-first, require_before: {tool: lookup_order, first: verify_identity}}\n"
    )
    for name in COMPLETE:
        violations = policy.check(Trajectory.load(TRACES / name))
        assert sorted(v.rule_id for v in violations) == ["cap", "verify-first"], name


# ---- detection and errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"resourceSpans": []}, "otlp"),
        ({"schema_version": 1, "steps": []}, "native"),
        ([{"role": "user", "content": "hi"}], "openai"),
        ({"system": "s", "messages": []}, "anthropic"),
        (
            [{"type": "function_call", "call_id": "c", "name": "t", "arguments": "{}"}],
            "openai-responses",
        ),
        ({"id": "t", "observations": []}, "langfuse"),
        ({"run_type": "chain", "child_runs": []}, "langsmith"),
        ({"trace": {}, "spans": []}, "openai-agents"),
        ({"something": "else"}, "unknown"),
    ],
)
def test_the_format_is_detected_from_the_content(data: Any, expected: str) -> None:
    assert detect(data) == expected


def test_an_unknown_shape_lists_the_formats_tried(tmp_path: Path) -> None:
    path = tmp_path / "trace.json"
    path.write_text('{"spans": "x", "trace_id": 1}')
    with pytest.raises(TrajectoryLoadError) as caught:
        Trajectory.load(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: cannot tell the trace format (got dict with keys spans")
    for name in FORMATS:
        if name != "auto":
            assert f"{name}: " in message


def span(**fields: Any) -> dict[str, Any]:
    base = {
        "traceId": "0af7651916cd43dd8448eb211c80319c",
        "spanId": "b7ad6b7169203331",
        "name": "chat",
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000001000000000",
        "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}}],
    }
    base.update(fields)
    return {"resourceSpans": [{"scopeSpans": [{"spans": [base]}]}]}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (span(traceId="xyz"), r"traceId: 'xyz' is not a 16-byte id \(32 hex digits"),
        (span(spanId=7), r"spanId: an id must be a string, got 7"),
        (
            span(attributes=[{"key": "a", "value": {"intValue": "many"}}]),
            r"span b7ad6b7169203331\.attributes\.a: intValue must be an integer, got 'many'",
        ),
        (
            span(attributes=[{"key": "a", "value": {"mystery": 1}}]),
            r"attributes\.a: unknown AnyValue kind 'mystery'",
        ),
        (span(attributes="x"), r"attributes must be a list of \{key, value\}"),
        (
            {"resourceSpans": [{"scopeSpans": "x"}]},
            r"resourceSpans\[0\]\.scopeSpans: expected a list",
        ),
        (span(startTimeUnixNano="soon"), r"startTimeUnixNano: expected an integer"),
        ({"resourceSpans": []}, r"an OTLP export with no spans in it"),
    ],
)
def test_a_broken_otlp_export_names_the_span_and_the_field(
    tmp_path: Path, document: Any, message: str
) -> None:
    path = tmp_path / "export.json"
    path.write_text(json.dumps(document))
    with pytest.raises(TrajectoryLoadError, match=rf"^{path}: (\(top level\)\.)?.*{message}"):
        Trajectory.load(path)


def test_a_broken_line_of_json_lines_is_named_by_its_number(tmp_path: Path) -> None:
    lines = (TRACES / "otel_genai_latest_collector.jsonl").read_text().splitlines()
    path = tmp_path / "export.jsonl"
    path.write_text(lines[0] + "\n" + lines[1][:50] + "\n")
    with pytest.raises(TrajectoryLoadError, match=rf"^{path}:2: not valid JSON at column"):
        list(Trajectory.load_all(path))


def test_json_lines_of_native_trajectories_and_of_conversations(tmp_path: Path) -> None:
    one = Trajectory.load(TRACES / "openinference_otlp.json")
    path = tmp_path / "runs.jsonl"
    conversation = [
        {"role": "user", "content": "Where is ORD-1?"},
        {"role": "assistant", "content": "It shipped."},
    ]
    path.write_text(one.dump(format="json").replace("\n", "") + "\n" + json.dumps(conversation))
    native, chat = Trajectory.load_all(path)
    assert native.to_jsonable() == one.to_jsonable()
    assert chat.output == "It shipped."


# ---- OpenAI Responses items --------------------------------------------------------------------


RESPONSES = {
    "input": [
        {"role": "user", "content": "Refund ORD-1"},
        {
            "type": "function_call",
            "call_id": "c1",
            "name": "lookup_order",
            "arguments": '{"order_id": "ORD-1"}',
        },
        {"type": "function_call_output", "call_id": "c1", "output": '{"total": 30.0}'},
    ],
    "output": [
        {"type": "reasoning", "summary": []},
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Done."}],
        },
    ],
    "model": "gpt-4o-mini",
    "id": "resp_1",
    "usage": {"input_tokens": 100, "output_tokens": 5},
}


def test_openai_responses_items_read_as_a_run() -> None:
    traj = Trajectory.load(RESPONSES)
    assert traj.metadata["source_format"] == "openai-responses"
    (lookup,) = traj.tool_calls
    assert (lookup.name, lookup.arguments, lookup.result) == (
        "lookup_order",
        {"order_id": "ORD-1"},
        {"total": 30.0},
    )
    last = traj.llm_calls[-1]
    assert (last.input_tokens, last.output_tokens, last.response_id) == (100, 5, "resp_1")
    assert last.cost_usd
    assert traj.output == "Done."


# ---- the hook and the command line -------------------------------------------------------------

CUSTOM_FORMAT = """
def pytest_agentops_import_trace(data, format):
    if not (isinstance(data, dict) and data.get("kind") == "acme-trace"):
        return None
    return {
        "name": data["run"],
        "steps": [
            {"kind": "tool", "name": name, "arguments": args} for name, args in data["calls"]
        ],
    }
"""


def test_a_project_reads_its_own_trace_format_through_the_hook(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CUSTOM_FORMAT)
    pytester.makepyfile(
        test_acme="""
import json
from pytest_agentops import Trajectory, assert_tool_calls, call

def test_acme(tmp_path):
    path = tmp_path / "acme.json"
    path.write_text(json.dumps({"kind": "acme-trace", "run": "r1",
                                "calls": [["refund", {"amount": 5}]]}))
    traj = Trajectory.load(path)
    assert traj.name == "r1"
    assert_tool_calls(traj, [call("refund", amount=5)])
    assert Trajectory.load({"kind": "acme-trace", "run": "r2", "calls": []}).name == "r2"
"""
    )
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=1)


def test_the_command_line_uses_a_plugin_module_for_its_own_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "acme_importer.py").write_text(CUSTOM_FORMAT)
    trace = tmp_path / "acme.json"
    trace.write_text(
        json.dumps({"kind": "acme-trace", "run": "r1", "calls": [["delete_account", {}]]})
    )
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "schema_version: 1\nname: p\nrules:\n  - {id: no-delete, forbid_tools: [delete_account]}\n"
    )
    monkeypatch.chdir(tmp_path)
    from pytest_agentops.trajectory.importers import registry

    monkeypatch.setattr(registry, "CUSTOM", registry.CUSTOM)  # restored after the test
    before = list(registry.CUSTOM)
    try:
        assert cli_main(["check", str(trace), "--policy", str(policy)]) == 2
        assert "cannot tell the trace format" in capsys.readouterr().err
        code = cli_main(["check", str(trace), "--policy", str(policy), "--plugin", "acme_importer"])
        assert code == 1
        assert "[no-delete]" in capsys.readouterr().out
        assert cli_main(["check", str(trace), "--policy", str(policy), "--plugin", "nope_mod"]) == 2
        assert "--plugin nope_mod: cannot import it" in capsys.readouterr().err
    finally:
        registry.CUSTOM[:] = before


def test_check_reports_each_trace_of_a_file(capsys: pytest.CaptureFixture[str]) -> None:
    path = TRACES / "otel_genai_latest_collector.jsonl"
    policy = ROOT / "examples" / "policies" / "support.yaml"
    assert cli_main(["check", str(path), "--policy", str(policy)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert [line for line in out if line.startswith(str(path))] == [
        f"{path} [79c8c2926b94b5b5749882321e35049e]: 2 violation(s)",  # $45: no approval needed
        f"{path} [5b08acc213a5bf07da1b195060c40eb7]: 3 violation(s)",
    ]
    assert out[-1] == "2 trace(s) checked against support-agent: 5 violation(s)"
    assert cli_main(["check", str(path), "--policy", str(policy), "--trace-id", "nope"]) == 2


def test_convert_writes_the_native_form(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = TRACES / "otel_genai_latest_collector.jsonl"
    assert cli_main(["convert", str(source), "-o", str(tmp_path / "one.yaml")]) == 2
    assert "holds 2 trajectories" in capsys.readouterr().err
    assert cli_main(["convert", str(source), "-o", str(tmp_path / "all.jsonl")]) == 0
    converted = list(Trajectory.load_all(tmp_path / "all.jsonl"))
    assert [t.to_jsonable() for t in converted] == [
        t.to_jsonable() for t in Trajectory.load_all(source)
    ]
    picked = tmp_path / "one.yaml"
    args = ["convert", str(source), "--trace-id", converted[1].id, "-o", str(picked)]
    assert cli_main(args) == 0
    assert Trajectory.load(picked).to_jsonable() == converted[1].to_jsonable()
    assert picked.read_text().startswith("# pytest-agentops trajectory")
