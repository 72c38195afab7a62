"""Every parser attacked with hypothesis: only the documented error escapes, whatever the input.

Inputs are real files (recorded cassettes, production-shaped traces, the example policies)
mutated at the byte level (cut anywhere, at a line end, bytes flipped or inserted, hostile
YAML/JSON spliced in: tags, anchors, aliases, merge keys, complex keys, deep nesting, NaN,
bad UTF-8) and at the structure level (any field replaced with a value of the wrong type,
deleted, wrapped, duplicated), plus hostile documents of their own (billion laughs, 10,000
levels of nesting, code-running tags).

The normal test command runs a few dozen derandomized examples per test; the long run
``pytest -m fuzz tests/test_fuzz.py`` runs thousands with fresh randomness and a deadline
per input (a hang is a failure there).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import os
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_agentops import CassetteFileError, Trajectory, TrajectoryLoadError
from pytest_agentops.cli import main as cli_main
from pytest_agentops.policy import Policy, PolicyError, load_policy, parse_policy

pytestmark = pytest.mark.fuzz

ROOT = Path(__file__).resolve().parents[1]
LONG_RUN = os.environ.get("AGENTOPS_FUZZ") == "1"  # set by conftest.py for `-m fuzz`


def fuzz_settings(examples: int) -> settings:
    """``examples`` in the normal run (derandomized: CI sees the same inputs every time);
    fifty times as many, random, with a deadline per input in the ``-m fuzz`` run."""
    return settings(
        max_examples=examples * 50 if LONG_RUN else examples,
        derandomize=not LONG_RUN,
        deadline=timedelta(seconds=5) if LONG_RUN else None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


# ---- hostile material -----------------------------------------------------------------------


def nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


BILLION_LAUGHS = (
    b"a: &a [x, x, x, x, x, x, x, x, x]\n"
    b"b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    b"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
    b"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
    b"f: [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
)

HOSTILE_DOCUMENTS = [
    BILLION_LAUGHS,
    b"[" * 10_000 + b"]" * 10_000,
    b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
    b"- " * 3_000 + b"x\n",
    b"!!python/object/apply:os.system ['echo pwned']\n",
    b"interactions: !!python/object/new:os.system [echo pwned]\n",
    b"? [a, b]\n: c\n",
    b"<<: {schema_version: 1}\nname: x\n",
    b"NaN",
    b"%YAML 1.1\n--- a\n--- b\n",
    b"\xff\xfe\x00\x00",
    b"",
    b"\x00",
]

SNIPPETS = [
    b"!!python/object/apply:os.system ['echo pwned']",
    b"!!binary AAAA",
    b"!custom x",
    b"&anchor ",
    b"*anchor",
    b"<<: {a: 1}",
    b"? [k1, k2]\n: v\n",
    b"[" * 500,
    b"{" * 500,
    b"NaN",
    b"Infinity",
    b"-1",
    b"1e999",
    b"null",
    b"\x00",
    b"\xff\xfe",
    b"\xed\xa0\x80",  # an encoded surrogate: not UTF-8
    b"'",
    b'"',
    b"\t",
    b": ",
    b"- ",
    b"\n---\n",
    b"\n...\n",
    b"#",
]

HOSTILE_VALUES: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),  # NaN and infinities included
    st.text(max_size=20),
    st.sampled_from(["", "NaN", "-1", "1e309", "0x10", "true", "a" * 5_000, "\u202e\x00"]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=3),
    st.just(nested(200)),
)


@st.composite
def mutated_bytes(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A seed file damaged one to three times."""
    raw = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["cut", "cut-at-line", "flip", "insert", "delete", "splice"]))
        at = draw(st.integers(0, len(raw)))
        if op == "cut":
            del raw[at:]
        elif op == "cut-at-line":
            ends = [i + 1 for i, byte in enumerate(raw) if byte == ord("\n")]
            if ends:
                del raw[draw(st.sampled_from(ends)) :]
        elif op == "flip" and at < len(raw):
            raw[at] = draw(st.integers(0, 255))
        elif op == "insert":
            raw[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del raw[at : at + draw(st.integers(1, 64))]
        elif op == "splice":
            raw[at:at] = draw(st.sampled_from(SNIPPETS))
    return bytes(raw)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


@st.composite
def mutated_data(draw: st.DrawFn, seeds: list[Any]) -> Any:
    """A seed document with one to three fields replaced, deleted, wrapped or duplicated."""
    data = copy.deepcopy(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(_paths(data))))
        op = draw(st.sampled_from(["replace", "delete", "wrap", "duplicate"]))
        if not path:
            if op == "replace":
                data = copy.deepcopy(draw(HOSTILE_VALUES))
            continue
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        key = path[-1]
        if op == "replace":  # a copy: later mutations must not change the strategy's values
            parent[key] = copy.deepcopy(draw(HOSTILE_VALUES))
        elif op == "delete":
            del parent[key]
        elif op == "wrap":
            parent[key] = [parent[key]]
        elif isinstance(parent, list):
            parent.insert(key, copy.deepcopy(parent[key]))
        else:
            parent[key] = {"copy": copy.deepcopy(parent[key]), "of": parent[key]}
    return data


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


# ---- cassettes ---------------------------------------------------------------------------------

CASSETTES = sorted(
    (ROOT / "cassettes" / "examples").rglob("*.yaml"), key=lambda p: p.stat().st_size
)
CASSETTE_SEEDS = [p.read_bytes() for p in CASSETTES[:4]]


def load_cassette(path: Path) -> tuple[list[Any], list[Any]] | Exception:
    """Load as a test would; the documented errors are returned, anything else escapes."""
    from vcr.persisters.filesystem import CassetteNotFoundError

    from pytest_agentops.cassettes.storage import Persister, Serializer

    owner = SimpleNamespace(display_path=path.name, loaded_tools=[])
    try:
        return Persister(owner).load_cassette(str(path), Serializer)  # type: ignore[arg-type]
    except CassetteNotFoundError as exc:  # empty: recorded on the next recording run
        return exc
    except CassetteFileError as exc:
        error = exc
    message = str(error)
    assert message.startswith(path.name), message  # names the file
    assert "\n" not in message.strip(), message  # on one line
    assert "record it again" in message, message  # and says how to fix it
    return error


def test_the_cassette_seeds_are_real_recordings() -> None:
    assert len(CASSETTE_SEEDS) == 4
    for path in CASSETTES[:4]:
        requests, _ = load_cassette(path)  # type: ignore[misc]
        assert requests


@fuzz_settings(60)
@given(raw=mutated_bytes(CASSETTE_SEEDS + HOSTILE_DOCUMENTS))
def test_a_damaged_cassette_file_is_one_clear_error(scratch: Path, raw: bytes) -> None:
    path = scratch / "damaged.yaml"
    path.write_bytes(raw)
    load_cassette(path)


@fuzz_settings(60)
@given(document=mutated_data([yaml.safe_load(seed) for seed in CASSETTE_SEEDS]))
def test_a_cassette_with_wrong_fields_is_one_clear_error(scratch: Path, document: Any) -> None:
    path = scratch / "wrong.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    load_cassette(path)


# ---- trajectories ------------------------------------------------------------------------------

OPENAI_TRACES = sorted((ROOT / "tests" / "data" / "openai_traces").glob("*.json"))
ANTHROPIC_TRACE = {
    "system": "You are a support agent.",
    "messages": [
        {"role": "user", "content": "Status of ORD-1?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Looking it up."},
                {"type": "tool_use", "id": "tu_1", "name": "lookup_order", "input": {"id": 1}},
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "tu_1", "content": "shipped"}],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "It has shipped."}]},
    ],
}
TRAJECTORY_DATA: list[Any] = [json.loads(p.read_text()) for p in OPENAI_TRACES[:3]]
TRAJECTORY_DATA += [ANTHROPIC_TRACE]
TRAJECTORY_DATA += [json.loads(Trajectory.load(p).dump(format="json")) for p in OPENAI_TRACES[:2]]
TRAJECTORY_FILES = [(p.read_bytes(), ".json") for p in OPENAI_TRACES[:2]] + [
    (Trajectory.load(p).dump(format=fmt).encode(), f".{fmt}")
    for p in OPENAI_TRACES[:2]
    for fmt in ("json", "yaml")
]
POLICY_FILES = sorted((ROOT / "examples" / "policies").glob("*.yaml"))
POLICIES = [load_policy(p) for p in POLICY_FILES]


def loaded_or_error(load: Callable[[], Trajectory]) -> Trajectory | None:
    try:
        return load()
    except TrajectoryLoadError as exc:
        message = str(exc)
    assert "\n" not in message.strip(), message
    return None


def holds_for_a_loaded(trajectory: Trajectory, folder: Path) -> None:
    """What loads can be checked, summed up, dumped and loaded back the same."""
    for policy in POLICIES:
        assert isinstance(policy.check(trajectory), list)
    for number in (trajectory.cost_usd, trajectory.duration_s):
        assert math.isfinite(number)
        assert number >= 0
    for suffix in ("json", "yaml"):
        path = folder / f"again.{suffix}"
        trajectory.dump(path, redact=False)
        again = Trajectory.load(path, format="native")
        assert again.to_jsonable() == trajectory.to_jsonable()


def test_the_trajectory_seeds_load(scratch: Path) -> None:
    for data in TRAJECTORY_DATA:
        holds_for_a_loaded(Trajectory.load(copy.deepcopy(data)), scratch)
    assert any(trajectory_is_not_trivial(data) for data in TRAJECTORY_DATA)


def trajectory_is_not_trivial(data: Any) -> bool:
    trajectory = Trajectory.load(copy.deepcopy(data))
    return bool(trajectory.tool_calls) and bool(trajectory.llm_calls)


@fuzz_settings(60)
@given(data=mutated_data(TRAJECTORY_DATA), fmt=st.sampled_from(["auto", "native", "openai"]))
def test_trajectory_data_with_wrong_fields_is_one_clear_error(
    scratch: Path, data: Any, fmt: str
) -> None:
    trajectory = loaded_or_error(lambda: Trajectory.load(data, format=fmt))
    if trajectory is not None:
        holds_for_a_loaded(trajectory, scratch)


@fuzz_settings(60)
@given(
    file=st.sampled_from(TRAJECTORY_FILES),
    raw=st.data(),
)
def test_a_damaged_trajectory_file_is_one_clear_error(
    scratch: Path, file: tuple[bytes, str], raw: st.DataObject
) -> None:
    seed, suffix = file
    damaged = raw.draw(mutated_bytes([seed, *HOSTILE_DOCUMENTS]))
    path = scratch / f"trace{suffix}"
    path.write_bytes(damaged)
    trajectory = loaded_or_error(lambda: Trajectory.load(path))
    if trajectory is not None:
        holds_for_a_loaded(trajectory, scratch)


@fuzz_settings(15)
@given(raw=mutated_bytes([p.read_bytes() for p in OPENAI_TRACES[:2]] + HOSTILE_DOCUMENTS))
def test_check_exits_0_1_or_2_with_a_message_never_a_traceback(scratch: Path, raw: bytes) -> None:
    path = scratch / "production.json"
    path.write_bytes(raw)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_main(["check", str(path), *(f"--policy={p}" for p in POLICY_FILES)])
    assert code in (0, 1, 2)
    if code == 2:
        assert err.getvalue().startswith("pytest-agentops check: "), err.getvalue()
        assert "Traceback" not in err.getvalue()
    else:
        assert "checked against" in out.getvalue()


# ---- trace importers --------------------------------------------------------------------------

TRACES = ROOT / "tests" / "data" / "traces"
#: Real exports (tests/data/traces/README.md); each format's importer gets its own seeds.
TRACE_FILES = sorted(p for p in TRACES.iterdir() if p.suffix in (".json", ".jsonl"))
TRACE_DATA = [json.loads(p.read_text()) for p in TRACE_FILES if p.suffix == ".json"]
RESPONSES_ITEMS = [
    {"role": "user", "content": "Refund ORD-1"},
    {"type": "function_call", "call_id": "c1", "name": "refund", "arguments": '{"amount": 5}'},
    {"type": "function_call_output", "call_id": "c1", "output": "ok"},
    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Done"}]},
]


def all_or_error(load: Callable[[], list[Trajectory]]) -> list[Trajectory]:
    try:
        return load()
    except TrajectoryLoadError as exc:
        message = str(exc)
    assert "\n" not in message.strip(), message
    return []


def test_every_trace_fixture_imports() -> None:
    assert len(TRACE_FILES) >= 10
    for path in TRACE_FILES:
        if "logs" not in path.name:  # log events alone are no run
            assert list(Trajectory.load_all(path)), path


@fuzz_settings(60)
@given(
    data=mutated_data([*TRACE_DATA, RESPONSES_ITEMS]),
    fmt=st.sampled_from(["auto", "otlp", "openai-responses"]),
)
def test_trace_data_with_wrong_fields_is_one_clear_error(
    scratch: Path, data: Any, fmt: str
) -> None:
    for trajectory in all_or_error(lambda: list(Trajectory.load_all(data, format=fmt))):
        holds_for_a_loaded(trajectory, scratch)


@fuzz_settings(40)
@given(file=st.sampled_from(TRACE_FILES), raw=st.data())
def test_a_damaged_trace_export_is_one_clear_error(
    scratch: Path, file: Path, raw: st.DataObject
) -> None:
    damaged = raw.draw(mutated_bytes([file.read_bytes(), *HOSTILE_DOCUMENTS]))
    path = scratch / f"export{file.suffix}"
    path.write_bytes(damaged)
    for trajectory in all_or_error(lambda: list(Trajectory.load_all(path))):
        holds_for_a_loaded(trajectory, scratch)


# ---- policies ----------------------------------------------------------------------------------

POLICY_SEEDS = [p.read_bytes() for p in POLICY_FILES]


def policy_or_error(text: str) -> Policy | None:
    try:
        return parse_policy(text, source="policies/fuzzed.yaml")
    except PolicyError as exc:
        message = str(exc)
    assert message.startswith("policies/fuzzed.yaml"), message
    return None


@fuzz_settings(60)
@given(raw=mutated_bytes(POLICY_SEEDS + HOSTILE_DOCUMENTS))
def test_a_damaged_policy_file_is_one_clear_error(raw: bytes) -> None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return  # load_policy reads files as UTF-8; its own test covers undecodable files
    policy = policy_or_error(text)
    if policy is not None:
        for data in TRAJECTORY_DATA[:2]:
            assert isinstance(policy.check(Trajectory.load(copy.deepcopy(data))), list)


@fuzz_settings(60)
@given(document=mutated_data([yaml.safe_load(seed) for seed in POLICY_SEEDS]))
def test_a_policy_with_wrong_fields_is_one_clear_error(document: Any) -> None:
    policy = policy_or_error(yaml.safe_dump(document))
    if policy is not None:
        for data in TRAJECTORY_DATA[:2]:
            assert isinstance(policy.check(Trajectory.load(copy.deepcopy(data))), list)


def test_an_undecodable_policy_file_is_one_clear_error(scratch: Path) -> None:
    path = scratch / "latin1.yaml"
    path.write_bytes(POLICY_SEEDS[0] + b"\n# caf\xe9\n")
    with pytest.raises(PolicyError, match=r"latin1\.yaml"):
        load_policy(path)
