"""The shared helpers: JSON equality in its two forms agrees, bodies parse, text is cut."""

from __future__ import annotations

import io
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_agentops._util import (
    NOT_JSON,
    abridge,
    canonical,
    canonical_json,
    clip,
    is_json_data,
    is_loopback_host,
    parse_json,
    short,
)

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.sampled_from([0.0, 1.0, 2.5, -1.0, 1e20]),
    st.sampled_from(["a", "b", "1", "true"]),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from("abc"), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(JSON, JSON)
def test_canonical_and_its_text_form_agree(a: Any, b: Any) -> None:
    assert is_json_data(a)
    assert canonical_json(a) is not None
    assert (canonical(a) == canonical(b)) == (canonical_json(a) == canonical_json(b))


def test_json_equality_rules() -> None:
    assert canonical({"a": 1, "b": [1.0, "x"]}) == canonical({"b": [1, "x"], "a": 1.0})
    assert canonical(True) != canonical(1)
    assert canonical((1, 2)) == canonical([1, 2])
    assert canonical(math.nan) == canonical(math.nan)
    assert canonical_json({"b": 1, "a": 2.0}) == '{"a": 2, "b": 1}'
    assert canonical_json({"x": math.nan}) is None
    assert canonical_json({"x": object()}) is None
    assert not is_json_data({"x": math.inf})
    assert not is_json_data({1: "x"})


def test_parse_json_reads_bodies() -> None:
    assert parse_json(b'{"a": 1}') == {"a": 1}
    assert parse_json(io.BytesIO(b"[1]")) == [1]
    assert parse_json("not json") is NOT_JSON
    assert parse_json(b"\xff\xfe") is NOT_JSON
    assert parse_json(b"  ") is NOT_JSON
    assert parse_json(None) is NOT_JSON


def test_display_helpers() -> None:
    assert short("x" * 100, 10) == "'xxxxxx..."
    assert short("x" * 100, 10, "…") == "'xxxxxxxx…"
    assert clip("a\n  b   c", 80) == "a b c"
    assert len(clip("word " * 50, 20)) == 20
    assert abridge("y" * 3000, 100).endswith("... [2920 more]")
    assert is_loopback_host("127.0.0.1")
    assert is_loopback_host("[::1]")
    assert not is_loopback_host("api.openai.com")


# ---- YAML: the one-pass way agrees with the checked way ----------------------------------------

PLAIN = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        st.text(),
        st.sampled_from(["yes", "no", "on", "0o17", "1_000", "1:30", "2001-12-14", "~", "<<"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def _checked(text: str) -> Any:
    import yaml

    from pytest_agentops._util import refuse_unsafe_yaml

    refuse_unsafe_yaml(text, "a test")
    return yaml.load(text, Loader=yaml.CSafeLoader)


@given(PLAIN)
def test_plain_yaml_reads_back_what_was_written_either_way(data: Any) -> None:
    from pytest_agentops._util import dump_plain_yaml, load_plain_yaml

    text = dump_plain_yaml(data)
    assert load_plain_yaml(text, "a test") == data == _checked(text)


@pytest.mark.parametrize(
    "text",
    [
        "a: yes\nb: 0o17\nc: 1:30\nd: 2001-12-14\ne: ~\nf: .inf\ng: 0x1F\n",  # YAML 1.1 scalars
        "base: {a: 1}\nderived:\n  <<: {a: 2, b: 3}\n  c: 4\n",  # a merge key
        "? [1, 2]\n: complex key\n",  # a complex key
        "[" * 101 + "]" * 101,  # deeper than allowed
        "a: 1\n---\nb: 2\n",  # two documents
        "a: [1, 2\n",  # broken
        "",  # empty
        "just text",
    ],
)
def test_plain_yaml_either_way_gives_the_same_value_or_error(text: str) -> None:
    from pytest_agentops._util import load_plain_yaml

    def outcome(load: Any) -> Any:
        try:
            return load(text)
        except Exception as exc:  # the same class and message either way
            return type(exc).__name__, str(exc)

    assert outcome(lambda t: load_plain_yaml(t, "a test")) == outcome(_checked)
