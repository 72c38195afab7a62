"""The plugin from the outside: options, markers, fixture, summary, JSON report, xdist, hooks."""

from __future__ import annotations

import json

import pytest

AGENT = """
import asyncio
import litellm
from pytest_agentops import tool

@tool
def lookup_order(order_id):
    if order_id == "404":
        raise KeyError(order_id)
    return {"status": "shipped"}

@tool
async def refund(order_id, amount):
    await asyncio.sleep(0)
    return "ok"

CALL = [{"id": "c1", "type": "function",
         "function": {"name": "lookup_order", "arguments": '{"order_id": "1"}'}}]

def run_agent(order_id="1"):
    msgs = [{"role": "user", "content": f"where is {order_id}?"}]
    litellm.completion(model="gpt-4o-mini", messages=msgs, mock_tool_calls=CALL)
    try:
        lookup_order(order_id)
    except KeyError:
        pass
    return litellm.completion(model="gpt-4o-mini", messages=msgs, mock_response="Shipped!")

async def arun_agent():
    msgs = [{"role": "user", "content": "refund 1"}]
    await litellm.acompletion(model="gpt-4o-mini", messages=msgs, mock_response="checking")
    await refund("1", 20)
    await litellm.acompletion(model="gpt-4o-mini", messages=msgs, mock_response="Refunded.")
"""


@pytest.fixture
def agent_project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(agent=AGENT)
    pytester.syspathinsert()
    return pytester


def test_options_and_ini_are_documented(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(
        [
            "*pytest-agentops*",
            "*--agentops *print the agentops summary*",
            "*--agentops-report=PATH*",
            "*agentops_report*",
            "*agentops_capture_litellm*",
        ]
    )


def test_marker_is_registered_for_strict_markers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.agentops(name="support-run", agent="support", version=3)
        def test_marked(agent_trace):
            assert agent_trace.trajectory.name == "support-run"
            assert agent_trace.trajectory.metadata == {"agent": "support", "version": 3}
        """
    )
    pytester.runpytest("--strict-markers").assert_outcomes(passed=1)
    pytester.runpytest("--markers").stdout.fnmatch_lines(["@pytest.mark.agentops(name=None*"])


def test_marker_with_bad_arguments_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.agentops(123)
        def test_marked():
            pass
        """
    )
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["*agentops name must be a string, got 123*"])
    assert result.ret != 0


def test_summary_lists_each_recorded_test_with_totals(agent_project: pytest.Pytester) -> None:
    agent_project.makepyfile(
        test_agent="""
        import asyncio
        import pytest
        from agent import run_agent, arun_agent

        def test_sync(agent_trace):
            run_agent()
            traj = agent_trace.trajectory
            assert traj.tool_names == ["lookup_order"]
            assert traj.output == "Shipped!"

        def test_async(agent_trace):
            asyncio.run(arun_agent())
            traj = agent_trace.trajectory
            assert [s.kind for s in traj.steps] == ["llm", "tool", "llm"]
            assert traj.tool_calls[0].arguments == {"order_id": "1", "amount": 20}

        @pytest.mark.agentops
        def test_marked_without_fixture():
            run_agent()

        def test_not_recorded():
            run_agent()
        """
    )
    result = agent_project.runpytest("--agentops")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        [
            "*agentops: summary*",
            "*= agentops summary =*",
            "outcome*steps*tools*llm*tokens in/out*cost*time*test",
            "passed*3*1*2*$0.0000*s  test_agent.py::test_sync",
            "passed*3*1*2*$0.0000*s  test_agent.py::test_async",
            "passed*3*1*2*s  test_agent.py::test_marked_without_fixture",
            "*9*3*6*TOTAL (3 tests)",
        ]
    )
    assert "test_not_recorded" not in result.stdout.str().split("agentops summary")[1]


def test_no_summary_without_the_flag(agent_project: pytest.Pytester) -> None:
    agent_project.makepyfile(
        test_agent="""
        from agent import run_agent
        def test_sync(agent_trace):
            run_agent()
        """
    )
    result = agent_project.runpytest()
    result.assert_outcomes(passed=1)
    assert "agentops summary" not in result.stdout.str()


def test_ini_turns_the_summary_on(agent_project: pytest.Pytester) -> None:
    agent_project.makeini("[pytest]\nagentops = true\n")
    agent_project.makepyfile(test_agent="def test_x(agent_trace):\n    pass\n")
    result = agent_project.runpytest()
    result.stdout.fnmatch_lines(["*= agentops summary =*", "passed*0*test_agent.py::test_x"])


def test_json_report_shape_and_failing_test(agent_project: pytest.Pytester) -> None:
    agent_project.makepyfile(
        test_agent="""
        from agent import run_agent
        def test_ok(agent_trace):
            run_agent()

        def test_fails_after_recording(agent_trace):
            run_agent("404")
            assert agent_trace.trajectory.tool_calls[0].ok, "tool failed"
        """
    )
    result = agent_project.runpytest("--agentops-report=out/report.json")
    result.assert_outcomes(passed=1, failed=1)
    data = json.loads((agent_project.path / "out" / "report.json").read_text())
    assert next(iter(data)) == "schema_version"
    assert data["schema_version"] == 1
    tests = {t["nodeid"]: t for t in data["tests"]}
    ok = tests["test_agent.py::test_ok"]
    failed = tests["test_agent.py::test_fails_after_recording"]
    assert ok["outcome"] == "passed"
    assert failed["outcome"] == "failed"
    assert set(ok) == {
        "nodeid",
        "outcome",
        "trial",
        "trajectory",
        "totals",
        "violations",
        "verdicts",
        "failure",
    }
    assert ok["failure"] is None
    assert failed["failure"]["message"].startswith("AssertionError: tool failed\nassert False\n")
    assert failed["failure"]["where"] == "test_agent.py:7"
    assert failed["failure"]["step"] is None  # a plain assert names no step
    # one line per test: greps and diffs by test
    lines = (agent_project.path / "out" / "report.json").read_text().splitlines()
    assert [json.loads(line.rstrip(","))["nodeid"] for line in lines[2:4]] == list(tests)
    assert set(ok["totals"]) == {
        "steps",
        "tool_calls",
        "llm_calls",
        "input_tokens",
        "output_tokens",
        "cost_usd",
        "duration_s",
    }
    assert ok["totals"]["llm_calls"] == 2
    assert ok["totals"]["cost_usd"] > 0, ok["trajectory"]
    trajectory = failed["trajectory"]
    assert trajectory["schema_version"] == 1
    assert [s["kind"] for s in trajectory["steps"]] == ["llm", "tool", "llm"]
    assert trajectory["steps"][1]["error"] == "KeyError: '404'"
    total = data["totals"]
    assert total["llm_calls"] == 4
    assert total["tool_calls"] == 2
    assert total["cost_usd"] == pytest.approx(
        ok["totals"]["cost_usd"] + failed["totals"]["cost_usd"]
    )
    from pytest_agentops import Trajectory

    assert Trajectory.load(trajectory).tool_names == ["lookup_order"]


def test_report_path_from_ini_is_relative_to_rootdir(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nagentops_report = reports/agentops.json\n")
    pytester.makepyfile("def test_x(agent_trace):\n    agent_trace.tool_call('t', {})\n")
    pytester.mkdir("sub")
    result = pytester.runpytest("--rootdir", str(pytester.path))
    result.assert_outcomes(passed=1)
    data = json.loads((pytester.path / "reports" / "agentops.json").read_text())
    assert data["tests"][0]["totals"]["tool_calls"] == 1


def test_report_path_that_is_a_directory_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.mkdir("out")
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest("--agentops-report=out")
    result.stderr.fnmatch_lines(["*--agentops-report=out is a directory*"])
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_setup_error_and_xfail_outcomes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.fixture
        def broken(agent_trace):
            agent_trace.tool_call("setup_tool", {})
            raise RuntimeError("setup failed")

        def test_error(broken):
            pass

        @pytest.mark.xfail(reason="known bad")
        def test_xfail(agent_trace):
            agent_trace.tool_call("t", {})
            assert False
        """
    )
    result = pytester.runpytest("--agentops-report=r.json", "--agentops")
    result.assert_outcomes(errors=1, xfailed=1)
    data = json.loads((pytester.path / "r.json").read_text())
    outcomes = {t["nodeid"].split("::")[1]: t["outcome"] for t in data["tests"]}
    assert outcomes == {"test_error": "error", "test_xfail": "xfailed"}


def test_trajectory_recorded_hook(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        SEEN = []
        def pytest_agentops_trajectory_recorded(item, trajectory):
            SEEN.append((item.name, trajectory.tool_names))

        def pytest_sessionfinish(session):
            assert SEEN == [("test_x", ["a", "b"])], SEEN
            print("HOOK-OK")
        """
    )
    pytester.makepyfile(
        """
        def test_x(agent_trace):
            agent_trace.tool_call("a", {})
            agent_trace.tool_call("b", {})
        """
    )
    result = pytester.runpytest("-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*HOOK-OK*"])


def test_report_hook_can_extend_the_report(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        def pytest_agentops_report(report):
            report["ci_build"] = "1234"
        """
    )
    pytester.makepyfile("def test_x(agent_trace):\n    pass\n")
    pytester.runpytest("--agentops-report=r.json").assert_outcomes(passed=1)
    assert json.loads((pytester.path / "r.json").read_text())["ci_build"] == "1234"


def test_litellm_capture_can_be_switched_off(agent_project: pytest.Pytester) -> None:
    agent_project.makeini("[pytest]\nagentops_capture_litellm = false\n")
    agent_project.makepyfile(
        test_agent="""
        from agent import run_agent
        def test_sync(agent_trace):
            run_agent()
            assert agent_trace.trajectory.llm_calls == []
            assert agent_trace.trajectory.tool_names == ["lookup_order"]
        """
    )
    agent_project.runpytest().assert_outcomes(passed=1)


def test_litellm_imported_lazily_during_the_test_is_captured(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import sys

        def test_lazy(agent_trace):
            sys.modules.pop("litellm", None)  # as if nothing had imported litellm yet
            import litellm
            litellm.completion(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}],
                               mock_response="y")
            assert len(agent_trace.trajectory.llm_calls) == 1
        """
    )
    pytester.runpytest_subprocess().assert_outcomes(passed=1)


def test_litellm_cost_map_env_is_set_for_the_run(pytester: pytest.Pytester, monkeypatch) -> None:
    monkeypatch.delenv("LITELLM_LOCAL_MODEL_COST_MAP", raising=False)
    pytester.makepyfile(
        """
        import os
        def test_env():
            assert os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)
    import os

    assert "LITELLM_LOCAL_MODEL_COST_MAP" not in os.environ


XDIST_TESTS = """
import pytest

@pytest.mark.parametrize("i", range(12))
def test_many(agent_trace, i):
    agent_trace.llm_call("gpt-4o-mini", output="hi", input_tokens=10, output_tokens=i,
                         cost_usd=0.01)
    agent_trace.tool_call("t", {"i": i}, result=i)
    assert i != 5, "one failure"
"""


def test_xdist_workers_merge_without_loss_or_duplicates(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x=XDIST_TESTS)
    result = pytester.runpytest_subprocess(
        "-n", "2", "--agentops", "--agentops-report=r.json", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=11, failed=1)
    data = json.loads((pytester.path / "r.json").read_text())
    nodeids = [t["nodeid"] for t in data["tests"]]
    assert sorted(nodeids) == sorted(f"test_x.py::test_many[{i}]" for i in range(12))
    assert data["totals"]["llm_calls"] == 12
    assert data["totals"]["tool_calls"] == 12
    assert data["totals"]["output_tokens"] == sum(range(12))
    assert data["totals"]["cost_usd"] == pytest.approx(0.12)
    failed = [t for t in data["tests"] if t["outcome"] == "failed"]
    assert [t["nodeid"] for t in failed] == ["test_x.py::test_many[5]"]
    result.stdout.fnmatch_lines(["*= agentops summary =*", "*24*12*12*TOTAL (12 tests)"])


def test_cost_map_env_is_set_before_conftests_import_litellm(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LITELLM_LOCAL_MODEL_COST_MAP")
    pytester.makeconftest(
        """
        import os
        SEEN = os.environ.get("LITELLM_LOCAL_MODEL_COST_MAP")
        """
    )
    pytester.makepyfile(
        """
        import conftest
        def test_env():
            assert conftest.SEEN == "True"
        """
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_marker_on_a_class_records_each_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        from pytest_agentops import tool

        @tool
        def t():
            return 1

        @pytest.mark.agentops
        class TestAgent:
            def test_a(self):
                t()

            def test_b(self):
                t()
                t()
        """
    )
    result = pytester.runpytest("--agentops")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["passed*1*1*test_*::TestAgent::test_a", "passed*2*2*test_b"])


def test_tool_names_comparison_gets_an_aligned_diff(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_sequence(agent_trace):
            for name in ["verify", "lookup", "refund"]:
                agent_trace.tool_call(name, {})
            assert agent_trace.trajectory.tool_names == ["verify", "approve", "refund"]
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*assert tool_names == *'verify', 'approve', 'refund'*",
            "*tool call sequence differs (- expected, + actual, position in the run):",
            "E *   1  verify",
            "E *-      approve",
            "E *+   2  lookup",
            "E *   3  refund",
        ]
    )


def test_unpriced_models_show_question_marks_and_warn_once(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_agent="""
        import pytest

        @pytest.mark.parametrize("n", [1, 2])
        def test_private_model(agent_trace, n):
            agent_trace.llm_call("my-private-model", input_tokens=100, output_tokens=10)

        def test_mixed(agent_trace):
            agent_trace.llm_call("gpt-4o-mini", input_tokens=1000, output_tokens=100)
            agent_trace.llm_call("my-private-model", input_tokens=100, output_tokens=10)
        """
    )
    result = pytester.runpytest("--agentops", "--agentops-report=report.json")
    result.assert_outcomes(passed=3, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "*no price for the LLM model 'my-private-model'*litellm.register_model*",
            "*= agentops summary =*",
            "passed*?*test_agent.py::test_private_model[[]1[]]",
            "passed*$0.000*+?*test_agent.py::test_mixed",
            "*$0.000*+?*TOTAL (3 tests)",
            "cost is partial: 3 LLM calls have no price (models: my-private-model)*",
        ]
    )
    data = json.loads((pytester.path / "report.json").read_text())
    steps = [s for t in data["tests"] for s in t["trajectory"]["steps"]]
    assert [s["cost_usd"] for s in steps if s["model"] == "my-private-model"] == [None] * 3


def test_pricing_an_unknown_model_is_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    import litellm  # noqa: F401  (the path through litellm's own cost_per_token)

    from pytest_agentops.trajectory.prices import cost_usd

    assert cost_usd("my-private-model", 10, 10, "openai") is None
    assert capsys.readouterr() == ("", "")


def test_summary_rows_are_in_collection_order_under_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_order="""
        import time
        import pytest

        @pytest.mark.parametrize("n", range(6))
        def test_n(agent_trace, n):
            time.sleep(0.3 if n % 2 == 0 else 0)  # workers finish out of order
            agent_trace.tool_call("t", {"n": n})
        """
    )
    result = pytester.runpytest_subprocess("-n", "2", "--agentops", "-p", "no:randomly")
    result.assert_outcomes(passed=6)
    rows = [line for line in result.stdout.lines if "test_order.py::test_n[" in line]
    assert [row.rsplit("[", 1)[1] for row in rows] == [f"{n}]" for n in range(6)]


def test_litellms_pydantic_readonly_warnings_are_not_shown(
    agent_project: pytest.Pytester,
) -> None:
    agent_project.makepyfile(
        test_agent="""
        from agent import run_agent
        def test_sync(agent_trace):
            run_agent()
        """
    )
    result = agent_project.runpytest_subprocess("-p", "no:randomly")
    result.assert_outcomes(passed=1)
    assert "ReadOnly" not in result.stdout.str()


def test_one_of_everything_is_said_in_the_singular(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_one="""
        from pytest_agentops import assert_not_called

        def test_one(agent_trace):
            agent_trace.tool_call("delete_account", {})
            assert_not_called(agent_trace, "delete_account")
        """
    )
    result = pytester.runpytest("--agentops")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*(1 step: 1 tool call, 0 LLM calls, 0->0 tokens, $0.000000)"])
    result.stdout.fnmatch_lines(["*TOTAL (1 test)"])
