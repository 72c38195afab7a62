from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_agentops import LLMCall, ToolCall, Trajectory, TrajectoryLoadError

MESSAGES = [
    {"role": "system", "content": "You are a support agent."},
    {"role": "user", "content": "Refund order 7 please, I'm C1 a@x.io"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_a",
                "type": "function",
                "function": {"name": "verify_identity", "arguments": '{"customer_id": "C1"}'},
            },
            {
                "id": "call_b",
                "type": "function",
                "function": {"name": "lookup_order", "arguments": '{"order_id": "7"}'},
            },
        ],
    },
    {"role": "tool", "tool_call_id": "call_b", "content": '{"error": "order 7 not found"}'},
    {"role": "tool", "tool_call_id": "call_a", "content": '{"verified": true}'},
    {"role": "assistant", "content": "Sorry, I cannot find order 7."},
]


def test_from_openai_messages_builds_llm_and_tool_steps() -> None:
    traj = Trajectory.from_openai_messages(MESSAGES)
    assert [s.kind for s in traj.steps] == ["llm", "tool", "tool", "llm"]
    assert traj.tool_names == ["lookup_order", "verify_identity"]
    lookup, verify = traj.tool_calls
    assert lookup.arguments == {"order_id": "7"}
    assert lookup.error == "order 7 not found"
    assert not lookup.ok
    assert verify.ok
    assert verify.result == {"verified": True}
    assert verify.call_id == "call_a"
    first = traj.llm_calls[0]
    assert [r.name for r in first.requested_tool_calls] == ["verify_identity", "lookup_order"]
    assert len(first.input_messages) == 2
    assert traj.input == "Refund order 7 please, I'm C1 a@x.io"
    assert traj.output == "Sorry, I cannot find order 7."


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ({"content": "Error: timeout talking to CRM"}, "Error: timeout talking to CRM"),
        ({"content": "exception raised"}, "exception raised"),
        ({"content": "done", "is_error": True}, "done"),
        ({"content": '{"error": {"code": 4}}'}, '{"code": 4}'),
        ({"content": "Errors are rare"}, None),
        ({"content": '{"error": null, "ok": 1}'}, None),
    ],
)
def test_tool_result_error_detection(message: dict, error: str | None) -> None:
    msgs = [
        {"role": "user", "content": "x"},
        {
            "role": "assistant",
            "tool_calls": [{"id": "c", "function": {"name": "t", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c", **message},
    ]
    assert Trajectory.from_openai_messages(msgs).tool_calls[0].error == error


def test_legacy_function_call_messages() -> None:
    msgs = [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "function_call": {"name": "weather", "arguments": '{"city": "Oslo"}'},
        },
        {"role": "function", "name": "weather", "content": "rain"},
    ]
    traj = Trajectory.from_openai_messages(msgs)
    assert traj.tool_calls[0].arguments == {"city": "Oslo"}
    assert traj.tool_calls[0].result == "rain"


def test_invalid_json_arguments_are_kept_raw() -> None:
    msgs = [
        {
            "role": "assistant",
            "tool_calls": [{"id": "c", "function": {"name": "t", "arguments": "{oops"}}],
        },
    ]
    assert (
        Trajectory.from_openai_messages(msgs).llm_calls[0].requested_tool_calls[0].arguments
        == "{oops"
    )


def test_tool_result_without_request_or_name_is_a_clear_error() -> None:
    with pytest.raises(TrajectoryLoadError, match=r"message \[0\].*tool_call_id 'zzz'"):
        Trajectory.from_openai_messages([{"role": "tool", "tool_call_id": "zzz", "content": "x"}])


def _traj() -> Trajectory:
    return Trajectory(
        name="t",
        steps=[
            LLMCall(model="gpt-4o-mini", input_tokens=10, output_tokens=5, cost_usd=0.001),
            ToolCall(name="lookup", arguments={"id": 1}, result={"ok": True}, duration_ms=3),
            ToolCall(name="refund", arguments={"amount": 250.0}, error="PermissionError: no"),
            LLMCall(model="gpt-4o-mini", input_tokens=20, output_tokens=7, cost_usd=0.002),
        ],
    )


def test_derived_totals() -> None:
    traj = _traj()
    assert traj.tool_names == ["lookup", "refund"]
    assert (traj.input_tokens, traj.output_tokens, traj.total_tokens) == (30, 12, 42)
    assert traj.cost_usd == pytest.approx(0.003)
    totals = traj.totals()
    assert (totals.steps, totals.tool_calls, totals.llm_calls) == (4, 2, 2)
    assert [c.ok for c in traj.tool_calls] == [True, False]


@pytest.mark.parametrize("suffix", [".json", ".yaml", ".yml"])
def test_dump_and_load_round_trip(tmp_path: Path, suffix: str) -> None:
    traj = _traj()
    path = tmp_path / f"t{suffix}"
    traj.dump(path)
    text = path.read_text()
    body = text.split("\n", 1)[1] if text.startswith("#") else text.lstrip("{\n ")
    assert body.startswith(('"schema_version"', "schema_version"))
    assert Trajectory.load(path) == traj
    assert Trajectory.load(str(path), format="native") == traj


def test_load_accepts_parsed_data_and_openai_messages(tmp_path: Path) -> None:
    traj = _traj()
    assert Trajectory.load(traj.to_jsonable()) == traj
    path = tmp_path / "messages.json"
    path.write_text(json.dumps({"messages": MESSAGES}))
    assert Trajectory.load(path).tool_names == ["lookup_order", "verify_identity"]


def test_load_truncated_json_names_file_and_position(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text(_traj().dump()[:120])
    with pytest.raises(TrajectoryLoadError) as info:
        Trajectory.load(path)
    message = str(info.value)
    assert str(path) in message
    assert "not valid JSON at line" in message
    assert "truncated" in message


def test_load_truncated_yaml(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text('schema_version: 1\nsteps:\n  - kind: tool\n    name: "unterminated\n')
    with pytest.raises(TrajectoryLoadError, match=r"broken.yaml: not valid YAML at line \d+"):
        Trajectory.load(path)


def test_load_wrong_schema_names_the_field(tmp_path: Path) -> None:
    data = _traj().to_jsonable()
    data["steps"][2]["arguments"] = "not a dict"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(TrajectoryLoadError) as info:
        Trajectory.load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: field `steps[2].arguments`")
    assert "Traceback" not in message
    assert "pydantic" not in message.lower()


def test_load_unknown_step_kind_and_unknown_key(tmp_path: Path) -> None:
    data = _traj().to_jsonable()
    data["steps"][0]["kind"] = "tol"
    with pytest.raises(TrajectoryLoadError, match=r"field `steps\[0\]`.*'tol'"):
        Trajectory.load(data)
    data = _traj().to_jsonable()
    data["steps"][1]["argumnts"] = {}
    with pytest.raises(TrajectoryLoadError, match=r"field `steps\[1\].argumnts`: Extra inputs"):
        Trajectory.load(data)


def test_load_future_schema_version_says_how_to_fix(tmp_path: Path) -> None:
    path = tmp_path / "new.json"
    path.write_text(json.dumps({"schema_version": 2, "steps": []}))
    with pytest.raises(
        TrajectoryLoadError, match=r"schema_version 2.*pip install -U pytest-agentops"
    ):
        Trajectory.load(path)


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        ("", "the file is empty"),
        ("42", "cannot tell the trace format"),
        ("[1, 2]", r"message \[0\]"),
    ],
)
def test_load_other_bad_input(tmp_path: Path, content: str, pattern: str) -> None:
    path = tmp_path / "x.json"
    path.write_text(content)
    with pytest.raises(TrajectoryLoadError, match=pattern):
        Trajectory.load(path)


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TrajectoryLoadError, match="no such file"):
        Trajectory.load(tmp_path / "nope.json")


def test_dump_is_atomic_and_leaves_no_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "t.json"
    _traj().dump(path)
    _traj().dump(path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["t.json"]


ANTHROPIC_TRACE = {
    "model": "claude-3-5-haiku-20241022",
    "system": "You are a support agent.",
    "messages": [
        {"role": "user", "content": "Refund $900 for ORD-1002, I'm C1001."},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Refunding now."},
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "refund",
                    "input": {"order_id": "ORD-1002", "amount": 900},
                },
                {"type": "tool_use", "id": "toolu_2", "name": "notify", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": '{"ok": true}'},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_2",
                    "content": [{"type": "text", "text": "mail server down"}],
                    "is_error": True,
                },
            ],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "Done: $900 refunded."}]},
    ],
}


@pytest.mark.parametrize("where", ["document", "messages only"])
def test_anthropic_messages_are_read_with_their_tool_calls(where: str) -> None:
    data: Any = ANTHROPIC_TRACE if where == "document" else ANTHROPIC_TRACE["messages"]
    traj = Trajectory.load(data)
    assert traj.tool_names == ["refund", "notify"]
    refund, notify = traj.tool_calls
    assert refund.arguments == {"order_id": "ORD-1002", "amount": 900}
    assert (refund.result, refund.call_id) == ({"ok": True}, "toolu_1")
    assert (notify.ok, notify.error) == (False, "mail server down")
    assert traj.output == "Done: $900 refunded."
    assert traj.metadata["source_format"] == "anthropic-messages"
    if where == "document":
        assert traj.llm_calls[0].model == "claude-3-5-haiku-20241022"
        assert traj.llm_calls[0].input_messages[0] == {
            "role": "system",
            "content": "You are a support agent.",
        }


def test_a_trace_read_in_the_wrong_format_is_refused() -> None:
    with pytest.raises(TrajectoryLoadError, match=r"message \[1\].*tool_use.*format='anthropic'"):
        Trajectory.load(ANTHROPIC_TRACE["messages"], format="openai")
    responses_items = [{"type": "function_call", "call_id": "c1", "name": "t", "arguments": "{}"}]
    with pytest.raises(TrajectoryLoadError, match=r"OpenAI Responses item.*'openai-responses'"):
        Trajectory.load(responses_items, format="openai")
    assert Trajectory.load(responses_items).tool_calls == []  # detected: a request, no result


def test_yaml_trajectories_refuse_aliases_and_tags(tmp_path: Path) -> None:
    laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(20)
    )
    path = tmp_path / "laughs.yaml"
    path.write_text(laughs)
    with pytest.raises(TrajectoryLoadError, match=r"laughs\.yaml at line 1: YAML anchors"):
        Trajectory.load(path)
    path.write_text("schema_version: 1\nsteps: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(TrajectoryLoadError, match=r"YAML tag '!!python/object/apply:os.system'"):
        Trajectory.load(path)


@pytest.mark.parametrize(
    ("data", "pattern"),
    [
        ({"schema_version": True, "steps": []}, "schema_version"),
        ({"schema_version": 1.0, "steps": []}, "schema_version"),
        ({"steps": [{"kind": "llm", "input_tokens": -1}]}, r"steps\[0\]\.input_tokens"),
        ({"steps": [{"kind": "llm", "cost_usd": float("nan")}]}, r"steps\[0\]\.cost_usd"),
        ({"steps": [{"kind": "llm", "cost_usd": float("inf")}]}, r"steps\[0\]\.cost_usd"),
        ({"steps": [{"kind": "llm", "cost_usd": -0.5}]}, r"steps\[0\]\.cost_usd"),
        ({"steps": [{"kind": "tool", "name": "t", "duration_ms": -3}]}, r"steps\[0\]\.duration_ms"),
    ],
)
def test_impossible_values_are_refused(data: dict, pattern: str) -> None:
    with pytest.raises(TrajectoryLoadError, match=pattern):
        Trajectory.load(data)


@pytest.mark.parametrize(
    "tool_calls",
    [
        "lookup",
        ["lookup"],
        True,
        [{"id": "c1", "function": "lookup"}],
        [{"id": ["c1"], "function": {"name": "lookup", "arguments": "{}"}}],
    ],
)
def test_openai_tool_calls_of_the_wrong_shape_are_a_clear_error(tool_calls: object) -> None:
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": None, "tool_calls": tool_calls},
    ]
    with pytest.raises(TrajectoryLoadError, match=r"message \[1\]: field `tool_calls`"):
        Trajectory.load(messages)


def test_a_tool_result_answering_a_call_id_that_is_not_a_string_is_a_clear_error() -> None:
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "tool", "tool_call_id": ["c1"], "content": "ok"},
    ]
    with pytest.raises(TrajectoryLoadError, match=r"message \[1\]: field `tool_call_id`"):
        Trajectory.load(messages)


@pytest.mark.parametrize(
    "content",
    [
        [{"type": "text", "text": ["not", "text"]}],  # was a TypeError from str.join
        [{"type": ["tool_use"], "id": "x"}],  # was "unhashable type: 'list'"
    ],
)
def test_anthropic_blocks_of_the_wrong_type_do_not_crash_the_import(content: object) -> None:
    data = {"system": "s", "messages": [{"role": "user", "content": content}]}
    trajectory = Trajectory.load(data)
    assert trajectory.steps == []


def test_a_yaml_error_is_reported_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / "trace.yaml"
    path.write_bytes(b"\x00steps: []\n")
    with pytest.raises(TrajectoryLoadError) as caught:
        Trajectory.load(path)
    assert "\n" not in str(caught.value)
    assert "not valid YAML" in str(caught.value)


def test_absurdly_deep_files_are_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text(
        '{"steps": [{"kind": "tool", "name": "t", "result": ' + "[" * 10_000 + "]" * 10_000 + "}]}"
    )
    with pytest.raises(TrajectoryLoadError, match="nested"):
        Trajectory.load(path)


@pytest.mark.parametrize("depth", [150, 900])
def test_a_trajectory_that_loads_can_be_written_back(tmp_path: Path, depth: int) -> None:
    # Deep enough for json to read but too deep for pydantic to write: refused on load.
    path = tmp_path / "deep.json"
    result = "[" * depth + "]" * depth
    path.write_text('{"steps": [{"kind": "tool", "name": "t", "result": ' + result + "}]}")
    with pytest.raises(TrajectoryLoadError, match="nest more than 100 levels"):
        Trajectory.load(path)
    with pytest.raises(TrajectoryLoadError, match="nest more than 100 levels"):
        Trajectory.load(json.loads(path.read_text()))


def test_writing_a_too_deep_trajectory_is_a_clear_error() -> None:
    value: Any = "x"
    for _ in range(400):
        value = [value]
    with pytest.raises(ValueError, match="nests too deeply to be written"):
        Trajectory(name="deep", output=value).dump()


def test_a_yaml_trajectory_cut_short_at_a_line_boundary_is_refused(tmp_path: Path) -> None:
    traj = Trajectory(
        name="run",
        steps=[ToolCall(name=f"t{i}", arguments={"i": i}, result=i) for i in range(5)],
        output="done",
    )
    path = tmp_path / "run.yaml"
    traj.dump(path)
    text = path.read_text()
    assert Trajectory.load(path).tool_names == [f"t{i}" for i in range(5)]
    lines = text.splitlines(keepends=True)
    partial = 0
    for cut in range(2, len(lines)):
        path.write_text("".join(lines[:cut]))
        with pytest.raises(TrajectoryLoadError, match=r"cut short|not valid YAML"):
            Trajectory.load(path)
        partial += 1
    assert partial > 10
    # a hand-written YAML trajectory (no header) needs no end marker
    path.write_text("schema_version: 1\nsteps:\n  - {kind: tool, name: t}\n")
    assert Trajectory.load(path).tool_names == ["t"]


def test_yaml_dumps_keep_every_character(tmp_path: Path) -> None:
    # PyYAML's own emitter wrote U+0085 raw, and it came back as a space (found by fuzzing)
    text = "a\x85b\u2028c\u2029d\ufeffe\r\nf\x00g"
    traj = Trajectory(steps=[ToolCall(name="t", arguments={"k": text}, result=text)])
    for suffix in ("yaml", "json"):
        path = tmp_path / f"t.{suffix}"
        traj.dump(path)
        assert Trajectory.load(path).to_jsonable() == traj.to_jsonable()
