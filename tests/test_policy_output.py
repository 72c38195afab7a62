"""forbid_output: regexes and the personal-data and secret detectors, masking, scopes."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy_helpers import found, llm, only, policy, run, tool
from pytest_agentops.policy import (
    format_violations,
)
from pytest_agentops.policy.pii import DETECTORS, luhn_valid, mask
from pytest_agentops.trajectory.model import (
    LLMCall,
)

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


def test_the_whole_failure_text_is_masked() -> None:
    from pytest_agentops import assert_policy

    key = "sk-proj-" + "Ab3" * 12
    rules = policy(
        "{id: no-secrets, forbid_output: [{pii: email}, {pii: api_key}], "
        "scope: [output, llm_output, tool_results]}"
    )
    trajectory = run(
        tool("lookup_customer", result={"email": "ada@example.com", "token": key}, customer="C1"),
        llm(f"Ada's email is ada@example.com and her key is {key}"),
        output=f"Ada's email is ada@example.com and her key is {key}",
    )
    with pytest.raises(AssertionError) as failure:
        assert_policy(trajectory, rules)
    text = str(failure.value)
    assert "agentops policy violations" in text
    assert "trajectory:" in text
    assert "ada@example.com" not in text
    assert key not in text
    assert key[:20] not in text  # not even the part a cut-off repr would show
    assert "ada@…" in text or "ada@" not in text


# ---- regex work is bounded: trace content is attacker-controlled -------------------------------


def _finishes(work: object, seconds: float = 20.0) -> list[object]:
    """Run ``work`` in a thread; fail (instead of hanging the suite) if it does not finish."""
    import threading

    out: list[object] = []
    thread = threading.Thread(target=lambda: out.append(work()), daemon=True)  # type: ignore[operator]
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the policy check did not finish: regex work is unbounded"
    return out


@pytest.mark.parametrize(
    "rule",
    [
        "{id: re, forbid_output: [{regex: '(a+)+$'}], scope: [output, tool_arguments]}",
        "{id: re, tool: t, args: {q: {regex: '(a+)+$'}}}",
    ],
    ids=["forbid_output", "args"],
)
def test_a_catastrophic_regex_from_the_issue_does_not_hang(rule: str) -> None:
    text = "a" * 31 + "!"
    p = policy(rule)
    (violations,) = _finishes(lambda: p.check(run(tool("t", q=text), output=text)))
    assert isinstance(violations, list)


@pytest.mark.parametrize(
    "rule",
    [
        "{id: re, forbid_output: [{regex: '(?:x+x+)+y'}], scope: [output]}",
        "{id: re, tool: t, args: {q: {regex: '(?:x+x+)+y'}}}",
        "{id: re, require_before: {tool: t, first: f, when: {args.q: {regex: '(?:x+x+)+y'}}}}",
    ],
    ids=["forbid_output", "args", "when"],
)
def test_regex_work_past_the_bound_is_a_violation_not_a_hang(
    rule: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_agentops.policy import patterns

    monkeypatch.setattr(patterns, "REGEX_TIMEOUT_S", 0.05)
    text = "x" * 3000
    p = policy(rule)
    (violations,) = _finishes(lambda: p.check(run(tool("t", q=text), output=text)))
    assert isinstance(violations, list)
    (v,) = violations
    assert v.rule_id == "re"
    assert "(?:x+x+)+y" in v.message
    assert "3000-character text" in v.message
    assert "could not be checked" in v.message
