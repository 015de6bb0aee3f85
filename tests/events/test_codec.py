"""The fast JSON paths of the event codec (events/envelope.py: ``loads``, ``copy``) give exactly
what ``json`` gives: the same values (integers beyond 64 bits, NaN and infinities, lone surrogates,
floats of every size included) and the same errors, so an event reads the same through either."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.envelope import Event, copy, decode, encode, loads

_keys = st.text(max_size=5)
_scalars = (
    st.none() | st.booleans() | st.integers() | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats() | st.text(max_size=8)
)
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4), max_leaves=15)


def _same(a, b) -> bool:
    return repr(a) == repr(b) and type(a) is type(b)  # repr: NaN equals NaN, 1 and 1.0 and True differ


@settings(max_examples=300, deadline=None)
@given(value=_values)
def test_loads_reads_json_text_as_json_does(value):
    raw = json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    try:
        expected = json.loads(raw)
    except ValueError as exc:
        with pytest.raises(type(exc)):
            loads(raw)
        return
    assert _same(loads(raw), expected)


@settings(max_examples=300, deadline=None)
@given(value=_values)
def test_copy_is_what_a_json_round_trip_gives(value):
    assert _same(copy(value), json.loads(json.dumps(value)))


@pytest.mark.parametrize(
    "raw",
    [b"123456789012345678901234567890", b"-9999999999999999999", b"18446744073709551615", b"[1e400, -1e400]",
     b"NaN", b'"\\ud800"', b'{"a": 1, "a": 2}', b"[1E2, 1.0e-7, 0.30000000000000004, 4.9e-324, -0.0]"],
)
def test_loads_reads_the_texts_orjson_reads_differently_as_json_does(raw):
    assert _same(loads(raw), json.loads(raw))


@pytest.mark.parametrize("raw", [b"{", b"", b"\xff", b"[1,]"])
def test_loads_refuses_what_json_refuses_with_the_same_error(raw):
    with pytest.raises(ValueError) as ours:
        loads(raw)
    with pytest.raises(ValueError) as theirs:
        json.loads(raw)
    assert (type(ours.value), str(ours.value)) == (type(theirs.value), str(theirs.value))


def test_an_event_decodes_to_what_was_encoded():
    event = Event(type="statement.stored", key="k", data={"n": 2**70, "f": 1e-05, "s": "\u20ac"})
    assert decode(encode(event)) == event


def test_a_record_made_to_inflate_past_the_bound_is_undecodable_not_read_whole():
    """Anyone who may write to the topic could send a small record that inflates to gigabytes."""
    import zlib

    from events.envelope import DEFLATED, MAX_INFLATED_BYTES, UNDECODABLE

    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = b" " * (1 << 20)
    bomb = b"".join(packer.compress(chunk) for _ in range(MAX_INFLATED_BYTES // len(chunk) + 2)) + packer.flush()
    assert len(bomb) < 1 << 20
    event = decode(DEFLATED + bomb)
    assert event.type == UNDECODABLE
    assert "inflates past" in event.data["error"]
