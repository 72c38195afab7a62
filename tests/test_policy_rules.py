"""Policy rules: allowed, forbidden and required tools, ordering, argument conditions,
budgets, repeats, several policies, programmatic construction."""

from __future__ import annotations

import importlib
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from policy_helpers import Color, Size, found, llm, only, policy, run, tool
from pytest_agentops._util import canonical
from pytest_agentops.errors import AgentopsError
from pytest_agentops.policy import (
    ArgsRule,
    BudgetRule,
    Condition,
    ForbidToolsRule,
    Policy,
    PolicyError,
    Violation,
    check_policies,
    format_violations,
    parse_policy,
)
from pytest_agentops.policy.pii import JoinedText, json_text
from pytest_agentops.policy.values import (
    arguments_key,
)
from pytest_agentops.trajectory.model import (
    MessageStep,
    SpanStep,
    Trajectory,
)


def test_module_imports_and_exports_its_api() -> None:
    module = importlib.import_module("pytest_agentops.policy")
    for name in module.__all__:
        assert hasattr(module, name), name
    assert issubclass(PolicyError, AgentopsError)
    assert issubclass(PolicyError, ValueError)


# ---- allow_tools, forbid_tools, require_tools ---------------------------------------------------


def test_allow_tools_flags_each_call_of_an_unlisted_tool() -> None:
    p = policy("{id: allowed, allow_tools: [lookup, refund]}")
    assert found(p, run(tool("lookup"), tool("refund"))) == []
    trajectory = run(tool("lookup"), tool("delete"), llm("ok"), tool("delete"), tool("drop"))
    violations = p.check(trajectory)
    assert [(v.step, v.call) for v in violations] == [
        (2, {"name": "delete", "arguments": {}}),
        (4, {"name": "delete", "arguments": {}}),
        (5, {"name": "drop", "arguments": {}}),
    ]
    first = violations[0]
    assert first.kind == "allow_tools"
    assert first.policy == "support"
    assert first.step_id == trajectory.steps[1].id
    assert first.message == "delete was called, but allow_tools allows only: lookup, refund"


def test_allow_tools_empty_allows_no_tool() -> None:
    p = policy("{id: no-tools, allow_tools: []}")
    assert found(p, run(llm("hi"))) == []
    assert only(p, run(tool("x"))).message == "x was called, but allow_tools allows none"


def test_forbid_tools_flags_every_call_of_a_listed_tool() -> None:
    p = policy("{id: never-delete, forbid_tools: [delete_account, drop]}")
    assert found(p, run(tool("lookup"))) == []
    trajectory = run(tool("drop"), tool("lookup"), tool("delete_account", user="u1"))
    assert found(p, trajectory) == [("never-delete", 1), ("never-delete", 3)]
    last = p.check(trajectory)[1]
    assert last.kind == "forbid_tools"
    assert last.call == {"name": "delete_account", "arguments": {"user": "u1"}}
    assert last.message == "delete_account was called, but forbid_tools forbids it"


def test_require_tools_needs_one_successful_call_of_each() -> None:
    p = policy("{id: must-ticket, require_tools: [create_ticket, lookup]}")
    assert found(p, run(tool("lookup", error="boom"), tool("lookup"), tool("create_ticket"))) == []
    violations = p.check(run(tool("lookup", error="timeout"), tool("lookup", error="timeout")))
    assert [(v.step, v.kind, v.call) for v in violations] == [
        (None, "require_tools", None),
        (None, "require_tools", None),
    ]
    assert violations[0].message == (
        "create_ticket was never called; require_tools needs at least one successful call"
    )
    assert violations[1].message == (
        "lookup was called 2 time(s) but never succeeded; "
        "require_tools needs at least one successful call"
    )


# ---- require_before -----------------------------------------------------------------------------


def test_require_before_needs_an_earlier_successful_call() -> None:
    p = policy("{id: verify-first, require_before: {tool: lookup, first: verify}}")
    assert found(p, run(tool("verify"), tool("lookup"), tool("lookup"))) == []
    assert found(p, run(tool("lookup"), tool("verify"), tool("lookup"))) == [("verify-first", 1)]
    failed_first = run(tool("verify", error="denied"), tool("lookup"), tool("verify"), tool("x"))
    violation = only(p, failed_first)
    assert violation.step == 2
    assert violation.kind == "require_before"
    assert violation.message == "lookup was called without an earlier successful verify"


def test_require_before_when_selects_the_calls_it_applies_to() -> None:
    p = policy(
        "{id: approval, require_before: "
        "{tool: refund, first: approve, when: {args.amount: {gt: 100}}}}"
    )
    small, large = tool("refund", amount=50), tool("refund", amount=250)
    no_amount, text_amount = tool("refund"), tool("refund", amount="lots")
    assert found(p, run(small, no_amount, text_amount)) == []
    assert found(p, run(small, large)) == [("approval", 2)]
    assert found(p, run(tool("approve"), large)) == []


def test_require_before_when_can_test_the_result() -> None:
    p = policy(
        "{id: r, require_before: {tool: refund, first: approve, "
        "when: {result.status: done, args.amount: {ge: 10}}}}"
    )
    done = tool("refund", amount=10, result={"status": "done"})
    pending = tool("refund", amount=10, result={"status": "pending"})
    assert found(p, run(pending, tool("refund", amount=10))) == []
    assert found(p, run(pending, done)) == [("r", 2)]


def test_require_before_same_args_matches_values() -> None:
    p = policy(
        "{id: r, require_before: {tool: refund, first: approve, same_args: [order_id, who.id]}}"
    )
    approve = tool("approve", order_id="A1", who={"id": 7})
    assert found(p, run(approve, tool("refund", order_id="A1", who={"id": 7.0}))) == []
    other = run(approve, tool("refund", order_id="B2", who={"id": 7}))
    violation = only(p, other)
    assert violation.step == 2
    assert violation.message == (
        "refund was called without an earlier successful approve with the same "
        "order_id='B2', who.id=7"
    )
    failed = run(tool("approve", error="no", order_id="A1", who={"id": 7}), other.steps[1])
    assert found(p, failed) == [("r", 2)]
    missing = only(p, run(approve, tool("refund", order_id="A1")))
    assert missing.message == (
        "refund has no argument who.id, so it cannot be matched to an earlier approve (same_args)"
    )


def test_require_before_same_args_ignores_earlier_calls_without_the_argument() -> None:
    p = policy("{id: r, require_before: {tool: refund, first: approve, same_args: [order_id]}}")
    assert found(p, run(tool("approve"), tool("refund", order_id="A1"))) == [("r", 2)]


def test_require_before_counts_only_calls_strictly_before() -> None:
    p = policy("{id: r, require_before: {tool: ping, first: ping}}")
    assert found(p, run(tool("ping"), tool("ping"))) == [("r", 1)]


# ---- argument conditions ------------------------------------------------------------------------

OPERATOR_CASES = [
    ("{eq: 250}", 250.0, True),
    ("{eq: 250}", 251, False),
    ("{eq: 1}", True, False),
    ("{eq: true}", True, True),
    ("{eq: null}", None, True),
    ("{eq: {a: [1, 2]}}", {"a": [1, 2.0]}, True),
    ("A1", "A1", True),
    ("A1", "a1", False),
    ("[1, 2]", [1, 2], True),
    ("{ne: A1}", "B2", True),
    ("{ne: A1}", "A1", False),
    ("{lt: 10}", 9.5, True),
    ("{lt: 10}", 10, False),
    ("{le: 10}", 10, True),
    ("{le: 10}", 10.01, False),
    ("{gt: 10}", 11, True),
    ("{gt: 10}", 10, False),
    ("{ge: 10}", 10.0, True),
    ("{ge: 10}", 9, False),
    ("{gt: 0, le: 500}", 250, True),
    ("{gt: 0, le: 500}", 0, False),
    ("{in: [EUR, USD]}", "EUR", True),
    ("{in: [EUR, USD]}", "GBP", False),
    ("{in: [1, 2]}", 2.0, True),
    ("{in: [1, 2]}", True, False),
    ("{not_in: [fraud, chargeback]}", "damaged", True),
    ("{not_in: [fraud, chargeback]}", "fraud", False),
    ("{regex: '^ORD-[0-9]{4}$'}", "ORD-1001", True),
    ("{regex: '^ORD-[0-9]{4}$'}", "ORD-10011", False),
    ("{regex: '^12'}", 123, True),
    ("{regex: 'x'}", None, False),
]


@pytest.mark.parametrize(("condition", "value", "holds"), OPERATOR_CASES)
def test_every_operator(condition: str, value: Any, holds: bool) -> None:
    p = policy(f"{{id: c, tool: t, args: {{x: {condition}}}}}")
    assert found(p, run(tool("t", x=value))) == ([] if holds else [("c", 1)])


@pytest.mark.parametrize("value", ["abc", True, None, [1], {"n": 1}])
def test_ordering_needs_a_number(value: Any) -> None:
    p = policy("{id: cap, tool: refund, args: {amount: {le: 500}}}")
    violation = only(p, run(tool("refund", amount=value)))
    assert violation.message == f"argument amount is {value!r}, expected a number <= 500"


def test_args_messages_and_paths() -> None:
    p = policy(
        "{id: refund-cap, tool: refund, args: "
        "{amount: {le: 500}, currency: {in: [EUR, USD]}, customer.id: {regex: '^C-'}, "
        "items.0.sku: SKU-1}}"
    )
    good = tool(
        "refund", amount=500, currency="EUR", customer={"id": "C-1"}, items=[{"sku": "SKU-1"}]
    )
    assert found(p, run(good, tool("lookup", amount=10_000))) == []
    bad = tool("refund", amount=750, currency="GBP", customer={"id": "X"}, items=[])
    violation = only(p, run(good, bad))
    assert violation.step == 2
    assert violation.kind == "args"
    assert violation.message == (
        "argument amount is 750, expected <= 500; argument currency is 'GBP', expected one of "
        "'EUR', 'USD'; argument customer.id is 'X', expected a match for /^C-/; "
        "argument items.0.sku is missing"
    )
    missing = only(p, run(tool("refund", currency="EUR", customer={}, items=[{"sku": "SKU-1"}])))
    assert missing.message == "argument amount is missing; argument customer.id is missing"
    assert only(p, run(tool("refund", **{**good.arguments, "currency": None}))).message == (
        "argument currency is None, expected one of 'EUR', 'USD'"
    )


def test_args_message_for_eq_and_ne() -> None:
    p = policy("{id: c, tool: t, args: {mode: safe, user: {ne: root}}}")
    assert only(p, run(tool("t", mode="fast", user="root"))).message == (
        "argument mode is 'fast', expected 'safe'; argument user is 'root', expected anything but "
        "'root'"
    )


# ---- budgets ------------------------------------------------------------------------------------


def test_max_steps_points_at_the_first_step_over() -> None:
    p = policy("{id: budget, max_steps: 20}")
    assert found(p, run(*[llm() for _ in range(20)])) == []
    violation = only(p, run(*[tool("t", i=i) for i in range(25)]))
    assert violation.step == 21
    assert violation.kind == "budget"
    assert violation.call == {"name": "t", "arguments": {"i": 20}}
    assert violation.message == "the agent took 25 steps; max_steps allows 20"


def test_call_budgets_point_at_the_first_call_over() -> None:
    p = policy("{id: b, max_tool_calls: 3, max_llm_calls: 1, max_calls: {lookup: 2, refund: 0}}")
    steps = [llm(), tool("lookup"), tool("lookup"), llm(), tool("lookup"), tool("other")]
    violations = p.check(run(*steps))
    assert [(v.step, v.message) for v in violations] == [
        (4, "the agent made 2 LLM calls; max_llm_calls allows 1"),
        (5, "the agent made 3 calls of lookup; max_calls allows 2"),
        (6, "the agent made 4 tool calls; max_tool_calls allows 3"),
    ]
    assert found(p, run(tool("refund"))) == [("b", 1)]


def test_max_calls_points_at_the_fourth_call_for_a_limit_of_three() -> None:
    p = policy("{id: b, max_calls: {lookup_order: 3}}")
    steps = [tool("lookup_order", n=i) if i % 2 else llm() for i in range(10)]
    assert found(p, run(*steps)) == [("b", 8)]


def test_max_cost_points_at_the_llm_call_that_passed_the_limit() -> None:
    p = policy("{id: spend, max_cost_usd: 0.10}")
    steps = [llm(cost=0.04), tool("t"), llm(cost=None), llm(cost=0.05), llm(cost=0.03), llm(cost=1)]
    violation = only(p, run(*steps))
    assert violation.step == 5
    assert violation.call is None
    assert violation.message == (
        "the LLM cost reached $0.12 at this call ($1.12 in all); max_cost_usd allows $0.10"
    )
    assert found(p, run(llm(cost=0.05), llm(cost=0.05))) == []


def test_max_cost_tolerates_float_sums() -> None:
    p = policy("{id: spend, max_cost_usd: 0.3}")
    assert found(p, run(llm(cost=0.1), llm(cost=0.2))) == []
    assert "$0.000001" in only(policy("{id: s, max_cost_usd: 0}"), run(llm(cost=1e-6))).message


def test_max_tokens_counts_input_and_output() -> None:
    p = policy("{id: tokens, max_tokens: 1000}")
    steps = [llm(tokens=(400, 100)), llm(tokens=(400, 99)), llm(tokens=(1, 0)), llm(tokens=(5, 5))]
    violation = only(p, run(*steps))
    assert violation.step == 4
    assert violation.message == (
        "the LLM calls used 1,010 tokens up to this call (1,010 in all); max_tokens allows 1,000"
    )


def test_max_duration_uses_the_trajectory_duration() -> None:
    p = policy("{id: slow, max_duration_s: 30}")
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    fast = Trajectory(steps=[], started_at=start, ended_at=start + timedelta(seconds=30))
    assert found(p, fast) == []
    slow = Trajectory(steps=[], started_at=start, ended_at=start + timedelta(seconds=42.5))
    violation = only(p, slow)
    assert violation.step is None
    assert violation.message == "the run took 42.50 s; max_duration_s allows 30 s"


def test_budget_violations_are_in_step_order() -> None:
    p = policy("{id: b, max_steps: 3, max_cost_usd: 0.01, max_duration_s: 0.5}")
    steps = [llm(cost=0.02), tool("t"), tool("t"), tool("t")]
    trajectory = Trajectory(
        steps=steps, started_at=datetime(2024, 1, 1), ended_at=datetime(2024, 1, 2)
    )
    assert found(p, trajectory) == [("b", 1), ("b", 4), ("b", None)]


# ---- max_repeats --------------------------------------------------------------------------------


def test_max_repeats_flags_the_call_after_the_limit_once_per_arguments() -> None:
    p = policy("{id: no-loops, max_repeats: 3}")
    same = [tool("search", q="x", page=1) for _ in range(3)]
    assert found(p, run(*same, tool("search", q="y", page=1), tool("other"))) == []
    steps = [
        tool("search", q="x", filters={"a": 1, "b": [1, 2]}),
        tool("search", filters={"b": [1, 2.0], "a": 1}, q="x"),
        llm(),
        tool("search", q="x", filters={"a": 1, "b": [1, 2]}),
        tool("search", q="x", filters={"a": True, "b": [1, 2]}),  # true is not 1
        tool("search", filters={"a": 1.0, "b": [1, 2]}, q="x"),
        tool("search", q="x", filters={"a": 1, "b": [1, 2]}),
        tool("fetch", id=1),
        tool("fetch", id=1),
        tool("fetch", id=1),
        tool("fetch", id=1),
    ]
    violations = p.check(run(*steps))
    assert [(v.step, v.message) for v in violations] == [
        (6, "search was called 5 times with the same arguments; max_repeats allows 3"),
        (11, "fetch was called 4 times with the same arguments; max_repeats allows 3"),
    ]
    assert violations[0].call == {"name": "search", "arguments": steps[5].arguments}


def test_max_repeats_tells_apart_calls_whose_telling_argument_is_missing() -> None:
    p = policy("{id: r, max_repeats: 1}")
    steps = [tool("t", a="x"), tool("t", b=2), tool("t", b=2), tool("t", b=3)]
    assert found(p, run(*steps)) == [("r", 3)]


# ---- several policies, formatting ---------------------------------------------------------------


def test_check_policies_keeps_policy_order_and_names() -> None:
    first = policy("{id: nd, forbid_tools: [delete]}", name="safety")
    second = policy("{id: nd, max_steps: 1}", name="budget")
    violations = check_policies(run(tool("x"), tool("delete")), [first, second])
    assert [(v.policy, v.rule_id, v.step) for v in violations] == [
        ("safety", "nd", 2),
        ("budget", "nd", 2),
    ]


def test_format_violations() -> None:
    p = policy(
        "{id: refund-cap, tool: refund, args: {amount: {le: 100}}}",
        "{id: must-ticket, require_tools: [create_ticket]}",
        "{id: spend, max_cost_usd: 0.01}",
    )
    trajectory = run(
        llm(cost=0.02),
        MessageStep(role="user", content="hi"),
        tool("refund", order_id="A1", amount=250),
    )
    violations = p.check(trajectory)
    assert format_violations(violations, trajectory).splitlines() == [
        "[refund-cap] step 3 refund(order_id='A1', amount=250): "
        "argument amount is 250, expected <= 100",
        "[must-ticket]: create_ticket was never called; "
        "require_tools needs at least one successful call",
        "[spend] step 1 (LLM call to gpt-test): the LLM cost reached $0.02 at this call "
        "($0.02 in all); max_cost_usd allows $0.01",
    ]
    assert format_violations(violations).splitlines()[2].startswith("[spend] step 1: ")
    assert format_violations([]) == ""


def test_format_violations_prefixes_policies_when_there_are_several() -> None:
    violations = [
        Violation(rule_id="a", kind="budget", message="m", policy="p1"),
        Violation(rule_id="b", kind="budget", message="n", step=2, policy="p2"),
    ]
    trajectory = run(SpanStep(name="plan"), SpanStep(name="act"))
    assert format_violations(violations, trajectory) == "[p1:a]: m\n[p2:b] step 2 (span act): n"


def test_format_violations_describes_any_step() -> None:
    trajectory = run(MessageStep(role="user", content="hi"), tool("lookup"), llm())
    violations = [
        Violation(rule_id="m", kind="k", message="x", step=1),
        Violation(rule_id="t", kind="k", message="y", step=2),
        Violation(rule_id="r", kind="k", message="z", step=3, call={"name": "f", "arguments": "{"}),
        Violation(rule_id="o", kind="k", message="w", step=9),
    ]
    assert format_violations(violations, trajectory).splitlines() == [
        "[m] step 1 (user message): x",
        "[t] step 2 (lookup call): y",
        "[r] step 3 f('{'): z",
        "[o] step 9: w",
    ]


def test_format_violations_shortens_long_arguments() -> None:
    violation = Violation(
        rule_id="r",
        kind="args",
        message="m",
        step=1,
        call={"name": "t", "arguments": {"text": "x" * 500, "n": 1}},
    )
    line = format_violations([violation])
    assert len(line) < 200
    assert line.startswith("[r] step 1 t(text='xxx")


# ---- programmatic construction ------------------------------------------------------------------


def test_policies_can_be_built_in_python() -> None:
    p = Policy.model_validate(
        {"schema_version": 1, "name": "p", "rules": [{"id": "x", "forbid_tools": ["rm"]}]}
    )
    assert isinstance(p.rules[0], ForbidToolsRule)
    assert p.source is None
    same = Policy(schema_version=1, name="p", rules=[ForbidToolsRule(id="x", forbid_tools=["rm"])])
    trajectory = run(tool("rm"))
    assert same.check(trajectory) == p.check(trajectory) != []
    assert "source" not in parse_policy(p.model_dump_json()).model_dump()


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ([{"id": "x", "forbid_tools": ["a"]}, {"id": "x", "max_steps": 1}], "duplicate rule id"),
        ([{"id": "x"}], "a rule needs exactly one of"),
        ([{"id": "x", "max_steps": 1, "max_repeats": 1}], "a rule needs exactly one of"),
    ],
)
def test_invalid_python_policies_raise_validation_errors(
    rules: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Policy.model_validate({"schema_version": 1, "name": "p", "rules": rules})


def test_conditions_and_rules_can_be_built_in_python() -> None:
    rule = ArgsRule(id="cap", tool="refund", args={"amount": Condition(le=500)})
    p = Policy(schema_version=1, name="p", rules=[rule])
    assert found(p, run(tool("refund", amount=501))) == [("cap", 1)]
    with pytest.raises(ValidationError, match="a budget rule needs at least one of: max_steps"):
        BudgetRule.model_validate({"id": "b"})


def test_values_compare_as_json() -> None:
    assert canonical(Color.RED) == canonical("red")
    assert canonical(Size.ONE) == canonical(1.0) == canonical(1) != canonical(True)
    assert canonical((1, "a")) == canonical([1, "a"])
    assert arguments_key({"a": 1, "b": "x"}) == arguments_key({"b": "x", "a": 1.0})


def test_texts_survive_data_that_is_not_json() -> None:
    looped: list[Any] = [1]
    looped.append(looped)
    assert json_text(looped) == "[1, [...]]"
    values = [{"a": "x"}, {(1, 2): "sk-proj-abc123DEF456ghi789JKL012mno"}, "y"]
    joined = JoinedText.of_json(values)
    assert joined.text == '[{"a": "x"}, {(1, 2): \'sk-proj-abc123DEF456ghi789JKL012mno\'}, "y"]'
    offset = joined.text.index("sk-")
    assert joined.owner(offset) == 1
    assert joined.owner(joined.text.index('"y"')) == 2
    texts = JoinedText.of_texts(["one", "", "three\nlines"])
    assert [texts.owner(texts.text.index(word)) for word in ("one", "three", "lines")] == [0, 2, 2]


def test_violation_refuses_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        Violation.model_validate({"rule_id": "r", "kind": "args", "message": "m", "extra": 1})
