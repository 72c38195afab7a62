"""Unit tests of the policy engine: rule semantics, conditions, detectors, loading errors."""

from __future__ import annotations

import importlib
import json
import math
import time
from datetime import datetime, timedelta, timezone
from enum import Enum, IntEnum
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from pytest_agentops.errors import AgentopsError
from pytest_agentops.models import LLMCall, MessageStep, SpanStep, Step, ToolCall, Trajectory
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
    load_policy,
    parse_policy,
)
from pytest_agentops.policy.detectors import (
    DETECTORS,
    MISSING,
    JoinedText,
    arguments_key,
    canonical,
    failing,
    failure,
    json_text,
    luhn_valid,
    mask,
    members,
    resolve,
)
from pytest_agentops.policy.index import _Index

SOURCE = "policies/support.yaml"


def policy(*rules: str, name: str = "support") -> Policy:
    """A policy with the given rules, each written as one YAML flow mapping."""
    text = f"schema_version: 1\nname: {name}\nrules:\n" + "".join(f"  - {r}\n" for r in rules)
    return parse_policy(text, source=SOURCE)


def tool(name: str, error: str | None = None, result: Any = None, **arguments: Any) -> ToolCall:
    return ToolCall(name=name, arguments=arguments, result=result, error=error)


def llm(
    text: str | None = None, cost: float | None = None, tokens: tuple[int, int] = (0, 0)
) -> LLMCall:
    message = {"role": "assistant", "content": text}
    return LLMCall(
        model="gpt-test",
        output_message=message,
        cost_usd=cost,
        input_tokens=tokens[0],
        output_tokens=tokens[1],
    )


def run(*steps: Step, output: Any = None) -> Trajectory:
    return Trajectory(steps=list(steps), output=output)


def found(p: Policy, trajectory: Trajectory) -> list[tuple[str, int | None]]:
    return [(v.rule_id, v.step) for v in p.check(trajectory)]


def only(p: Policy, trajectory: Trajectory) -> Violation:
    violations = p.check(trajectory)
    assert len(violations) == 1, violations
    return violations[0]


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


# ---- forbid_output ------------------------------------------------------------------------------

SECRET = "sk-proj-4fGh7Jk9Lm2Np5Qr8St1Uv3Wx"


def test_forbid_output_scans_llm_outputs_and_masks_the_match() -> None:
    p = policy("{id: no-secrets, forbid_output: [{regex: 'sk-[A-Za-z0-9-]{20,}'}, {pii: email}]}")
    trajectory = run(
        llm("All good."),
        tool("lookup"),
        llm(f"Your key is {SECRET}, mail me at jane.doe@example.com or bob@example.org"),
    )
    violations = p.check(trajectory)
    assert [(v.step, v.kind, v.call) for v in violations] == [
        (3, "forbid_output", None),
        (3, "forbid_output", None),
    ]
    assert violations[0].message == (
        "the LLM output contains text matching /sk-[A-Za-z0-9-]{20,}/: sk-p… (33 chars); "
        "forbid_output forbids it"
    )
    assert violations[1].message == (
        "the LLM output contains an email address: jane… (20 chars) (and 1 more); "
        "forbid_output forbids it"
    )
    assert SECRET not in format_violations(violations, trajectory)
    assert "jane.doe@example.com" not in format_violations(violations, trajectory)


def test_forbid_output_reads_text_parts_of_a_message() -> None:
    p = policy("{id: s, forbid_output: [{pii: api_key}]}")
    message = {"role": "assistant", "content": [{"type": "text", "text": SECRET}, {"x": 1}, "hi"]}
    assert found(p, run(LLMCall(output_message=message))) == [("s", 1)]


def test_forbid_output_final_output_points_at_the_llm_step_that_produced_it() -> None:
    only_output = policy("{id: s, forbid_output: [{pii: email}], scope: [output]}")
    both = policy("{id: s, forbid_output: [{pii: email}]}")
    said = "write to a@example.com"
    produced = run(llm(said), tool("t"), llm(said), output=said)
    assert found(only_output, produced) == [("s", 3)]
    assert found(both, produced) == [("s", 1), ("s", 3)]  # the output is not reported twice
    composed = run(llm("done"), output={"contact": "a@example.com"})
    violation = only(only_output, composed)
    assert violation.step is None
    assert violation.message.startswith("the final output contains an email address")
    assert found(only_output, run(llm(said))) == []


def test_forbid_output_tool_scopes_mask_secrets_in_the_reported_call() -> None:
    p = policy(
        "{id: no-cards, forbid_output: [{pii: credit_card}, {pii: api_key}], "
        "scope: [tool_arguments, tool_results]}"
    )
    trajectory = run(
        tool("pay", card="4111 1111 1111 1111", note="ok", token=SECRET),
        tool("lookup", result={"card": 4111111111111111}),
        tool("lookup", result=["nothing here", 4111111111111112]),
        llm(f"card 4111 1111 1111 1111, key {SECRET}"),
    )
    violations = p.check(trajectory)
    assert [(v.step, v.message.split(":")[0]) for v in violations] == [
        (1, "the arguments of pay contains a credit card number"),
        (1, "the arguments of pay contains an API key"),
        (2, "the result of lookup contains a credit card number"),
    ]
    masked = {"card": "4111… (19 chars)", "note": "ok", "token": "sk-p… (33 chars)"}
    assert violations[0].call == {"name": "pay", "arguments": masked}
    text = format_violations(violations, trajectory)
    assert "4111 1111 1111 1111" not in text
    assert SECRET not in text


def test_forbid_output_default_scope_ignores_tools() -> None:
    p = policy("{id: s, forbid_output: [{pii: email}]}")
    assert found(p, run(tool("send", to="a@example.com", result="a@example.com"))) == []


@pytest.mark.parametrize(
    ("detector", "text"),
    [
        ("email", "john.doe@example.com"),
        ("email", "a+tag@sub.example.co.uk"),
        ("email", "Contact:ops_team@corp-mail.io."),
        ("phone", "+1 415 555 2671"),
        ("phone", "+44 (0)20 7946 0958"),
        ("phone", "+4915112345678"),
        ("phone", "(415) 555-2671"),
        ("phone", "call 415-555-2671 now"),
        ("phone", "415.555.2671"),
        ("phone", "06 12 34 56 78"),
        ("phone", "020 7946 0958"),
        ("credit_card", "4111 1111 1111 1111"),
        ("credit_card", "4111-1111-1111-1111"),
        ("credit_card", "5555555555554444"),
        ("credit_card", "Amex 3782 822463 10005."),
        ("credit_card", "card 4111 1111 1111 1111 123 exp 12/30"),
        ("api_key", "sk-proj-abc123DEF456ghi789JKL012mno"),
        ("api_key", "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123"),
        ("api_key", "AKIAIOSFODNN7EXAMPLE"),
        ("api_key", "ghp_" + "a1" * 18),
        ("api_key", "github_pat_" + "A1b2" * 6),
        ("api_key", "xoxb-1234567890-abcdefghij"),
        ("api_key", "AIza" + "Sy" * 17 + "x"),
    ],
)
def test_detectors_find(detector: str, text: str) -> None:
    assert list(DETECTORS[detector].find(text)), text


@pytest.mark.parametrize(
    ("detector", "text"),
    [
        ("email", "user@localhost"),
        ("email", "@handle and foo@bar"),
        ("email", "no at sign here"),
        ("phone", "ORD-1001"),
        ("phone", "order ORD-1001-2002-3003"),
        ("phone", "#1001-2002-3003"),
        ("phone", "shipped 2024-01-15"),
        ("phone", "at 2024-01-15 10:30:00"),
        ("phone", "total $1,234,567.89"),
        ("phone", "1234567.89 EUR"),
        ("phone", "1 234 567 890 units"),
        ("phone", "host 192.168.100.200"),
        ("phone", "id 1234567890"),
        ("phone", "epoch 1700000000123"),
        ("phone", "tracking 1234 5678 9012"),
        ("credit_card", "4111 1111 1111 1112"),
        ("credit_card", "4111111111111112"),
        ("credit_card", "x4111111111111111"),
        ("credit_card", "41111111111111111111111"),
        ("credit_card", "ORD-4111111111111111"),
        ("credit_card", "1 2 3 4 5 6 7 8 9 0 1 2 3"),
        ("credit_card", "4111 1111 11 11 1111 1111"),
        ("api_key", "sk-this-is-not-a-key-at-all"),
        ("api_key", "task-abc123DEF456ghi789JKL012"),
        ("api_key", "AKIA-short"),
        ("api_key", "the highest ghost"),
    ],
)
def test_detectors_ignore(detector: str, text: str) -> None:
    assert list(DETECTORS[detector].find(text)) == []


def test_detectors_report_offsets() -> None:
    text = "a 4111 1111 1111 1111 and 5555555555554444"
    assert list(DETECTORS["credit_card"].find(text)) == [
        (2, "4111 1111 1111 1111"),
        (26, "5555555555554444"),
    ]


@pytest.mark.parametrize(
    ("secret", "shown"),
    [
        (SECRET, "sk-p… (33 chars)"),
        ("john@example.com", "john… (16 chars)"),
        ("abc", "… (3 chars)"),
    ],
)
def test_mask(secret: str, shown: str) -> None:
    assert mask(secret) == shown


def reference_luhn(number: str) -> bool:
    digits = [int(c) for c in number]
    odd = digits[-1::-2]
    even = [sum(divmod(2 * d, 10)) for d in digits[-2::-2]]
    return (sum(odd) + sum(even)) % 10 == 0


@given(st.text(alphabet="0123456789", min_size=13, max_size=19), st.sampled_from([" ", "-"]))
def test_card_detector_agrees_with_luhn(number: str, separator: str) -> None:
    assert luhn_valid(number) == reference_luhn(number)
    contiguous = [n for _, n in DETECTORS["credit_card"].find(f"card: {number}.")]
    assert contiguous == ([number] if reference_luhn(number) else [])
    if len(number) % 4 in (1, 2):
        return  # a last group of one or two digits is not how cards are written
    grouped = separator.join(number[i : i + 4] for i in range(0, len(number), 4))
    found_numbers = [n for _, n in DETECTORS["credit_card"].find(f"card: {grouped}.")]
    if reference_luhn(number):
        assert found_numbers == [grouped]
    for found_number in found_numbers:  # else only valid runs of its groups (card + CVV)
        assert found_number in grouped
        assert reference_luhn(found_number.replace(separator, ""))


@settings(max_examples=200)
@given(st.text(max_size=300))
def test_detectors_never_fail_on_any_text(text: str) -> None:
    for detector in DETECTORS.values():
        for offset, match in detector.find(text):
            assert text[offset : offset + len(match)] == match


def test_detectors_are_linear_on_hostile_text() -> None:
    hostile = ["1 " * 20_000, "a" * 50_000 + "@", "a@" * 20_000, "+1" * 20_000, "sk-" * 20_000]
    start = time.perf_counter()
    for text in hostile:
        for detector in DETECTORS.values():
            list(detector.find(text))
    assert time.perf_counter() - start < 5  # quadratic behaviour would take minutes


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


# ---- robustness ---------------------------------------------------------------------------------

EVERY_KIND = policy(
    "{id: allow, allow_tools: [a, b]}",
    "{id: forbid, forbid_tools: [c]}",
    "{id: require, require_tools: [a]}",
    "{id: before, require_before: {tool: b, first: a, when: {args.x.y: {gt: 1}, result.z: ok}, "
    "same_args: [x, k.0]}}",
    "{id: args, tool: a, args: {x: {le: 5, ne: 3}, y.z: {regex: '^q', in: [q1, q2]}}}",
    "{id: budget, max_steps: 3, max_tool_calls: 2, max_llm_calls: 1, max_calls: {a: 1}, "
    "max_cost_usd: 0.001, max_tokens: 5, max_duration_s: 1}",
    "{id: secrets, forbid_output: [{pii: email}, {pii: phone}, {pii: credit_card}, "
    "{pii: api_key}, {regex: '(?i)password'}], "
    "scope: [output, llm_output, tool_arguments, tool_results]}",
    "{id: loops, max_repeats: 1}",
)

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)
CALLS = st.builds(
    ToolCall,
    name=st.sampled_from(["a", "b", "c", "d"]),
    arguments=st.dictionaries(st.sampled_from(["x", "y", "k", "q"]), JSON, max_size=4),
    result=JSON,
    error=st.none() | st.just("failed"),
)
LLMS = st.builds(
    LLMCall,
    output_message=st.none() | st.builds(lambda t: {"role": "assistant", "content": t}, JSON),
    cost_usd=st.none() | st.floats(min_value=0, max_value=1),
    input_tokens=st.integers(0, 10),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(CALLS | LLMS, max_size=12), JSON)
def test_check_never_fails_on_json_data(steps: list[Step], output: Any) -> None:
    trajectory = Trajectory(steps=steps, output=output)
    violations = EVERY_KIND.check(trajectory)
    for violation in violations:
        assert violation.step is None or 1 <= violation.step <= len(steps)
    format_violations(violations, trajectory)
    json.dumps([v.model_dump() for v in violations], default=str)


@given(JSON)
def test_a_value_equals_itself_under_eq_and_in(value: Any) -> None:
    rule = {"id": "e", "tool": "t", "args": {"v": {"eq": value, "in": [value]}}}
    p = Policy.model_validate({"schema_version": 1, "name": "p", "rules": [rule]})
    assert found(p, run(tool("t", v=value))) == []
    reordered = json.loads(json.dumps(value, sort_keys=True))
    assert found(p, run(tool("t", v=reordered))) == []


def test_a_big_trajectory_is_checked_in_linear_time() -> None:
    steps: list[Step] = []
    for i in range(5_000):
        steps += [llm(f"step {i}", cost=0.0), tool("lookup", order_id=f"ORD-{i}", n=i % 7)]
    trajectory = Trajectory(steps=steps)
    EVERY_KIND.check(trajectory)  # warm up
    start = time.perf_counter()
    EVERY_KIND.check(trajectory)
    assert time.perf_counter() - start < 5  # about 50 ms; quadratic work would take minutes


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


class Color(str, Enum):
    RED = "red"


class Size(IntEnum):
    ONE = 1


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


# ---- fast paths: the same findings as checking call by call -------------------------------------
# Rules read columns of values in C-level passes and narrow work down before doing it in full;
# these tests compare them with the plain way: every call, one at a time.

ODD_MAPPINGS = st.sampled_from(
    [{1: "x"}, {"1": "x"}, {1: "a", "1": "b"}, {"1": "a", 1: "b"}, {1: "a", "1": "a"}, {}]
)
VALUES = st.one_of(JSON, ODD_MAPPINGS, st.just((1, 2)), st.sampled_from([Color.RED, Size.ONE]))


@st.composite
def conditions(draw: st.DrawFn) -> dict[str, Any]:
    """Operators as a policy file holds them, each drawn to pass or fail on common values."""
    pool = st.sampled_from(["A1", "B2", "x", 1, 2, 250, 250.0, True, None])
    operators = {
        "eq": pool,
        "ne": pool,
        "lt": st.integers(-1, 3),
        "le": st.floats(-1, 3),
        "gt": st.integers(-1, 3),
        "ge": st.integers(-1, 3),
        "in": st.lists(pool, max_size=3),
        "not_in": st.lists(pool, max_size=3),
        "regex": st.sampled_from(["^A", "1", "x$"]),
    }
    names = draw(st.lists(st.sampled_from(list(operators)), min_size=1, max_size=3, unique=True))
    return {name: draw(operators[name]) for name in names}


COLUMNS = st.one_of(  # one type throughout (the C-level paths) or any values
    st.lists(st.sampled_from(["A1", "B2", "x", "Ax", "1"]), max_size=12),
    st.lists(st.integers(-2, 3) | st.sampled_from([250, 251]), max_size=12),
    st.lists(st.integers(-2, 3) | st.floats(-2, 3) | st.just(math.nan), max_size=12),
    st.lists(VALUES | st.just(MISSING), max_size=12),
)


@given(conditions(), COLUMNS)
def test_conditions_on_a_column_agree_with_each_value(
    operators: dict[str, Any], values: list[Any]
) -> None:
    checks = Condition.model_validate(operators).checks
    expected = [n for n, v in enumerate(values) if v is MISSING or failure(checks, v) is not None]
    assert failing(checks, values) == expected


def json_twin(value: Any) -> Any:
    """The same JSON value, built differently: keys as strings and in reverse order, lists."""
    if isinstance(value, dict):
        return {str(key): json_twin(item) for key, item in reversed(value.items())}
    if isinstance(value, (list, tuple)):
        return [json_twin(item) for item in value]
    return int(value) if type(value) is float and value.is_integer() else value


@given(VALUES, st.sampled_from(["a", "1", "x"]))
def test_members_depend_only_on_the_value_as_json(value: Any, key: str) -> None:
    twin = json_twin(value)
    if canonical(twin) == canonical(value):
        assert members([value], key) == members([twin], key)
    # a column of dicts with string keys takes a C-level path; single values may not
    assert members([value, twin], key) == members([value], key) + members([twin], key)
    if isinstance(value, dict) and all(type(k) is str for k in value):
        assert members([value], key) == [canonical(value[key]) if key in value else MISSING]


def test_members_are_equal_for_mappings_equal_as_json() -> None:
    for first, second in [
        ({1: "x"}, {"1": "x"}),
        ({1: "a", "1": "b"}, {"1": "a", 1: "b"}),
        ({1: "a", "1": "a"}, {"1": "a"}),
        ({Color.RED: 1}, {"Color.RED": 1}),
        ({"a": 1.0}, {"a": 1}),
    ]:
        assert canonical(first) == canonical(second)
        assert members([first], "1") == members([second], "1")
        assert members([first], "a") == members([second], "a")
        assert members([first], "Color.RED") == members([second], "Color.RED")
    assert members([{1: "a", "1": "b"}], "1") != members([{"1": "a"}], "1")


REPEATED = st.sampled_from(
    [
        {"q": "x", "f": {"a": 1, "b": 2}},
        {"q": "x", "f": {"b": 2, "a": 1.0}},  # the same as JSON
        {"q": "x", "f": {"a": True, "b": 2}},  # not the same: true is not 1
        {"q": "x", "f": {1: "a", "1": "b"}},
        {"q": "x", "f": {"1": "a", 1: "b"}},  # the same as JSON
        {"q": "x", "f": [1, 2]},
        {"q": "x", "f": (1, 2)},  # the same as JSON
        {"q": "y", "f": {"a": 1, "b": 2}},
        {"q": "x"},
        {"f": {"a": 1, "b": 3}, "q": "x"},
    ]
)


def repeats_call_by_call(trajectory: Trajectory, limit: int) -> list[tuple[int, str]]:
    """max_repeats the plain way: every call's whole arguments, counted per tool."""
    seen: dict[tuple[str, Any], int] = {}
    over: dict[tuple[str, Any], int] = {}
    for position, step in enumerate(trajectory.steps, 1):
        if isinstance(step, ToolCall):
            key = (step.name, arguments_key(step.arguments))
            seen[key] = seen.get(key, 0) + 1
            if seen[key] == limit + 1:
                over[key] = position
    return sorted(
        (
            position,
            f"{key[0]} was called {seen[key]} times with the same arguments; "
            f"max_repeats allows {limit}",
        )
        for key, position in over.items()
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.builds(ToolCall, name=st.sampled_from(["s", "t"]), arguments=REPEATED), max_size=90
    ),
    st.lists(st.integers(1, 4), min_size=1, max_size=3),
)
def test_max_repeats_agrees_with_counting_every_call(
    calls: list[ToolCall], limits: list[int]
) -> None:
    trajectory = run(*calls)
    rules = [f"{{id: r{number}, max_repeats: {limit}}}" for number, limit in enumerate(limits)]
    violations = policy(*rules).check(trajectory)  # rules with several limits share work
    for number, limit in enumerate(limits):
        got = [(v.step, v.message) for v in violations if v.rule_id == f"r{number}"]
        assert got == repeats_call_by_call(trajectory, limit)


def require_before_call_by_call(
    trajectory: Trajectory, tool: str, first: str, same: list[str], when: dict[str, Any]
) -> list[int]:
    """require_before the plain way: the positions of the calls it flags."""
    succeeded: list[dict[str, Any]] = []
    flagged = []
    for position, step in enumerate(trajectory.steps, 1):
        if not isinstance(step, ToolCall):
            continue
        if step.name == tool and all(
            resolve(step.arguments, tuple(path.split("."))) == value for path, value in when.items()
        ):
            values = [resolve(step.arguments, tuple(path.split("."))) for path in same]
            if MISSING in values or not any(
                [canonical(resolve(earlier, tuple(p.split(".")))) for p in same]
                == [canonical(v) for v in values]
                for earlier in succeeded
            ):
                flagged.append(position)
        if step.name == first and step.error is None:
            succeeded.append(step.arguments)
    return flagged


BEFORE_ARGS = st.fixed_dictionaries(
    {},
    optional={
        "x": st.sampled_from([1, 1.0, 2, True, "1"]),
        "k": st.just([{"a": 1}]),
        "w": st.just("on"),
    },
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.builds(
            ToolCall,
            name=st.sampled_from(["a", "b"]),
            arguments=BEFORE_ARGS,
            error=st.none() | st.just("failed"),
        ),
        max_size=12,
    ),
    st.sampled_from([[], ["x"], ["x", "k.0.a"]]),
    st.sampled_from([{}, {"w": "on"}]),
    st.sampled_from([("b", "a"), ("a", "a")]),
)
def test_require_before_agrees_with_checking_call_by_call(
    calls: list[ToolCall], same: list[str], when: dict[str, Any], tools: tuple[str, str]
) -> None:
    tool, first = tools
    spec: dict[str, Any] = {"tool": tool, "first": first, "same_args": same}
    if when:
        spec["when"] = {f"args.{path}": value for path, value in when.items()}
    rule = {"id": "r", "require_before": spec}
    p = Policy.model_validate({"schema_version": 1, "name": "p", "rules": [rule]})
    trajectory = run(*calls)
    assert [v.step for v in p.check(trajectory)] == require_before_call_by_call(
        trajectory, tool, first, same, when
    )


def test_args_conditions_on_values_of_mixed_types() -> None:
    p = policy("{id: cap, tool: refund, args: {amount: {le: 500}, currency: {in: [EUR]}}}")
    amounts = [100, "lots", 600, None, 250.0, True]
    trajectory = run(*[tool("refund", amount=a, currency="EUR") for a in amounts])
    assert [(v.step, v.message) for v in p.check(trajectory)] == [
        (2, "argument amount is 'lots', expected a number <= 500"),
        (3, "argument amount is 600, expected <= 500"),
        (4, "argument amount is None, expected a number <= 500"),
        (6, "argument amount is True, expected a number <= 500"),
    ]


def test_arguments_of_a_dict_subclass_are_read_with_its_get() -> None:
    class Upper(dict[str, Any]):
        def get(self, key: str, default: Any = None) -> Any:
            return super().get(key.upper(), default)

    p = policy("{id: one, tool: t, args: {x: 1}}")
    # Built without validation, which would have made it a dict: get("x") reads "X".
    odd = ToolCall.model_construct(name="t", arguments=Upper(x=1, X=2), id="s2", parent_id=None)
    assert found(p, run(tool("t", x=1), odd, tool("t", x=1))) == [("one", 2)]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(CALLS | LLMS, max_size=10), JSON)
def test_what_the_pass_over_the_steps_skipped_is_read_when_asked(
    steps: list[Step], output: Any
) -> None:
    trajectory = Trajectory(steps=steps, output=output)
    bare = _Index(trajectory, needs=set())  # no rule said what it reads
    assert EVERY_KIND._violations(bare) == EVERY_KIND.check(trajectory)


def test_max_duration_sums_the_top_level_steps() -> None:
    p = policy("{id: slow, max_duration_s: 1}")
    steps = [llm(), tool("t"), tool("inner")]
    steps[0].duration_ms, steps[1].duration_ms = 600.0, 500.0
    steps[2].duration_ms, steps[2].parent_id = 900.0, steps[1].id
    assert only(p, run(*steps)).message == "the run took 1.10 s; max_duration_s allows 1 s"
    steps[1].duration_ms = None
    assert found(p, run(*steps)) == []


def test_tool_scopes_read_arguments_that_json_cannot_hold() -> None:
    p = policy("{id: no-cards, forbid_output: [{pii: credit_card}], scope: [tool_arguments]}")
    cycle: list[Any] = ["no card here"]
    cycle.append(cycle)  # JSON cannot hold it: the text falls back to repr() for this call
    trajectory = run(tool("a", items=cycle), tool("b", card="5555555555554444"))
    assert found(p, trajectory) == [("no-cards", 2)]


# ---- loading ------------------------------------------------------------------------------------

HEADER = "schema_version: 1\nname: support\nrules:\n"

LOAD_ERRORS = [
    (
        HEADER + "  - {id: refund-cap, tool: refund, arg: {amount: {le: 500}}}\n",
        "policies/support.yaml:4: rule 'refund-cap': unknown key 'arg' "
        "(allowed here: id, description, tool, args); did you mean 'args'?",
    ),
    (
        HEADER + "  - id: refund-cap\n    tool: refund\n    args: {amount: {le: 5}}\n    when: x\n",
        "policies/support.yaml:7: rule 'refund-cap': unknown key 'when' "
        "(allowed here: id, description, tool, args)",
    ),
    (
        HEADER + "  - {id: x, forbid_tools: [a, b}\n",
        "policies/support.yaml:4: not valid YAML: expected ',' or ']', but got '}' "
        "(while parsing a flow sequence); check the indentation, quotes and brackets",
    ),
    (
        "schema_version: 2\nname: p\nrules: []\n",
        "policies/support.yaml:1: schema_version 2 is not supported (this pytest-agentops reads "
        "schema_version 1): write `schema_version: 1`, or upgrade pytest-agentops",
    ),
    ("schema_version: '1'\nname: p\nrules: []\n", "schema_version '1' is not supported"),
    (
        HEADER + "  - id: steps\n    max_steps: ten\n",
        "policies/support.yaml:5: rule 'steps': max_steps must be an integer, not 'ten'",
    ),
    (HEADER + "  - {id: s, max_steps: 2.5}\n", "max_steps must be an integer, not 2.5"),
    (HEADER + "  - {id: s, max_repeats: true}\n", "max_repeats must be an integer, not true"),
    (HEADER + "  - {id: s, max_calls: {x: -1}}\n", "rule 's': max_calls.x must be >= 0, not -1"),
    (HEADER + "  - {id: s, max_cost_usd: .inf}\n", "max_cost_usd must be a finite number"),
    (HEADER + "  - {id: s, max_repeats: 0}\n", "max_repeats must be >= 1, not 0"),
    (
        HEADER + "  - {id: nothing}\n",
        "policies/support.yaml:4: rule 'nothing': this rule checks nothing: give it one of "
        "allow_tools, forbid_tools, require_tools, require_before, tool with args",
    ),
    (
        HEADER + "  - {id: two, forbid_tools: [a], max_repeats: 3}\n",
        "policies/support.yaml:4: rule 'two': this rule has both forbid_tools and max_repeats, "
        "but a rule checks one thing: split it into two rules, each with its own id",
    ),
    (
        HEADER + "  - {id: typo, forbid_tool: [a]}\n",
        "rule 'typo': unknown key 'forbid_tool'; did you mean 'forbid_tools'?",
    ),
    (
        HEADER + "  - {id: dup, forbid_tools: [a]}\n  - {id: dup, max_steps: 3}\n",
        "policies/support.yaml:5: rule 'dup': duplicate rule id (first used at line 4): "
        "give each rule its own id",
    ),
    (HEADER + "  - {forbid_tools: [a]}\n", "support.yaml:4: rule #1 has no id: add `id: "),
    (HEADER + "  - {id: 3, max_steps: 1}\n", "rule #1: id must be a non-empty string, not 3"),
    (HEADER + "  - forbid_tools\n", "rule #1 must be a mapping such as"),
    (
        HEADER + "  - {id: pii, forbid_output: [{pii: ssn}]}\n",
        "policies/support.yaml:4: rule 'pii': unknown pii detector 'ssn' "
        "(known: email, phone, credit_card, api_key)",
    ),
    (
        HEADER + "  - {id: p, forbid_output: [{pii: email, regex: x}]}\n",
        "a forbid_output pattern needs exactly one of regex or pii",
    ),
    (
        HEADER + "  - {id: p, forbid_output: [{pii: email}], scope: [outputs]}\n",
        "scope[0] must be one of 'output', 'llm_output', 'tool_arguments' or 'tool_results', "
        "not 'outputs'",
    ),
    (
        HEADER + "  - {id: op, tool: t, args: {amount: {gte: 3}}}\n",
        "policies/support.yaml:4: rule 'op': unknown condition operator 'gte' (allowed here: "
        "eq, ne, lt, le, gt, ge, in, not_in, regex); did you mean 'gt'?",
    ),
    (
        HEADER + "  - {id: op, tool: t, args: {customer: {id: C1}}}\n",
        "unknown condition operator 'id' (allowed here: eq, ne, lt, le, gt, ge, in, not_in, "
        "regex); to test a nested value, use a dotted path such as customer.id",
    ),
    (HEADER + "  - {id: op, tool: t, args: {a: {}}}\n", "empty condition: give an operator"),
    (HEADER + "  - {id: op, tool: t, args: {a: {lt: null}}}\n", "this operator needs a value"),
    (HEADER + "  - {id: op, tool: t, args: {a: {le: '5'}}}\n", "args.a.le must be a number"),
    (
        HEADER + "  - {id: op, tool: t, args: {day: 2024-01-15}}\n",
        "values must be plain data (string, number, true/false, null, list or mapping), "
        "not 2024-01-15 (a date); put dates and times in quotes",
    ),
    (HEADER + "  - {id: op, tool: t, args: {}}\n", "rule 'op': args must not be empty"),
    (HEADER + "  - {id: op, args: {a: 1}}\n", "rule 'op': missing required key 'tool'"),
    (HEADER + "  - {id: op, tool: t, args: {a..b: 1}}\n", "path 'a..b' has an empty part"),
    (
        HEADER + "  - id: re\n    tool: t\n    args:\n      a: {regex: 'x['}\n",
        "policies/support.yaml:7: rule 're': invalid regular expression 'x[': "
        "unterminated character set at position 1",
    ),
    (
        HEADER + "  - {id: re, forbid_output: [{regex: '(?P<'}]}\n",
        "rule 're': invalid regular expression '(?P<'",
    ),
    (
        HEADER + "  - {id: w, require_before: {tool: t, first: f, when: {amount: {gt: 1}}}}\n",
        "rule 'w': path 'amount' in `when` must start with 'args.' (the call's arguments) or "
        "'result.' (its result), e.g. 'args.amount'",
    ),
    (
        HEADER + "  - {id: w, require_before: {tool: t, frist: f}}\n",
        "rule 'w': unknown key 'frist' (allowed here: tool, first, when, same_args); "
        "did you mean 'first'?",
    ),
    (
        HEADER + "  - {id: t, forbid_tools: [yes, 3]}\n",
        "forbid_tools[0] must be a string, not true",
    ),
    ("", "policies/support.yaml: empty policy file: write schema_version: 1, name and rules"),
    ("# only a comment\n", "empty policy file"),
    (
        "- a\n- b\n",
        "policies/support.yaml:1: the top level must be a mapping of schema_version, name and "
        "rules, not a list",
    ),
    ("just text\n", "the top level must be a mapping of schema_version, name and rules"),
    (
        "schema_version: 1\nname: p\nrules: {a: 1}\n",
        "policies/support.yaml:3: rules must be a list, not a mapping: start each rule with '- '",
    ),
    ("schema_version: 1\nname: p\n", "missing rules: add a list such as"),
    (
        "name: p\nrules: []\n",
        "policies/support.yaml:1: missing schema_version: add `schema_version: 1` at the top",
    ),
    (
        "schema_version: 1\nname: p\nrule: []\n",
        "policies/support.yaml:3: unknown top-level key 'rule' (allowed: schema_version, name, "
        "description, rules); did you mean 'rules'?",
    ),
    ("schema_version: 1\nname: p\nsource: x\nrules: []\n", "unknown top-level key 'source'"),
    ("schema_version: 1\nrules: []\n", "policies/support.yaml:1: missing required key 'name'"),
    (
        "schema_version: 1\nname: p\ndescription: 3\nrules: []\n",
        "policies/support.yaml:3: description must be a string, not 3; put it in quotes",
    ),
    (
        HEADER + "  - {id: d, max_steps: 3, max_steps: 4}\n",
        "policies/support.yaml:4: duplicate key 'max_steps' (first at line 4): remove one of them",
    ),
    (
        HEADER + "  - {<<: {id: a}, max_steps: 2}\n",
        "policies/support.yaml:4: merge keys (<<) are not allowed",
    ),
    (
        "schema_version: 1\nname: p\nrules:\n  - &rule {id: a, max_steps: 2}\n  - *rule\n",
        "policies/support.yaml:4: YAML anchors (&rule) are not allowed in a policy file",
    ),
    (
        "schema_version: 1\nname: !!python/object:os.system p\nrules: []\n",
        "policies/support.yaml:2: YAML tag '!!python/object:os.system' is not allowed in a "
        "policy file",
    ),
    (
        "schema_version: 1\nname: p\nrules: !!python/object/apply:os.system [ls]\n",
        "policies/support.yaml:3: YAML tag '!!python/object/apply:os.system' is not allowed",
    ),
    ("schema_version: 1\nname: !custom p\nrules: []\n", "YAML tag '!custom' is not allowed"),
    (
        "schema_version: 1\nname: p\nrules: " + "[" * 60 + "]" * 60 + "\n",
        "policies/support.yaml:3: nested more than 50 levels deep",
    ),
    ("schema_version: 1\n---\nname: p\n", "policies/support.yaml:2: not valid YAML"),
    (
        "schema_version: 1\nname: p\x07\nrules: []\n",
        "policies/support.yaml:2: not valid YAML: character #x0007 is not allowed",
    ),
    (
        "schema_version: 1\nname: p\nrules:\n\t- {id: a}\n",
        "policies/support.yaml:4: not valid YAML",
    ),
]


@pytest.mark.parametrize(("text", "message"), LOAD_ERRORS)
def test_loading_errors_name_file_line_rule_and_fix(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, source=SOURCE)
    assert message in str(info.value)
    assert str(info.value).startswith(SOURCE)
    assert info.value.__cause__ is None  # no pydantic or yaml traceback chained on


WORDS = [
    *("schema_version", "name", "description", "rules", "id", "tool", "args", "scope"),
    *("allow_tools", "forbid_tools", "require_tools", "forbid_output", "max_repeats"),
    *("require_before", "first", "when", "same_args", "regex", "pii", "email", "api_key"),
    *("max_steps", "max_calls", "max_cost_usd", "max_tokens", "max_duration_s"),
    *("eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "args.x", "result.y", "x", "a..b"),
    *("output", "tool_arguments", "sk-[", "^a+$", ""),
]
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-2, 30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(WORDS)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(WORDS) | st.integers(0, 3), inner, max_size=4)
    ),
    max_leaves=10,
)
DOCUMENTS = st.fixed_dictionaries(
    {"schema_version": st.just(1) | SCALARS, "name": st.just("p") | SCALARS},
    optional={
        "rules": st.lists(st.dictionaries(st.sampled_from(WORDS), VALUES, max_size=4), max_size=3)
        | VALUES,
        "description": SCALARS,
    },
)


def load_or_error(text: str) -> Policy | PolicyError:
    try:
        return parse_policy(text, source=SOURCE)
    except PolicyError as exc:
        return exc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCUMENTS)
def test_loading_fails_only_with_policy_errors(document: dict[str, Any]) -> None:
    loaded = load_or_error(yaml.safe_dump(document))
    if isinstance(loaded, PolicyError):
        assert str(loaded).startswith(SOURCE)
    else:  # and what loads, dumps to a file that loads back the same
        assert load_or_error(json.dumps(loaded.model_dump(mode="json"))) == loaded


@given(st.text(max_size=200))
def test_loading_any_text_fails_only_with_policy_errors(text: str) -> None:
    loaded = load_or_error(text)
    assert isinstance(loaded, Policy) or str(loaded).startswith(SOURCE)


def test_a_loaded_policy_dumps_to_a_file_that_loads_back() -> None:
    p = policy(
        "{id: a, tool: t, args: {x: {le: 5, in: [1, 2]}, y: null, w: {regex: '^a'}}}",
        "{id: b, forbid_output: [{pii: email}, {regex: x}], scope: [output]}",
        "{id: c, require_before: {tool: t, first: f, when: {args.x: {gt: 1}}, same_args: [k]}}",
        "{id: d, max_steps: 3, max_calls: {t: 1}}",
    )
    dumped = p.model_dump(mode="json")
    assert dumped["rules"][0]["args"] == {
        "x": {"le": 5, "in": [1, 2]},
        "y": {"eq": None},
        "w": {"regex": "^a"},
    }
    assert parse_policy(yaml.safe_dump(dumped), source=SOURCE) == p
    assert policy("{id: a, forbid_tools: [x]}") == policy("{id: a, forbid_tools: [x]}")


def test_several_problems_are_counted() -> None:
    with pytest.raises(PolicyError, match=r"\(and 1 more problem\(s\)\)"):
        parse_policy(HEADER + "  - {id: t, forbid_tools: [1, 2]}\n", source=SOURCE)


def test_alias_is_refused_before_it_is_expanded() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8)
    )
    start = time.perf_counter()
    with pytest.raises(PolicyError, match=r"support.yaml:1: YAML anchors \(&a\) are not allowed"):
        parse_policy(bomb, source=SOURCE)
    assert time.perf_counter() - start < 1


def test_an_alias_without_anchor_is_refused() -> None:
    with pytest.raises(PolicyError, match=r"support.yaml:2: YAML aliases \(\*n\) are not allowed"):
        parse_policy("schema_version: 1\nname: *n\nrules: []\n", source=SOURCE)


def test_load_policy_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "support.yaml"
    path.write_text(
        "schema_version: 1\n"
        "name: support-agent\n"
        "description: Guardrails\n"
        "rules:\n"
        "  - id: refund-cap\n"
        "    description: Refunds stay small\n"
        "    tool: refund\n"
        "    args: {amount: {le: 500}}\n",
        encoding="utf-8",
    )
    loaded = load_policy(path)
    assert loaded.source == str(path)
    assert loaded.name == "support-agent"
    assert loaded.rules[0].description == "Refunds stay small"
    assert found(loaded, run(tool("refund", amount=501))) == [("refund-cap", 1)]


def test_load_policy_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"missing\.yaml: no such policy file"):
        load_policy(tmp_path / "missing.yaml")
    (tmp_path / "binary.yaml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(PolicyError, match=r"binary\.yaml: not a text file"):
        load_policy(tmp_path / "binary.yaml")
    with pytest.raises(PolicyError, match="cannot read the policy file"):
        load_policy(tmp_path)
    evil = tmp_path / "evil.yaml"
    evil.write_text("schema_version: 1\nname: !!python/object/new:os.system [echo hi]\n")
    with pytest.raises(PolicyError, match=r"evil\.yaml:2: YAML tag '!!python/object/new"):
        load_policy(evil)


def test_design_document_example_loads() -> None:
    p = parse_policy(
        """\
schema_version: 1
name: support-agent
rules:
  - {id: allowed-tools, allow_tools: [verify_identity, lookup_order, refund,
                                      request_manager_approval, create_ticket]}
  - {id: never-delete, forbid_tools: [delete_account]}
  - {id: verify-first, require_before: {tool: lookup_order, first: verify_identity}}
  - id: refund-approval
    require_before: {tool: refund, when: {args.amount: {gt: 100}}, first: request_manager_approval}
  - {id: refund-cap, tool: refund, args: {amount: {le: 500}}}
  - {id: budget, max_steps: 20, max_cost_usd: 0.10, max_calls: {lookup_order: 3}}
  - {id: no-secrets, forbid_output: [{regex: "sk-[A-Za-z0-9]{20,}"}, {pii: email}]}
  - {id: no-loops, max_repeats: 3}
"""
    )
    assert [rule.kind for rule in p.rules] == [
        "allow_tools",
        "forbid_tools",
        "require_before",
        "require_before",
        "args",
        "budget",
        "forbid_output",
        "max_repeats",
    ]
    trajectory = run(
        tool("verify_identity", customer_id="C1"),
        tool("lookup_order", order_id="A1"),
        tool("refund", order_id="A1", amount=250),
        llm("Refunded. Questions? support@example.com", cost=0.01),
    )
    assert found(p, trajectory) == [
        ("refund-approval", 3),
        ("no-secrets", 4),
    ]
