from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_agentops.cli import main


def test_schema_prints_every_file_format(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schemas = json.loads(capsys.readouterr().out)
    assert set(schemas) == {"trajectory", "report", "policy", "case"}
    trajectory = schemas["trajectory"]
    assert next(iter(trajectory["properties"])) == "schema_version"
    kinds = {
        v["properties"]["kind"]["const"]
        for k, v in trajectory["$defs"].items()
        if "kind" in v.get("properties", {})
    }
    assert kinds == {"tool", "llm", "message", "span"}


def test_schema_of_one_format(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "report"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "Report"


def test_report_schema_describes_violations_and_verdicts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["schema", "report"]) == 0
    schema = json.loads(capsys.readouterr().out)
    entry = schema["$defs"]["TestEntry"]["properties"]
    assert entry["violations"]["items"] == {"$ref": "#/$defs/Violation"}
    assert entry["verdicts"]["items"] == {"$ref": "#/$defs/Verdict"}
    violation = schema["$defs"]["Violation"]["properties"]
    assert {"rule_id", "kind", "message", "step", "call"} <= set(violation)
    assert {"score", "passed", "threshold", "reasoning"} <= set(
        schema["$defs"]["Verdict"]["properties"]
    )


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "pytest-agentops"
    out = subprocess.run(
        [str(script), "--version"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert out.startswith("pytest-agentops ")


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "schema" in capsys.readouterr().out


def test_unknown_schema_name_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["schema", "nope"])
    assert info.value.code == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err


def test_schema_covers_policies(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schemas = json.loads(capsys.readouterr().out)
    assert {"trajectory", "report", "policy"} <= set(schemas)
    assert main(["schema", "policy"]) == 0
    policy = json.loads(capsys.readouterr().out)
    assert {"schema_version", "name", "rules"} <= set(policy["properties"])


class _ClosedPipe:
    """stdout of a command piped into `head`, after head has exited."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    def fileno(self) -> int:
        raise OSError("not a real file")


@pytest.mark.parametrize("args", [["schema"], ["--version"]])
def test_output_piped_into_head_does_not_raise(
    args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert main(args) == 0


def test_check_keeps_its_exit_status_when_the_pipe_closes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("schema_version: 1\nname: p\nrules:\n  - {id: no-t, forbid_tools: [t]}\n")
    trace = tmp_path / "t.json"
    trace.write_text(
        json.dumps(
            [
                {"role": "user", "content": "go"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c",
                            "type": "function",
                            "function": {"name": "t", "arguments": "{}"},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "c", "content": "ok"},
            ]
        )
    )
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert main(["check", str(trace), "--policy", str(policy)]) == 1


@pytest.mark.parametrize(
    "trace",
    [
        '{"schema_version": 1, "steps": [{"kind": "llm", "model": "m", "cost_usd": NaN}]}',
        '{"schema_version": true, "steps": []}',
        '[{"role": "assistant", "content": null, "tool_calls": "t"}]',
        '[{"role": "assistant", "content": null, "tool_calls": ["t"]}]',
        '[{"role": "assistant", "content": null, "tool_calls": true}]',
        '{"steps": [{"kind": "tool", "name": "t", "result": ' + "[" * 500 + "]" * 500 + "}]}",
        "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n",
    ],
    ids=[
        "nan-cost",
        "bool-version",
        "tool-calls-str",
        "tool-calls-strs",
        "tool-calls-bool",
        "deep",
        "yaml-aliases",
    ],
)
def test_check_refuses_a_broken_trace_with_exit_2(
    trace: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("schema_version: 1\nname: p\nrules:\n  - {id: no-t, forbid_tools: [t]}\n")
    path = tmp_path / ("t.yaml" if "&a" in trace else "t.json")
    path.write_text(trace)
    assert main(["check", str(path), "--policy", str(policy)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err
    assert "Traceback" not in err
