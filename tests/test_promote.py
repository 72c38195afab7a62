"""`pytest-agentops promote`: an incident trace (native, OpenAI messages, OTLP) becomes a case
file with provenance, the broken rules, expectations and masked secrets and personal data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_agentops import Trajectory
from pytest_agentops.cases.case import Case, CaseError
from pytest_agentops.cases.promote import cases_dir, promote
from pytest_agentops.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[1]
TRACES = ROOT / "tests" / "data" / "traces"
POLICY = ROOT / "examples" / "policies" / "support.yaml"
OTLP = TRACES / "otel_genai_latest_collector.jsonl"
FAILED_RUN = "5b08acc213a5bf07da1b195060c40eb7"
KEY = "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"

CONVERSATION = [
    {"role": "user", "content": "I'm ada@example.com, card 4111 1111 1111 1111. Refund ORD-9."},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "c1",
                "type": "function",
                "function": {
                    "name": "refund",
                    "arguments": json.dumps({"order_id": "ORD-9", "amount": 250, "key": KEY}),
                },
            }
        ],
    },
    {"role": "tool", "tool_call_id": "c1", "content": '{"status": "refunded"}'},
    {"role": "assistant", "content": "Refunded $250. Call me on +1 415 555 0134."},
]


def test_an_otlp_incident_becomes_a_case_with_the_rules_it_broke(tmp_path: Path) -> None:
    out = tmp_path / "tests" / "agent_cases"
    path, case = promote(
        str(OTLP),
        "refund-no-approval",
        out=out,
        trace_id=FAILED_RUN,
        policies=[str(POLICY)],
        forbid_tools=["delete_account"],
        note="refunded $129 without approval",
    )
    assert path == out / "refund-no-approval.case.yaml"
    loaded = Case.load(path)
    assert loaded == case
    assert loaded.provenance.format == "otlp"
    assert loaded.provenance.trace_id == FAILED_RUN
    assert loaded.input == "Refund order ORD-1003 for customer C1001."
    assert loaded.expect.violated_rules == [
        "refund-approval",
        "verify-before-refund",
        "verify-first",
    ]
    assert loaded.expect.forbid_tools == ["delete_account"]
    assert loaded.incident.tool_names == ["lookup_order", "refund"]
    assert [c.output_message is not None for c in loaded.incident.llm_calls] == [True] * 3
    # the policy is referred to relative to the case, so the project can move
    assert (path.parent / loaded.expect.policies[0]).resolve() == POLICY.resolve()


@pytest.mark.parametrize("kind", ["openai", "native"])
def test_other_formats_are_promoted_and_secrets_and_personal_data_masked(
    tmp_path: Path, kind: str
) -> None:
    trace = tmp_path / "incident.json"
    data = (
        CONVERSATION
        if kind == "openai"
        else json.loads(Trajectory.load(CONVERSATION).dump(format="json", redact=False))
    )
    trace.write_text(json.dumps(data))
    path, case = promote(str(trace), "leaky", out=tmp_path / "cases")
    text = path.read_text()
    for secret in (KEY, "ada@example.com", "4111 1111 1111 1111", "415 555 0134"):
        assert secret not in text, secret
    assert case.incident.tool_calls[0].arguments["amount"] == 250  # numbers stay numbers
    assert case.provenance.format == kind
    kept, _ = promote(str(trace), "kept", out=tmp_path / "cases", redact=False)
    assert "ada@example.com" in kept.read_text()


@pytest.mark.parametrize("name", ["../evil", "a/b", "", ".hidden", "x" * 101, "a..b"])
def test_names_cannot_leave_the_cases_directory(tmp_path: Path, name: str) -> None:
    with pytest.raises(CaseError, match=r"use letters, digits"):
        promote(str(OTLP), name, out=tmp_path, trace_id=FAILED_RUN)
    assert list(tmp_path.iterdir()) == []


def test_a_case_is_not_replaced_without_force(tmp_path: Path) -> None:
    path, _ = promote(str(OTLP), "once", out=tmp_path, trace_id=FAILED_RUN, note="first")
    with pytest.raises(CaseError, match=r"exists: pick another --name, or replace it with --force"):
        promote(str(OTLP), "once", out=tmp_path, trace_id=FAILED_RUN, note="second")
    assert Case.load(path).note == "first"
    promote(str(OTLP), "once", out=tmp_path, trace_id=FAILED_RUN, note="second", force=True)
    assert Case.load(path).note == "second"


def test_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cases"
    args = ["promote", str(OTLP), "--name", "r1", "--out", str(out), "--policy", str(POLICY)]
    assert cli_main(args) == 2  # two traces in the file: which one?
    assert "--trace-id" in capsys.readouterr().err
    assert cli_main([*args, "--trace-id", FAILED_RUN, "--judge", "apologises"]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out / 'r1.case.yaml'}: 3 LLM call(s), 2 tool call(s)" in printed
    assert "the incident broke: refund-approval, verify-before-refund, verify-first" in printed
    assert Case.load(out / "r1.case.yaml").expect.judge == ["apologises"]
    assert cli_main(["promote", str(tmp_path / "missing.json"), "--name", "x"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_the_cases_directory_comes_from_the_pytest_configuration(tmp_path: Path) -> None:
    assert cases_dir(tmp_path) == "tests/agent_cases"
    (tmp_path / "pyproject.toml").write_text(
        "[tool.pytest.ini_options]\nagentops_cases_dir = 'qa/incidents'\n"
    )
    deep = tmp_path / "src" / "pkg"
    deep.mkdir(parents=True)
    assert cases_dir(deep) == str(tmp_path / "qa" / "incidents")
    (deep / "pytest.ini").write_text("[pytest]\naddopts = -q\n")
    assert cases_dir(deep) == str(deep / "tests" / "agent_cases")


def test_a_broken_case_file_is_one_clear_error(tmp_path: Path) -> None:
    path, _ = promote(str(OTLP), "ok", out=tmp_path, trace_id=FAILED_RUN)
    text = path.read_text()
    path.write_text(text.replace("must_not_repeat: true", "must_not_repeat: sometimes"))
    with pytest.raises(CaseError, match=r"ok\.case\.yaml: field `expect\.must_not_repeat`"):
        Case.load(path)
    path.write_text(text + "extra: 1\n")
    with pytest.raises(CaseError, match=r"field `extra`"):
        Case.load(path)
    path.write_text("- just\n- a list\n")
    with pytest.raises(CaseError, match=r"a case file is a mapping"):
        Case.load(path)


def test_the_case_schema_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["schema", "case"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert {"provenance", "expect", "incident", "schema_version"} <= set(schema["properties"])
