"""assert_tool_calls: the five modes, argument settings, matchers, parallel groups, optimality."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_agentops import (
    ANY,
    Approx,
    Contains,
    Ge,
    Gt,
    Le,
    Lt,
    Match,
    OneOf,
    Regex,
    assert_tool_calls,
    call,
)
from pytest_agentops.trajectory.model import LLMCall, RequestedToolCall, ToolCall, Trajectory


def traj(*calls: tuple[str, dict[str, Any]] | list[tuple[str, dict[str, Any]]]) -> Trajectory:
    """Tool calls in order; a list of calls is one parallel group requested by one LLM step."""
    steps: list[Any] = []
    n = 0
    for item in calls:
        group = item if isinstance(item, list) else [item]
        ids = []
        for name, args in group:
            n += 1
            ids.append((f"c{n}", name, args))
        if isinstance(item, list):
            steps.append(
                LLMCall(
                    requested_tool_calls=[
                        RequestedToolCall(id=i, name=nm, arguments=a) for i, nm, a in ids
                    ]
                )
            )
        steps += [
            ToolCall(name=nm, arguments=a, call_id=i if isinstance(item, list) else None)
            for i, nm, a in ids
        ]
    return Trajectory(steps=steps)


RUN = traj(
    ("verify", {"id": 1}), ("lookup", {"order": "A"}), ("refund", {"order": "A", "amount": 250})
)


def passes(t: Trajectory, expected: list[Any], **kw: Any) -> bool:
    try:
        assert_tool_calls(t, expected, **kw)
    except AssertionError:
        return False
    return True


# ---- modes ------------------------------------------------------------------------------

MODES = ("strict", "ordered", "unordered", "superset", "subset")
MODE_CASES = [
    # expected, passes? in (strict, ordered, unordered, superset, subset)
    (
        ["verify", "lookup", "refund"],
        (True, True, True, True, True),
    ),
    (
        ["verify", "refund"],
        (False, True, False, True, False),
    ),
    (
        ["refund", "verify", "lookup"],
        (False, False, True, True, True),
    ),
    (
        ["refund", "verify"],
        (False, False, False, True, False),
    ),
    (
        ["verify", "lookup", "refund", "notify"],
        (False, False, False, False, True),
    ),
    (
        ["verify", "verify", "lookup", "refund"],
        (False, False, False, False, True),
    ),
    ([], (False, True, False, True, False)),
]


@pytest.mark.parametrize(("expected", "outcomes"), MODE_CASES)
@pytest.mark.parametrize("mode", ["strict", "ordered", "unordered", "superset", "subset"])
def test_modes_on_names(expected: list[str], outcomes: tuple[bool, ...], mode: str) -> None:
    assert passes(RUN, expected, mode=mode) is outcomes[MODES.index(mode)]


def test_empty_run_and_empty_expectation() -> None:
    empty = Trajectory()
    for mode in ("strict", "ordered", "unordered", "superset", "subset"):
        assert passes(empty, [], mode=mode)
    assert passes(empty, ["x"], mode="subset")
    assert not passes(empty, ["x"], mode="superset")


# ---- argument settings ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expected_args", "exact", "partial"),
    [
        ({"order": "A", "amount": 250}, True, True),
        ({"amount": 250.0, "order": "A"}, True, True),  # key order and 250 == 250.0
        ({"order": "A"}, False, True),  # missing key: only partial accepts
        ({"order": "A", "amount": 250, "x": 1}, False, False),
        ({"order": "B", "amount": 250}, False, False),
        ({"order": "A", "amount": True}, False, False),  # bool is not a number
    ],
)
def test_exact_partial_ignore(expected_args: dict[str, Any], exact: bool, partial: bool) -> None:
    t = traj(("refund", {"order": "A", "amount": 250}))
    assert passes(t, [call("refund", expected_args)], args="exact") is exact
    assert passes(t, [call("refund", expected_args)], args="partial") is partial
    assert passes(t, [call("refund", expected_args)], args="ignore")


def test_nested_values_partial_is_recursive_lists_are_positional() -> None:
    t = traj(("create", {"order": {"items": [{"sku": "a", "qty": 1}], "note": "x"}, "dry": False}))
    assert passes(t, [call("create", order={"items": [{"sku": "a"}]})], args="partial")
    assert not passes(t, [call("create", order={"items": [{"sku": "a"}]})], args="exact")
    assert not passes(t, [call("create", order={"items": []})], args="partial")
    assert passes(
        t, [call("create", order={"items": [{"sku": "a", "qty": 1.0}], "note": "x"}, dry=False)]
    )


def test_per_tool_argument_modes() -> None:
    t = traj(("search", {"q": "anything", "page": 2}), ("refund", {"order": "A", "amount": 250}))
    expected = [call("search", q="other"), call("refund", order="A", amount=250)]
    assert passes(t, expected, args={"search": "ignore"})
    assert not passes(t, expected, args={"refund": "ignore"})
    assert passes(
        t,
        [call("search", q="anything"), call("refund", order="A")],
        args={"search": "partial", "*": "partial"},
    )
    with pytest.raises(ValueError, match=r"args\['search'\] = 'loose' is not an argument mode"):
        assert_tool_calls(t, expected, args={"search": "loose"})


def test_call_without_arguments_accepts_any_and_empty_dict_means_none() -> None:
    t = traj(("ping", {"x": 1}))
    assert passes(t, [call("ping")])
    assert passes(t, ["ping"])
    assert not passes(t, [call("ping", {})])
    assert passes(traj(("ping", {})), [call("ping", {})])


def test_expected_as_dicts_and_tool_calls() -> None:
    assert passes(
        RUN, [{"name": "verify", "arguments": {"id": 1}}, {"name": "lookup"}, RUN.tool_calls[2]]
    )
    with pytest.raises(TypeError, match=r"expected\[0\] must be a tool name"):
        assert_tool_calls(RUN, [42])
    with pytest.raises(TypeError, match="expected must be a list"):
        assert_tool_calls(RUN, "verify")
    with pytest.raises(ValueError, match="mode='random' is not a match mode"):
        assert_tool_calls(RUN, [], mode="random")


# ---- matchers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("matcher", "value", "ok"),
    [
        (ANY, None, True),
        (Regex(r"ORD-\d+"), "ORD-12", True),
        (Regex(r"ORD-\d+"), "xORD-12", False),
        (Regex(r"ORD-\d+", search=True), "xORD-12", True),
        (Regex("a"), 1, False),
        (Regex("(?i)ord"), "ORD", True),
        (Approx(0.3), 0.1 + 0.2, True),
        (Approx(100, rel=0.01), 100.9, True),
        (Approx(100, rel=0.01), 102, False),
        (Approx(1), True, False),
        (Lt(100), 99.9, True),
        (Lt(100), 100, False),
        (Le(100), 100, True),
        (Gt(100), 100, False),
        (Ge(100), 100.0, True),
        (Lt(100), "50", False),
        (Lt(100), None, False),
        (Lt("m"), "a", True),
        (OneOf("a", "b"), "b", True),
        (OneOf("a", {"k": ANY}), {"k": 3}, True),
        (OneOf(1, 2), 3, False),
        (Contains("ship"), "it shipped", True),
        (Contains("a", "b"), ["a", "b", "c"], True),
        (Contains({"sku": "x"}), [{"sku": "x"}], True),
        (Contains("k"), {"k": 1}, True),
        (Contains("z"), 5, False),
        (Match(lambda v: v % 2 == 0, "even"), 4, True),
        (Match(lambda v: v % 2 == 0, "even"), "x", False),  # raising predicate = no match
    ],
)
def test_matchers(matcher: Any, value: Any, ok: bool) -> None:
    assert passes(traj(("t", {"v": value})), [call("t", v=matcher)]) is ok


def test_matchers_at_any_depth_and_in_plain_equality() -> None:
    t = traj(("create", {"order": {"id": "ORD-7", "lines": [{"sku": "a", "price": 9.99}]}}))
    expected = call(
        "create",
        order={"id": Regex(r"ORD-\d+"), "lines": [{"sku": OneOf("a", "b"), "price": Approx(9.99)}]},
    )
    assert passes(t, [expected])
    assert {"amount": Lt(10)} == {"amount": 5}
    assert repr(Lt(10)) == "Lt(10)"
    assert repr(Regex("x")) == "Regex('x')"


# ---- optimal matching --------------------------------------------------------------------


def test_unordered_uses_maximum_matching_not_greedy() -> None:
    t = traj(("search", {"q": "x"}), ("search", {"q": "y"}))
    expected = [call("search"), call("search", q="x")]
    assert passes(t, expected, mode="unordered", args="partial")
    assert passes(t, expected, mode="unordered")
    assert passes(t, [call("search", q=ANY), call("search", q="x")], mode="superset")
    assert passes(t, [call("search", q=ANY), call("search", q="x")], mode="subset")


def test_matchers_compete_for_the_same_calls() -> None:
    t = traj(("pay", {"amount": 50}), ("pay", {"amount": 500}))
    assert passes(t, [call("pay", amount=Lt(1000)), call("pay", amount=Lt(100))], mode="unordered")
    assert not passes(
        t, [call("pay", amount=Lt(100)), call("pay", amount=Lt(100))], mode="unordered"
    )


def test_ordered_chooses_later_calls_when_needed() -> None:
    t = traj(("a", {"v": 1}), ("b", {}), ("a", {"v": 2}), ("c", {}))
    assert passes(t, ["b", call("a", v=2), "c"], mode="ordered")
    assert not passes(t, [call("a", v=2), "b"], mode="ordered")


# ---- parallel groups ----------------------------------------------------------------------


def test_parallel_group_inner_order_is_free_in_strict_and_ordered() -> None:
    t = traj(
        ("verify", {}), [("lookup", {"o": 1}), ("lookup", {"o": 2}), ("stock", {})], ("answer", {})
    )
    expected = ["verify", call("stock"), call("lookup", o=2), call("lookup", o=1), "answer"]
    assert passes(t, expected, mode="strict")
    assert passes(t, ["verify", "stock", "answer"], mode="ordered")
    assert passes(t, [call("lookup", o=2), call("lookup", o=1)], mode="ordered")


def test_order_between_groups_still_matters() -> None:
    t = traj(("verify", {}), [("lookup", {}), ("stock", {})], ("answer", {}))
    assert not passes(t, ["lookup", "stock", "verify", "answer"], mode="strict")
    assert not passes(t, ["answer", "lookup"], mode="ordered")


def test_sequential_calls_are_not_a_group() -> None:
    t = traj(("lookup", {"o": 1}), ("lookup", {"o": 2}))
    assert not passes(t, [call("lookup", o=2), call("lookup", o=1)], mode="strict")


def test_group_needs_bipartite_matching_inside() -> None:
    t = traj([("s", {"q": "x"}), ("s", {"q": "y"})])
    assert passes(t, [call("s", q=ANY), call("s", q="x")], mode="strict")
    assert passes(t, [call("s", q=ANY), call("s", q="x")], mode="ordered")


# ---- filters --------------------------------------------------------------------------------


def test_ignore_and_only_successful() -> None:
    t = Trajectory(
        steps=[
            ToolCall(name="lookup", arguments={}),
            ToolCall(name="refund", arguments={"a": 1}, error="Boom"),
            ToolCall(name="log", arguments={}),
            ToolCall(name="refund", arguments={"a": 1}),
        ]
    )
    assert passes(t, ["refund"], mode="unordered", ignore=["lookup", "log"], only_successful=True)
    assert not passes(t, ["refund"], mode="unordered", ignore=["lookup", "log"])


def test_the_successful_state_changes_equal_these_in_any_order() -> None:
    # The README recipe: one call checks the state-changing calls that succeeded.
    t = traj(("verify", {}), ("refund", {"o": "A"}), ("lookup", {}), ("ticket", {"p": "high"}))
    assert_tool_calls(
        t,
        [call("ticket", p="high"), call("refund", o="A")],
        mode="unordered",
        ignore=["verify", "lookup"],
        only_successful=True,
    )


# ---- failure messages ------------------------------------------------------------------------


def test_failure_message_shows_sequences_divergence_diff_and_tree() -> None:
    t = Trajectory(
        steps=[
            LLMCall(
                model="gpt-4o-mini",
                input_tokens=10,
                output_tokens=2,
                requested_tool_calls=[RequestedToolCall(id="1", name="verify")],
            ),
            ToolCall(name="verify", arguments={"id": "C1"}, call_id="1", result={"ok": True}),
            ToolCall(name="refund", arguments={"order": "A", "amount": 250}),
        ]
    )
    with pytest.raises(AssertionError) as info:
        assert_tool_calls(
            t, ["verify", "approve", call("refund", order="A", amount=100)], mode="ordered"
        )
    message = str(info.value)
    assert "mode='ordered', args='exact'" in message
    assert "expected #2 approve(...) was not found after step 2" in message
    assert re.search(r"> #2\s+approve\(\.\.\.\)\s+not found", message)
    assert re.search(r"step 2\s+verify\(id='C1'\)\s+#1", message)
    assert "no call of 'approve' in the run (tools called: ['refund', 'verify'])" in message
    assert "trajectory:" in message
    assert "llm   gpt-4o-mini  10->2 tok  asks verify" in message

    with pytest.raises(AssertionError) as info:
        assert_tool_calls(t, ["verify", call("refund", order="A", amount=100)])
    message = str(info.value)
    assert "closest actual call to expected #2 refund(order='A', amount=100)" in message
    assert "amount: expected 100, got 250" in message  # the argument diff (deepdiff)


def test_failure_diff_with_matchers_and_partial() -> None:
    t = traj(("refund", {"order": "A", "amount": 250, "reason": "late"}))
    with pytest.raises(AssertionError, match=r"amount: expected Lt\(100\), got 250"):
        assert_tool_calls(t, [call("refund", amount=Lt(100))], args="partial")
    with pytest.raises(AssertionError, match=r"reason: unexpected argument \(got 'late'\)"):
        assert_tool_calls(t, [call("refund", order="A", amount=250)])


def test_subset_failure_names_the_extra_call() -> None:
    with pytest.raises(
        AssertionError, match=r"1 call\(s\) outside the expected ones, first: step 3 refund"
    ):
        assert_tool_calls(RUN, ["verify", "lookup"], mode="subset")


def test_accepts_the_recorder_fixture_object() -> None:
    from pytest_agentops.capture.recorder import Recorder

    rec = Recorder()
    rec.tool_call("a", {})
    assert_tool_calls(rec, ["a"])
    with pytest.raises(TypeError, match="expected a Trajectory or the agent_trace fixture"):
        assert_tool_calls([], ["a"])


# ---- properties ----------------------------------------------------------------------------

NAMES = st.sampled_from(["a", "b", "c"])
ARGS = st.fixed_dictionaries(
    {}, optional={"x": st.integers(0, 2), "y": st.sampled_from(["p", "q"])}
)
CALLS = st.lists(st.tuples(NAMES, ARGS), max_size=7)


def _expectation(draw_args: Any) -> Any:
    return st.one_of(
        NAMES,
        st.builds(lambda n, a: call(n, a), NAMES, ARGS),
        st.builds(lambda n: call(n, x=ANY), NAMES),
        st.builds(lambda n, b: call(n, x=Lt(b)), NAMES, st.integers(0, 3)),
    )


EXPECTED = st.lists(_expectation(None), max_size=6)
ARG_MODES = st.sampled_from(["exact", "partial", "ignore"])


@settings(max_examples=300, deadline=None)
@given(calls=CALLS, expected=EXPECTED, args=ARG_MODES)
def test_strict_implies_ordered_implies_superset(
    calls: list[Any], expected: list[Any], args: str
) -> None:
    t = traj(*calls)
    strict = passes(t, expected, mode="strict", args=args)
    ordered = passes(t, expected, mode="ordered", args=args)
    superset = passes(t, expected, mode="superset", args=args)
    unordered = passes(t, expected, mode="unordered", args=args)
    subset = passes(t, expected, mode="subset", args=args)
    assert not strict or ordered
    assert not ordered or superset
    assert not strict or unordered
    assert unordered == (superset and subset and len(expected) == len(calls))


@settings(max_examples=300, deadline=None)
@given(calls=CALLS, expected=EXPECTED, args=ARG_MODES, data=st.data())
def test_any_order_modes_do_not_depend_on_order(
    calls: list[Any], expected: list[Any], args: str, data: st.DataObject
) -> None:
    t = traj(*calls)
    shuffled_calls = data.draw(st.permutations(calls))
    shuffled_expected = data.draw(st.permutations(expected))
    for mode in ("unordered", "superset", "subset"):
        base = passes(t, expected, mode=mode, args=args)
        assert passes(traj(*shuffled_calls), expected, mode=mode, args=args) == base
        assert passes(t, shuffled_expected, mode=mode, args=args) == base


@settings(max_examples=200, deadline=None)
@given(calls=CALLS, data=st.data())
def test_a_run_matches_its_own_calls_in_every_mode(calls: list[Any], data: st.DataObject) -> None:
    t = traj(*calls)
    expected = [call(n, a) for n, a in calls]
    for mode in ("strict", "ordered", "unordered", "superset", "subset"):
        assert passes(t, expected, mode=mode)
    subsequence = [e for e in expected if data.draw(st.booleans())]
    assert passes(t, subsequence, mode="ordered")
    assert passes(t, subsequence, mode="superset")


# ---- the smaller helpers ---------------------------------------------------------------------


def test_assert_called_and_not_called() -> None:
    from pytest_agentops import assert_called, assert_not_called

    assert_called(RUN, "refund")
    assert_called(RUN, "refund", {"amount": Gt(100)}, times=1)
    assert_not_called(RUN, "delete_account")
    assert_not_called(RUN, "refund", {"amount": Lt(100)})
    with pytest.raises(
        AssertionError, match=r"expected refund\(amount=10\) to be called at least once"
    ):
        assert_called(RUN, "refund", {"amount": 10})
    with pytest.raises(
        AssertionError, match=r"closest call, step 3: refund\(order='A', amount=250\)"
    ):
        assert_called(RUN, "refund", {"amount": 10})
    with pytest.raises(AssertionError, match=r"to be called 2 time\(s\); it was called 1 time"):
        assert_called(RUN, "refund", times=2)
    with pytest.raises(
        AssertionError, match=r"expected verify not to be called, but it was called 1"
    ):
        assert_not_called(RUN, "verify")
    with pytest.raises(AssertionError, match=r"unexpected argument"):
        assert_called(RUN, "verify", {}, exact=True)


def test_assert_called_before() -> None:
    from pytest_agentops import assert_called_before

    assert_called_before(RUN, "verify", "refund")
    assert_called_before(RUN, call("lookup", order="A"), call("refund", amount=250))
    with pytest.raises(AssertionError, match="but verify came first: step 1 verify"):
        assert_called_before(RUN, "refund", "verify")
    with pytest.raises(
        AssertionError, match=r"expected approve\(\.\.\.\) before refund\(\.\.\.\) \(step 3\)"
    ):
        assert_called_before(RUN, "approve", "refund")
    with pytest.raises(AssertionError, match=r"expected notify\(\.\.\.\) to be called"):
        assert_called_before(RUN, "verify", "notify")


def test_assert_output_contains() -> None:
    from pytest_agentops import assert_output_contains

    t = Trajectory(output="Your refund of $20.00 is on its way.")
    assert_output_contains(t, "$20.00")
    assert_output_contains(t, Regex(r"\$\d+\.\d\d"))
    with pytest.raises(AssertionError, match=r"expected the output to contain 'shipped'"):
        assert_output_contains(t, "shipped")


def test_assert_within_names_the_step_where_a_budget_broke() -> None:
    from pytest_agentops import assert_within

    t = Trajectory(
        steps=[
            LLMCall(input_tokens=100, output_tokens=10, cost_usd=0.02),
            ToolCall(name="lookup", arguments={}),
            LLMCall(input_tokens=100, output_tokens=10, cost_usd=0.04),
        ]
    )
    assert_within(t, max_steps=3, max_cost_usd=0.06, max_tokens=220, max_llm_calls=2)
    with pytest.raises(
        AssertionError, match=r"\[assert_within\] step 3 .*max_cost_usd allows \$0\.05"
    ):
        assert_within(t, max_cost_usd=0.05)
    with pytest.raises(
        AssertionError, match=r"step 2 lookup\(\): the agent made 1 calls of lookup"
    ):
        assert_within(t, max_calls={"lookup": 0})
    with pytest.raises(TypeError, match="needs at least one limit"):
        assert_within(t)


GROUPED_CALLS = st.lists(
    st.one_of(st.tuples(NAMES, ARGS), st.lists(st.tuples(NAMES, ARGS), min_size=2, max_size=3)),
    max_size=6,
)


@settings(max_examples=400, deadline=None)
@given(calls=GROUPED_CALLS, expected=EXPECTED, args=ARG_MODES, only_ok=st.booleans())
def test_lean_ordered_check_agrees_with_the_full_matcher(
    calls: list[Any], expected: list[Any], args: str, only_ok: bool
) -> None:
    from pytest_agentops.assertions.matching import (
        ArgsPolicy,
        actual_calls,
        match_calls,
        ordered_passes,
        to_expected,
    )

    t = traj(*calls)
    wanted = [to_expected(e, i) for i, e in enumerate(expected)]
    policy = ArgsPolicy(args)
    full = match_calls(wanted, actual_calls(t, ["c"], only_ok), "ordered", policy).ok
    assert ordered_passes(t, wanted, policy, ["c"], only_ok) == full


def test_narrowed_candidates_give_the_same_answers_on_long_runs() -> None:
    # >= 32 calls of one tool: candidates are narrowed by a plain argument value first.
    calls = [("pay", {"user": f"u{i % 4}", "amount": i, "flag": i % 2 == 0}) for i in range(64)]
    t = traj(*calls)
    u1_over = [call("pay", user="u1", amount=Gt(60))]  # u1 paid 61 once
    assert passes(t, u1_over, mode="superset", args="partial")
    assert not passes(t, u1_over, mode="superset")  # exact: `flag` is missing
    assert not passes(t, [call("pay", user="u1", amount=Gt(61))], mode="superset", args="partial")
    assert passes(t, [call("pay", user="u2", amount=62.0, flag=True)], mode="superset")
    assert not passes(t, [call("pay", user="u2", amount=62, flag=1)], mode="superset")
    assert not passes(t, [call("pay", user="u9", amount=ANY)], mode="superset", args="partial")
    expected = [call("pay", user="u3", amount=Lt(100), flag=ANY)] * 16
    assert passes(t, expected, mode="superset")
    assert not passes(t, [*expected, expected[0]], mode="superset")  # only 16 calls of u3


def test_assert_output_contains_takes_compiled_patterns() -> None:
    import re

    from pytest_agentops import assert_output_contains

    t = Trajectory(output="Your refund of $20.00 is on its way.")
    assert_output_contains(t, re.compile(r"refund of \$\d+"))
    with pytest.raises(AssertionError, match=r"expected the output to contain re\.compile"):
        assert_output_contains(t, re.compile("shipped", re.IGNORECASE))


def test_one_of_takes_the_options_or_one_iterable_of_them() -> None:
    from pytest_agentops.assertions.matchers import values_match

    assert values_match(OneOf([1, 2]), 2)
    assert values_match(OneOf((1, 2)), 1)
    assert values_match(OneOf({"a", "b"}), "a")
    assert not values_match(OneOf([1, 2]), [1, 2])
    assert values_match(OneOf([1, 2], [3]), [3])  # several options: each is one
    assert repr(OneOf([1, 2])) == "OneOf(1, 2)"
