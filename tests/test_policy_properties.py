"""Policy checks under fuzzing, and the fast paths agreeing with a call-by-call check."""

from __future__ import annotations

import json
import math
import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policy_helpers import Color, Size, found, llm, only, policy, run, tool
from pytest_agentops._util import canonical
from pytest_agentops.policy import (
    Condition,
    Policy,
    format_violations,
)
from pytest_agentops.policy.index import _Index
from pytest_agentops.policy.values import (
    MISSING,
    arguments_key,
    failing,
    failure,
    members,
    resolve,
)
from pytest_agentops.trajectory.model import (
    LLMCall,
    Step,
    ToolCall,
    Trajectory,
)

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
