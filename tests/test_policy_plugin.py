"""Policies inside pytest (marker, ini, report, summary) and the `check` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_agentops.cli import main

POLICY = """\
schema_version: 1
name: support-agent
rules:
  - {id: never-delete, forbid_tools: [delete_account]}
  - {id: verify-first, require_before: {tool: lookup_order, first: verify_identity}}
  - id: refund-approval
    require_before: {tool: refund, when: {args.amount: {gt: 100}}, first: approve}
  - {id: budget, max_steps: 20, max_calls: {lookup_order: 3}}
"""

TESTS = """
import pytest

def run(trace, calls):
    for name, args in calls:
        trace.tool_call(name, args)

@pytest.mark.agentops_policy("policies/support.yaml")
def test_compliant(agent_trace):
    run(agent_trace, [("verify_identity", {}), ("lookup_order", {}), ("refund", {"amount": 50})])

@pytest.mark.agentops_policy("policies/support.yaml")
def test_refund_without_approval(agent_trace):
    run(agent_trace, [("verify_identity", {}), ("refund", {"order": "A", "amount": 250})])

def test_not_checked(agent_trace):
    run(agent_trace, [("delete_account", {})])
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.mkdir("policies")
    (pytester.path / "policies" / "support.yaml").write_text(POLICY)
    pytester.makepyfile(test_agent=TESTS)
    return pytester


def test_marker_policy_fails_the_test_with_rule_step_and_call(project: pytest.Pytester) -> None:
    result = project.runpytest("--agentops", "--agentops-report=r.json")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_refund_without_approval _*",
            "agentops policy violations (1):",
            "[[]refund-approval[]] step 2 refund(order='A', amount=250): refund was called*"
            "without an earlier successful approve*",
            "trajectory:",
            "> 2 tool  refund(order='A', amount=250)*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*agentops summary*",
            "failed*1*test_agent.py::test_refund_without_approval",
            "*policy violations (1):",
            "*test_agent.py::test_refund_without_approval",
            "*[[]refund-approval[]] step 2: refund was called*",
        ]
    )
    report = json.loads((project.path / "r.json").read_text())
    by_id = {t["nodeid"].split("::")[1]: t for t in report["tests"]}
    (violation,) = by_id["test_refund_without_approval"]["violations"]
    assert violation["rule_id"] == "refund-approval"
    assert violation["step"] == 2
    assert violation["call"] == {"name": "refund", "arguments": {"order": "A", "amount": 250}}
    assert by_id["test_compliant"]["violations"] == []
    assert by_id["test_not_checked"]["violations"] == []


def test_ini_policies_apply_to_every_recorded_test(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\nagentops_policies = policies/support.yaml\n")
    result = project.runpytest()
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["*[[]never-delete[]] step 1 delete_account()*"])


def test_policy_marker_records_without_the_fixture(pytester: pytest.Pytester) -> None:
    (pytester.path / "p.yaml").write_text(POLICY)
    pytester.makepyfile(
        """
        import pytest
        from pytest_agentops import tool

        @tool
        def delete_account(user):
            return "gone"

        @pytest.mark.agentops_policy("p.yaml")
        def test_deletes():
            delete_account("u1")
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*[[]never-delete[]] step 1 delete_account(user='u1')*"])


def test_a_failing_test_keeps_its_own_error_and_reports_violations(
    pytester: pytest.Pytester,
) -> None:
    (pytester.path / "p.yaml").write_text(POLICY)
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.agentops_policy("p.yaml")
        def test_both(agent_trace):
            agent_trace.tool_call("delete_account", {})
            assert 1 == 2, "own failure"
        """
    )
    result = pytester.runpytest("--agentops-report=r.json")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: own failure*", "*agentops policy violations*"])
    report = json.loads((pytester.path / "r.json").read_text())
    assert [v["rule_id"] for v in report["tests"][0]["violations"]] == ["never-delete"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("schema_version: 1\nname: x\nrules:\n  - {id: r1, forbid_tool: [a]}\n", "*p.yaml:4*r1*"),
        ("schema_version: 1\nname: x\nrules: [\n", "*p.yaml:*not valid YAML*"),
        ("a: &x [1]\nb: *x\n", "*p.yaml:1*anchors (&x) are not allowed*"),
    ],
)
def test_bad_policy_file_is_a_usage_error(
    pytester: pytest.Pytester, content: str, message: str
) -> None:
    (pytester.path / "p.yaml").write_text(content)
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.agentops_policy("p.yaml")
        def test_x(agent_trace):
            pass
        """
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert "Traceback" not in result.stderr.str()


def test_missing_policy_file_and_bad_marker_arguments(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.agentops_policy("nope.yaml")
        def test_x(agent_trace):
            pass
        """
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*policy file 'nope.yaml' not found (looked in:*"])
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.agentops_policy(42)
        def test_x(agent_trace):
            pass
        """
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*agentops_policy takes one or more policy file paths*"])


def test_policies_under_xdist(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("-n", "2", "--agentops-report=r.json")
    result.assert_outcomes(passed=2, failed=1)
    report = json.loads((project.path / "r.json").read_text())
    assert sum(len(t["violations"]) for t in report["tests"]) == 1


# ---- the `check` command ------------------------------------------------------------------

TRACES = Path(__file__).parent / "data" / "openai_traces"


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "support.yaml"
    path.write_text(POLICY.replace("first: approve", "first: request_manager_approval"))
    return path


def test_check_clean_traces_exit_0(policy_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    traces = [str(TRACES / "large_refund.json"), str(TRACES / "order_status.json")]
    assert main(["check", *traces, "--policy", str(policy_file)]) == 0
    out = capsys.readouterr().out
    assert "large_refund.json: ok" in out
    assert "2 trace(s) checked against support-agent: 0 violation(s)" in out


def test_check_violations_exit_1_text_and_json(
    policy_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = str(TRACES / "reckless_refund.json")
    assert main(["check", trace, "--policy", str(policy_file)]) == 1
    out = capsys.readouterr().out
    assert "reckless_refund.json: 1 violation(s)" in out
    assert "[refund-approval] step 2 refund(order_id='ORD-1002', amount=249.0)" in out
    assert main(["check", trace, "--policy", str(policy_file), "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["violations"] == 1
    assert data["traces"][0]["violations"][0]["rule_id"] == "refund-approval"


def test_check_unusable_input_exit_2(
    tmp_path: Path, policy_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"schema_version": 1, "steps": [')
    assert main(["check", str(broken), "--policy", str(policy_file)]) == 2
    assert "broken.json: not valid JSON at line 1" in capsys.readouterr().err
    bad_policy = tmp_path / "bad.yaml"
    bad_policy.write_text("schema_version: 1\nname: x\nrules:\n  - {id: a, max_steps: ten}\n")
    assert main(["check", str(TRACES / "order_status.json"), "--policy", str(bad_policy)]) == 2
    assert "bad.yaml:4" in capsys.readouterr().err


def test_policy_none_opts_a_test_out(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\nagentops_policies = policies/support.yaml\n")
    project.makepyfile(
        test_optout="""
        import pytest

        pytestmark = pytest.mark.agentops_policy("policies/support.yaml")

        @pytest.mark.agentops_policy(None)
        def test_allowed_here(agent_trace):
            agent_trace.tool_call("delete_account", {})

        def test_checked(agent_trace):
            agent_trace.tool_call("delete_account", {})
        """
    )
    result = project.runpytest("test_optout.py")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["FAILED test_optout.py::test_checked*"])


def test_check_reads_anthropic_traces(
    tmp_path: Path, policy_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "incident.json"
    trace.write_text(
        json.dumps(
            {
                "system": "You are a support agent.",
                "messages": [
                    {"role": "user", "content": "Refund ORD-1002, $249."},
                    {
                        "role": "assistant",
                        "content": [
                            {
                                "type": "tool_use",
                                "id": "toolu_1",
                                "name": "refund",
                                "input": {"order_id": "ORD-1002", "amount": 249},
                            }
                        ],
                    },
                    {
                        "role": "user",
                        "content": [
                            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}
                        ],
                    },
                    {"role": "assistant", "content": [{"type": "text", "text": "Refunded."}]},
                ],
            }
        )
    )
    assert main(["check", str(trace), "--policy", str(policy_file)]) == 1
    assert (
        "[refund-approval] step 2 refund(order_id='ORD-1002', amount=249)"
        in capsys.readouterr().out
    )
