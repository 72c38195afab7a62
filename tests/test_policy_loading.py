"""Loading policy files: errors that name file, line and rule; YAML safety; round trips."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policy_helpers import SOURCE, found, llm, policy, run, tool
from pytest_agentops.policy import (
    Policy,
    PolicyError,
    load_policy,
    parse_policy,
)

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
        HEADER + "  - id: a\n    max_steps: 2\n    ? [k1, k2]\n    : v\n",
        "policies/support.yaml:6: keys must be plain names, not a list: write `key: value`",
    ),
    (
        "? {a: 1}\n: v\nschema_version: 1\n",
        "policies/support.yaml:1: keys must be plain names, not a mapping",
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
