"""Baselines: ``agent_trace.assert_matches_baseline()``, ``--agentops-update-baselines``, ini
``agentops_baseline_dir``, ``pytest-agentops diff``, and the diff engine (``cases/diff.py``)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_agentops import Trajectory
from pytest_agentops.capture.recorder import Recorder
from pytest_agentops.cases.baseline import check_baseline
from pytest_agentops.cases.diff import (
    AmountChanged,
    ArgumentsChanged,
    Change,
    CountChanged,
    ResultChanged,
    ToolAdded,
    ToolCallsMismatch,
    ToolMoved,
    ToolRemoved,
    ValueChanged,
    align_tool_calls,
    check_options,
    diff_trajectories,
    value_changes,
)
from pytest_agentops.cli import MATCH_MODES, main

ROOT = Path(__file__).resolve().parents[1]

# The inner test plays a script (script.json, rewritten between runs) with the manual API.
PLAYER = """
import json
import pathlib

import pytest


def play(agent_trace, script):
    for name, args in script["tools"]:
        agent_trace.tool_call(name, args, result=script.get("results", {}).get(name, "ok"))
    for input_tokens, output_tokens, cost in script["llm"]:
        agent_trace.llm_call(
            model=script.get("model", "gpt-4o-mini"),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=cost,
            output=script.get("output", "Refunded order 42."),
        )


def load():
    return json.loads((pathlib.Path(__file__).parent / "script.json").read_text())


def test_agent(agent_trace):
    script = load()
    play(agent_trace, script)
    agent_trace.assert_matches_baseline(**script.get("options", {}))
"""

BASE: dict[str, Any] = {
    "tools": [
        ["lookup_order", {"order_id": "42"}],
        ["refund", {"order_id": "42", "amount": 100}],
    ],
    "llm": [[400, 100, 0.001]] * 3,
}
BASELINE = "baselines/test_agent/test_agent.yaml"


def _script(pytester: pytest.Pytester, **changes: Any) -> None:
    script = {**copy.deepcopy(BASE), **changes}
    (pytester.path / "script.json").write_text(json.dumps(script))


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider", *args)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A project whose baseline holds BASE (created with the update flag)."""
    pytester.makepyfile(test_agent=PLAYER)
    _script(pytester)
    result = _run(pytester, "--agentops-update-baselines")
    result.assert_outcomes(passed=1, warnings=1)
    return pytester


def _fails_with(pytester: pytest.Pytester, lines: list[str], **changes: Any) -> pytest.RunResult:
    _script(pytester, **changes)
    result = _run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(lines)
    return result


# ---- the pytest side ------------------------------------------------------------------------


def test_missing_baseline_fails_and_says_how_to_create_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_agent=PLAYER)
    _script(pytester)
    result = _run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*No baseline for test_agent.py::test_agent (looked in "
            f"{BASELINE}). Re-run with --agentops-update-baselines to create it from this run*"
        ]
    )
    assert not (pytester.path / "baselines").exists()


def test_update_flag_creates_the_baseline_as_yaml(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_agent=PLAYER)
    _script(pytester)
    result = _run(pytester, "--agentops-update-baselines")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(
        [f"*BaselineUpdated: baseline {BASELINE} created for test_agent.py::test_agent*"]
    )
    path = pytester.path / BASELINE
    text = path.read_text()
    assert text.startswith("# pytest-agentops trajectory")
    assert text.rstrip().endswith("...")
    data = yaml.safe_load(text)
    assert next(iter(data)) == "schema_version"
    loaded = Trajectory.load(path)
    assert loaded.tool_names == ["lookup_order", "refund"]
    assert loaded.tool_calls[1].arguments == {"order_id": "42", "amount": 100}
    assert len(loaded.llm_calls) == 3
    assert loaded.output == "Refunded order 42."
    assert not list(path.parent.glob(".*.tmp"))  # written atomically, nothing left behind


def test_unchanged_run_passes_and_leaves_the_file_alone(project: pytest.Pytester) -> None:
    path = project.path / BASELINE
    before = path.read_text()
    _run(project).assert_outcomes(passed=1)
    result = _run(project, "--agentops-update-baselines")
    result.assert_outcomes(passed=1)  # no warning: nothing written
    assert path.read_text() == before


def test_changed_argument_fails_with_path_old_and_new(project: pytest.Pytester) -> None:
    tools = copy.deepcopy(BASE["tools"])
    tools[1][1]["amount"] = 120
    result = _fails_with(
        project,
        [
            f"*this run differs from baseline {BASELINE} (mode='strict', cost ±20%, tokens ±20%):",
            "*  arguments changed: #2 refund: amount: 100 -> 120",
            "*If the change is intended, re-run with --agentops-update-baselines to rewrite*",
        ],
        tools=tools,
    )
    assert "Traceback" not in result.stdout.str()


def test_added_tool_fails(project: pytest.Pytester) -> None:
    tools = copy.deepcopy(BASE["tools"])
    tools.insert(1, ["check_fraud", {"order_id": "42"}])
    _fails_with(
        project, ["*  tool call added: #2 check_fraud(order_id='42') (step 2)"], tools=tools
    )


def test_removed_tool_fails(project: pytest.Pytester) -> None:
    _fails_with(
        project,
        ["*  tool call removed: #2 refund(order_id='42', amount=100)"],
        tools=BASE["tools"][:1],
    )


def test_reordered_tool_fails_in_strict_mode_and_passes_unordered(
    project: pytest.Pytester,
) -> None:
    reordered = list(reversed(BASE["tools"]))
    _fails_with(
        project,
        ["*  tool call moved: refund(order_id='42', amount=100) was #2, now #1"],
        tools=reordered,
    )
    _script(project, tools=reordered, options={"mode": "unordered"})
    _run(project).assert_outcomes(passed=1)


def test_extra_tool_passes_in_superset_mode(project: pytest.Pytester) -> None:
    tools = [*copy.deepcopy(BASE["tools"]), ["notify", {"user": "u1"}]]
    _script(project, tools=tools, options={"mode": "superset"})
    _run(project).assert_outcomes(passed=1)
    _script(project, tools=tools, options={"mode": "ordered"})
    _run(project).assert_outcomes(passed=1)


def test_cost_beyond_tolerance_fails(project: pytest.Pytester) -> None:
    _fails_with(
        project,
        ["*  cost: $0.003000 -> $0.004050 (+35%, beyond ±20%)"],
        llm=[[400, 100, 0.00135]] * 3,
    )


def test_cost_within_tolerance_passes(project: pytest.Pytester) -> None:
    _script(project, llm=[[400, 100, 0.0011]] * 3)
    _run(project).assert_outcomes(passed=1)


def test_cost_tolerance_is_the_tests_to_choose(project: pytest.Pytester) -> None:
    _script(project, llm=[[400, 100, 0.00135]] * 3, options={"cost_tolerance": 0.5})
    _run(project).assert_outcomes(passed=1)
    _script(project, llm=[[400, 100, 0.01]] * 3, options={"cost_tolerance": None})
    _run(project).assert_outcomes(passed=1)


def test_tokens_beyond_tolerance_fail(project: pytest.Pytester) -> None:
    _fails_with(
        project,
        ["*  tokens: 1500 -> 900 (-40%, beyond ±20%; in 1200 -> 720, out 300 -> 180)"],
        llm=[[240, 60, 0.001]] * 3,
    )


def test_more_llm_calls_fail(project: pytest.Pytester) -> None:
    _fails_with(
        project,
        ["*  LLM calls: 3 -> 5", "*  cost: $0.003000 -> $0.005000 (+67%, beyond ±20%)"],
        llm=[[400, 100, 0.001]] * 5,
    )


def test_output_counts_only_with_compare_output(project: pytest.Pytester) -> None:
    _script(project, output="Sorry, I cannot refund that.")
    _run(project).assert_outcomes(passed=1)
    _fails_with(
        project,
        ["*  output changed: 'Refunded order 42.' -> 'Sorry, I cannot refund that.'"],
        output="Sorry, I cannot refund that.",
        options={"compare_output": True},
    )


def test_output_change_is_shown_as_tolerated_beside_a_failure(project: pytest.Pytester) -> None:
    _fails_with(
        project,
        [
            "*  LLM calls: 3 -> 2",
            "*tolerated:",
            "*  output changed: 'Refunded order 42.' -> 'Done.' (not compared; "
            "compare_output=True fails on it)",
        ],
        llm=[[600, 150, 0.0015]] * 2,
        output="Done.",
    )


def test_result_changes_are_reported_not_failed(project: pytest.Pytester) -> None:
    _script(project, results={"lookup_order": {"status": "lost"}})
    _run(project).assert_outcomes(passed=1)


def test_ids_timestamps_and_latencies_are_ignored(project: pytest.Pytester) -> None:
    path = project.path / BASELINE
    data = yaml.safe_load(path.read_text())
    data["id"] = "another-run"
    data["started_at"] = "2020-01-01T00:00:00Z"
    data["ended_at"] = "2020-01-01T00:10:00Z"
    for n, step in enumerate(data["steps"]):
        step["id"] = f"x{n}"
        step["parent_id"] = None
        step["started_at"] = "2020-01-01T00:00:01Z"
        step["duration_ms"] = 12345.0 + n
        if step["kind"] == "llm":
            step["response_id"] = f"chatcmpl-{n}"
    Trajectory.model_validate(data).dump(path)
    _run(project).assert_outcomes(passed=1)


def test_update_flag_rewrites_a_baseline_that_differs(project: pytest.Pytester) -> None:
    tools = copy.deepcopy(BASE["tools"])
    tools[1][1]["amount"] = 120
    _script(project, tools=tools)
    result = _run(project, "--agentops-update-baselines")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(
        [
            f"*BaselineUpdated: baseline {BASELINE} rewritten for test_agent.py::test_agent; "
            "it differed:",
            "*  arguments changed: #2 refund: amount: 100 -> 120",
        ]
    )
    assert Trajectory.load(project.path / BASELINE).tool_calls[1].arguments["amount"] == 120
    _run(project).assert_outcomes(passed=1)


def test_tolerated_drift_does_not_rewrite_the_baseline(project: pytest.Pytester) -> None:
    path = project.path / BASELINE
    before = path.read_text()
    _script(project, llm=[[400, 100, 0.0011]] * 3)
    _run(project, "--agentops-update-baselines").assert_outcomes(passed=1)
    assert path.read_text() == before


def test_unreadable_baseline_fails_and_update_rewrites_it(project: pytest.Pytester) -> None:
    path = project.path / BASELINE
    path.write_text("schema_version: 1\nsteps: 12\n")
    result = _run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*The baseline of test_agent.py::test_agent cannot be read: *steps*--agentops-update*"]
    )
    result = _run(project, "--agentops-update-baselines")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*rewritten for test_agent.py::test_agent: it could not be read*"])
    _run(project).assert_outcomes(passed=1)


def test_secrets_are_redacted_in_the_file_and_still_match(pytester: pytest.Pytester) -> None:
    key = "sk-proj-" + "Ab3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6"
    pytester.makepyfile(test_agent=PLAYER)
    _script(pytester, tools=[["call_api", {"api_key": key, "q": "x"}]])
    _run(pytester, "--agentops-update-baselines").assert_outcomes(passed=1, warnings=1)
    assert key not in (pytester.path / BASELINE).read_text()
    _run(pytester).assert_outcomes(passed=1)


def test_name_picks_another_file_in_the_same_folder(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_named="""
        class TestCheckout:
            def test_two_phases(self, agent_trace):
                agent_trace.tool_call("cart", {"items": 2})
                agent_trace.assert_matches_baseline("cart")
                agent_trace.tool_call("pay", {"amount": 30})
                agent_trace.assert_matches_baseline("paid.yaml")
        """
    )
    _run(pytester, "--agentops-update-baselines").assert_outcomes(passed=1, warnings=2)
    folder = pytester.path / "baselines" / "test_named" / "TestCheckout"
    assert sorted(p.name for p in folder.iterdir()) == ["cart.yaml", "paid.yaml"]
    assert Trajectory.load(folder / "cart.yaml").tool_names == ["cart"]
    assert Trajectory.load(folder / "paid.yaml").tool_names == ["cart", "pay"]
    _run(pytester).assert_outcomes(passed=1)


def test_parametrized_tests_get_separate_baselines(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_param="""
        import pytest

        @pytest.mark.parametrize("order", ["42", "a/b c"])
        def test_order(agent_trace, order):
            agent_trace.tool_call("lookup_order", {"order_id": order})
            agent_trace.assert_matches_baseline()
        """
    )
    _run(pytester, "--agentops-update-baselines").assert_outcomes(passed=2, warnings=2)
    files = sorted((pytester.path / "baselines" / "test_param").iterdir())
    assert files[0].name == "test_order[42].yaml"
    assert re.fullmatch(r"test_order\[a_b_c\]-[0-9a-f]{8}\.yaml", files[1].name)
    assert Trajectory.load(files[1]).tool_calls[0].arguments == {"order_id": "a/b c"}
    _run(pytester).assert_outcomes(passed=2)


def test_ini_baseline_dir(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nagentops_baseline_dir = golden/trajectories\n")
    pytester.makepyfile(test_agent=PLAYER)
    _script(pytester)
    result = _run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*looked in golden/trajectories/test_agent/test_agent.yaml*"])
    _run(pytester, "--agentops-update-baselines").assert_outcomes(passed=1, warnings=1)
    assert (pytester.path / "golden/trajectories/test_agent/test_agent.yaml").is_file()
    assert not (pytester.path / "baselines").exists()


def test_options_are_documented(pytester: pytest.Pytester) -> None:
    pytester.runpytest("--help").stdout.fnmatch_lines(
        ["*--agentops-update-baselines*", "*agentops_baseline_dir*"]
    )


def test_bad_mode_is_a_clear_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_x(agent_trace):
            agent_trace.assert_matches_baseline(mode="in_order")
        """
    )
    result = _run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*mode='in_order' is not a match mode; use one of strict, *"])


XDIST_TESTS = """
import pytest

@pytest.mark.parametrize("n", range(6))
def test_many(agent_trace, n):
    agent_trace.tool_call("step", {"n": n})
    agent_trace.llm_call(model="gpt-4o-mini", input_tokens=10, output_tokens=n + 1, cost_usd=0.001)
    agent_trace.assert_matches_baseline()
"""


def test_xdist_workers_write_and_check_their_own_baselines(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x=XDIST_TESTS)
    args = ("-n", "2", "-p", "no:randomly", "-p", "no:cacheprovider")
    result = pytester.runpytest_subprocess(*args, "--agentops-update-baselines")
    result.assert_outcomes(passed=6, warnings=6)
    folder = pytester.path / "baselines" / "test_x"
    assert sorted(p.name for p in folder.iterdir()) == [f"test_many[{n}].yaml" for n in range(6)]
    for n in range(6):
        assert Trajectory.load(folder / f"test_many[{n}].yaml").tool_calls[0].arguments == {"n": n}
    pytester.runpytest_subprocess(*args).assert_outcomes(passed=6)
    pytester.makepyfile(test_x=XDIST_TESTS.replace('{"n": n}', '{"n": n * 2}'))
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(passed=1, failed=5)
    result.stdout.fnmatch_lines(["*arguments changed: #1 step: n: 1 -> 2*"])


def test_outside_a_test_it_says_what_it_needs() -> None:
    with Recorder() as recorder, pytest.raises(RuntimeError, match="agent_trace fixture"):
        recorder.assert_matches_baseline()


# ---- the diff engine ------------------------------------------------------------------------


def _traj(
    tools: list[tuple[str, dict[str, Any]]] | None = None,
    llm: list[tuple[int, int, float]] | None = None,
    output: Any = "done",
    results: dict[str, Any] | None = None,
) -> Trajectory:
    recorder = Recorder()
    for name, args in BASE["tools"] if tools is None else tools:
        recorder.tool_call(name, args, result=(results or {}).get(name, "ok"))
    for i, o, cost in [(400, 100, 0.001)] * 3 if llm is None else llm:
        recorder.llm_call("gpt-4o-mini", input_tokens=i, output_tokens=o, cost_usd=cost)
    recorder.set_output(output)
    return recorder.trajectory


def test_identical_trajectories_have_no_difference() -> None:
    diff = diff_trajectories(_traj(), _traj())
    assert diff.ok
    assert diff.differences == ()
    assert diff.render() == ("the run matches the baseline (mode='strict', cost ±20%, tokens ±20%)")


def test_align_pairs_same_moved_changed_removed_added() -> None:
    old = _traj([("a", {}), ("b", {"x": 1}), ("c", {}), ("d", {})]).tool_calls
    new = _traj([("b", {"x": 2}), ("a", {}), ("c", {}), ("e", {}), ("d", {})]).tool_calls
    pairs = align_tool_calls(old, new)
    assert sorted(pairs, key=str) == sorted(
        [("same", 0, 1), ("same", 2, 2), ("same", 3, 4), ("changed", 1, 0), ("added", None, 3)],
        key=str,
    )
    gone = align_tool_calls(_traj([("a", {}), ("b", {})]).tool_calls, new[:0])
    assert gone == [("removed", 0, None), ("removed", 1, None)]


def test_numbers_compare_by_value_and_dict_order_is_ignored() -> None:
    old = _traj([("refund", {"amount": 250, "order": {"id": 1, "lines": [1, 2]}})])
    new = _traj([("refund", {"order": {"lines": [1, 2], "id": 1}, "amount": 250.0})])
    assert diff_trajectories(old, new).differences == ()


def test_argument_changes_name_each_path() -> None:
    old = _traj([("refund", {"amount": 100, "order": {"id": "A", "lines": [1, 2]}})])
    new = _traj([("refund", {"amount": 120, "order": {"id": "A", "lines": [1]}, "note": "x"})])
    diff = diff_trajectories(old, new)
    (changed,) = diff.failing
    assert isinstance(changed, ArgumentsChanged)
    assert set(changed.changes) == {
        Change("amount", 100, 120),
        Change("order.lines[1]", 2, None, "removed"),
        Change("note", None, "x", "added"),
    }
    assert "amount: 100 -> 120" in changed.describe()
    assert "note: (missing) -> 'x'" in changed.describe()
    assert "order.lines[1]: 2 -> (missing)" in changed.describe()


MODE_TABLE = {
    # difference: modes under which it fails
    "added": {"strict", "unordered", "subset"},
    "removed": {"strict", "ordered", "unordered", "superset"},
    "moved": {"strict", "ordered"},
    "changed": set(MATCH_MODES),
}
TOOLS = [("a", {}), ("b", {}), ("c", {})]
VARIANTS = {
    "added": [*TOOLS, ("d", {})],
    "removed": TOOLS[:2],
    "moved": [TOOLS[1], TOOLS[0], TOOLS[2]],
    "changed": [TOOLS[0], ("b", {"x": 1}), TOOLS[2]],
}
KINDS = {
    "added": ToolAdded,
    "removed": ToolRemoved,
    "moved": ToolMoved,
    "changed": ArgumentsChanged,
}


@pytest.mark.parametrize("mode", MATCH_MODES)
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_what_each_mode_allows(mode: str, variant: str) -> None:
    same_llm = [(400, 100, 0.001)]
    diff = diff_trajectories(_traj(TOOLS, same_llm), _traj(VARIANTS[variant], same_llm), mode=mode)
    (difference,) = diff.differences
    assert isinstance(difference, KINDS[variant])
    assert difference.fails == (mode in MODE_TABLE[variant])
    assert diff.ok == (mode not in MODE_TABLE[variant])
    if not difference.fails:
        assert f"(allowed by mode={mode!r})" in diff.render()


def test_parallel_calls_in_another_order_are_tolerated_in_strict_mode() -> None:
    def run(order: list[str]) -> Trajectory:
        recorder = Recorder()
        requested = [
            {"id": f"c-{name}", "name": name, "arguments": {}} for name in ("weather", "news")
        ]
        recorder.llm_call("gpt-4o-mini", requested_tool_calls=requested, cost_usd=0.0)
        for name in order:
            recorder.tool_call(name, {}, call_id=f"c-{name}")
        return recorder.trajectory

    diff = diff_trajectories(run(["weather", "news"]), run(["news", "weather"]))
    assert diff.ok
    assert [type(d) for d in diff.differences] == [ToolMoved]


def test_a_repeated_call_is_an_added_call() -> None:
    diff = diff_trajectories(_traj([("a", {})]), _traj([("a", {}), ("a", {})]))
    assert [d.describe() for d in diff.failing] == ["tool call added: #2 a() (step 2)"]


def test_the_engines_verdict_stands_when_no_call_explains_it() -> None:
    # NaN is equal to itself as JSON (the alignment) but matches nothing (the engine)
    nan = [("score", {"value": float("nan")})]
    diff = diff_trajectories(_traj(nan), _traj(nan))
    (mismatch,) = diff.failing
    assert isinstance(mismatch, ToolCallsMismatch)
    assert mismatch.describe().startswith("tool calls do not match (mode='strict'): step 1: ")


@pytest.mark.parametrize(
    ("old", "new", "tolerance", "fails", "text"),
    [
        (1000, 1190, 0.2, False, "tokens: 1000 -> 1190 (+19%, within ±20%"),
        (1000, 1200, 0.2, False, "tokens: 1000 -> 1200 (+20%, within ±20%"),
        (1000, 1210, 0.2, True, "tokens: 1000 -> 1210 (+21%, beyond ±20%"),
        (1000, 600, 0.2, True, "tokens: 1000 -> 600 (-40%, beyond ±20%"),
        (0, 10, 5.0, True, "tokens: 0 -> 10 (from zero, beyond ±500%"),
        (1000, 5000, None, False, "tokens: 1000 -> 5000 (+400%, not compared"),
        (1000, 1000.0, 0.0, None, ""),
    ],
)
def test_token_tolerance(
    old: int, new: int, tolerance: float | None, fails: bool | None, text: str
) -> None:
    diff = diff_trajectories(
        _traj(llm=[(old, 0, 0.001)]), _traj(llm=[(int(new), 0, 0.001)]), tokens_tolerance=tolerance
    )
    if fails is None:
        assert diff.differences == ()
        return
    (amount,) = diff.differences
    assert isinstance(amount, AmountChanged)
    assert amount.fails is fails
    assert amount.describe().startswith(text)


def test_cost_tolerance_both_ways() -> None:
    base = _traj(llm=[(400, 100, 0.002)])
    up = diff_trajectories(base, _traj(llm=[(400, 100, 0.0027)]))
    assert [d.describe() for d in up.failing] == [
        "cost: $0.002000 -> $0.002700 (+35%, beyond ±20%)"
    ]
    down = diff_trajectories(base, _traj(llm=[(400, 100, 0.0017)]))
    assert down.ok
    assert [d.describe() for d in down.tolerated] == [
        "cost: $0.002000 -> $0.001700 (-15%, within ±20%)"
    ]


def test_llm_call_count_fails_where_the_mode_wants_exact_calls() -> None:
    old, new = _traj(llm=[(10, 10, 0.0)] * 3), _traj(llm=[(10, 10, 0.0)] * 5)
    for mode in MATCH_MODES:
        diff = diff_trajectories(old, new, mode=mode, tokens_tolerance=None)
        (count,) = diff.differences[:1]
        assert isinstance(count, CountChanged)
        assert count.describe() == "LLM calls: 3 -> 5"
        assert count.fails == (mode in ("strict", "unordered"))


def test_results_and_errors_are_reported_but_tolerated() -> None:
    old = _traj(results={"lookup_order": {"status": "shipped", "eta": 2}})
    new = _traj(results={"lookup_order": {"status": "lost", "eta": 2}})
    diff = diff_trajectories(old, new)
    assert diff.ok
    (result,) = diff.differences
    assert isinstance(result, ResultChanged)
    assert result.line() == (
        "result changed: #1 lookup_order: status: 'shipped' -> 'lost' (results are not compared)"
    )
    failing = Recorder()
    failing.tool_call("lookup_order", {"order_id": "42"}, error="KeyError: 42")
    failing.tool_call("refund", {"order_id": "42", "amount": 100}, result="ok")
    for _ in range(3):
        failing.llm_call("gpt-4o-mini", input_tokens=400, output_tokens=100, cost_usd=0.001)
    failing.set_output("done")
    (error,) = diff_trajectories(_traj(), failing.trajectory).differences
    assert error.describe() == "result changed: #1 lookup_order: error: (missing) -> 'KeyError: 42'"


def test_structured_output_and_input_changes() -> None:
    old = _traj(output={"answer": "yes", "confidence": 0.9})
    new = _traj(output={"answer": "no", "confidence": 0.9})
    diff = diff_trajectories(old, new, compare_output=True)
    (output,) = diff.failing
    assert isinstance(output, ValueChanged)
    assert output.describe() == "output changed: answer: 'yes' -> 'no'"
    recorder = Recorder()
    recorder.set_input("refund 43")
    diff = diff_trajectories(_traj(), recorder.trajectory, cost_tolerance=None)
    assert any(d.describe() == "input changed: None -> 'refund 43'" for d in diff.tolerated)


def test_value_changes_of_a_whole_value() -> None:
    assert value_changes("a", "b", root="output") == (Change("output", "a", "b"),)
    assert value_changes(True, 1, root="x") == (Change("x", True, 1),)
    many = value_changes({f"k{n}": n for n in range(10)}, {f"k{n}": -n - 1 for n in range(10)})
    assert len(many) == 10
    text = ArgumentsChanged(name="t", was=1, now=1, changes=many).describe()
    assert text.endswith("; and 5 more")


def test_check_options() -> None:
    check_options("subset", 0, None)
    with pytest.raises(ValueError, match="mode='in_order' is not a match mode"):
        check_options("in_order", 0.2, 0.2)
    with pytest.raises(ValueError, match=r"cost_tolerance=-0\.1"):
        check_options("strict", -0.1, 0.2)
    with pytest.raises(TypeError, match="tokens_tolerance must be a number"):
        check_options("strict", 0.2, "20%")  # type: ignore[arg-type]


def test_cli_modes_are_the_engines() -> None:
    from pytest_agentops.assertions.matching import MODES

    assert MATCH_MODES == MODES


def test_to_jsonable_is_json() -> None:
    tools = [("lookup_order", {"order_id": "42"}), ("refund", {"order_id": "42", "amount": 1})]
    diff = diff_trajectories(_traj(), _traj(tools, llm=[(1, 1, 0.5)], output="x"))
    data = json.loads(json.dumps(diff.to_jsonable()))
    assert data["matches"] is False
    kinds = [d["kind"] for d in data["differences"]]
    assert kinds[:2] == ["arguments_changed", "count_changed"]
    assert data["differences"][0]["changes"] == [
        {"path": "amount", "old": 100, "new": 1, "kind": "changed"}
    ]


# ---- pytest-agentops diff ---------------------------------------------------------------------


@pytest.fixture
def traces(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "base": tmp_path / "base.yaml",
        "same": tmp_path / "same.json",
        "changed": tmp_path / "changed.yaml",
    }
    _traj().dump(paths["base"])
    _traj().dump(paths["same"])
    tools = copy.deepcopy(BASE["tools"])
    tools[1][1]["amount"] = 120
    _traj([tuple(t) for t in tools], llm=[(400, 100, 0.0014)] * 3).dump(paths["changed"])
    return paths


def test_cli_diff_same_is_exit_0(
    traces: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["diff", str(traces["base"]), str(traces["same"])]) == 0
    assert capsys.readouterr().out.startswith(f"{traces['same']} matches {traces['base']}")


def test_cli_diff_different_is_exit_1(
    traces: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, changed = str(traces["base"]), str(traces["changed"])
    assert main(["diff", base, changed]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{changed} differs from {base} (mode='strict', cost ±20%, tokens ±20%):",
        "  arguments changed: #2 refund: amount: 100 -> 120",
        "  cost: $0.003000 -> $0.004200 (+40%, beyond ±20%)",
    ]
    assert main(["diff", base, changed, "--cost-tolerance", "0.5"]) == 1
    assert main(["diff", base, changed, "--cost-tolerance", "none", "--mode", "subset"]) == 1
    capsys.readouterr()
    assert main(["diff", base, changed, "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["matches"] is False
    assert data["baseline"] == base
    assert [d["kind"] for d in data["differences"]] == ["arguments_changed", "amount_changed"]


def test_cli_diff_unusable_input_is_exit_2(
    traces: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = str(traces["base"])
    assert main(["diff", base, str(tmp_path / "missing.yaml")]) == 2
    assert "pytest-agentops diff: " in capsys.readouterr().err
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    assert main(["diff", str(garbage), base]) == 2
    assert "garbage.json" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["diff", base, base, "--tokens-tolerance", "-1"])
    assert info.value.code == 2
    assert "is not a tolerance" in capsys.readouterr().err


def test_cli_diff_picks_a_trace_from_a_file_with_many(
    traces: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    many = tmp_path / "many.jsonl"
    one, two = _traj(), _traj(llm=[(400, 100, 0.001)] * 5)
    one.id, two.id = "run-1", "run-2"
    many.write_text(
        "".join(json.dumps(json.loads(t.dump(format="json"))) + "\n" for t in (one, two))
    )
    base = str(traces["base"])
    assert main(["diff", base, str(many)]) == 2
    assert "holds 2 trajectories (run-1, run-2): pick one with --trace-id" in (
        capsys.readouterr().err
    )
    assert main(["diff", base, str(many), "--trace-id", "run-1"]) == 0
    assert main(["diff", base, str(many), "--trace-id", "run-2"]) == 1
    assert "LLM calls: 3 -> 5" in capsys.readouterr().out
    assert main(["diff", base, str(many), "--trace-id", "run-3"]) == 2
    assert "no trace with id 'run-3'" in capsys.readouterr().err


def test_cli_diff_reads_other_trace_formats(capsys: pytest.CaptureFixture[str]) -> None:
    trace = ROOT / "tests" / "data" / "openai_traces" / "large_refund.json"
    assert main(["diff", str(trace), str(trace)]) == 0
    assert "matches" in capsys.readouterr().out


# ---- the README --------------------------------------------------------------------------------


def readme_example() -> tuple[Trajectory, Trajectory]:
    """The baseline and the regressed run of the README's example output."""

    def run(tools: list[tuple[str, dict[str, Any]]], llm: int, cost: float) -> Trajectory:
        recorder = Recorder("tests/test_support.py::test_refund")
        for name, args in tools:
            recorder.tool_call(name, args, result={"ok": True})
        for _ in range(llm):
            recorder.llm_call("gpt-4o-mini", input_tokens=900, output_tokens=120, cost_usd=cost)
        recorder.set_output("Refunded $100 for order 42.")
        return recorder.trajectory

    baseline = run(
        [("lookup_order", {"order_id": "42"}), ("refund", {"order_id": "42", "amount": 100})],
        3,
        0.0005,
    )
    regressed = run(
        [
            ("lookup_order", {"order_id": "42"}),
            ("lookup_order", {"order_id": "42"}),
            ("refund", {"order_id": "42", "amount": 1000}),
        ],
        5,
        0.0005,
    )
    return baseline, regressed


def test_readme_output_example_is_the_real_output(tmp_path: Path) -> None:
    baseline, regressed = readme_example()
    path = tmp_path / "baselines/tests/test_support/test_refund.yaml"
    baseline.dump(path)
    with pytest.raises(AssertionError) as info:
        check_baseline(
            regressed,
            path,
            label="baselines/tests/test_support/test_refund.yaml",
            nodeid="tests/test_support.py::test_refund",
            update=False,
        )
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Baselines", 1)[1].split("\n## ", 1)[0]
    excerpt = re.search(r"```\n(this run differs.*?)```", section, re.S)
    assert excerpt, "no output example in the README's Baselines section"
    assert str(info.value).strip() == excerpt.group(1).strip()
