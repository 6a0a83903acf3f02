"""Codec: encode then decode is the identity on valid updates; bytes decode or raise InvalidUpdate."""

from __future__ import annotations

import json
from datetime import timedelta, timezone

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.json_codec import JsonCodec
from domain.progress import (
    MAX_SEQ,
    MAX_UPDATE_BYTES,
    InvalidUpdate,
    ProgressUpdate,
    StoryStatus,
    parse_update,
)

BOUNDED = settings(max_examples=200, deadline=None)

# The wire carries a fixed offset in whole minutes (RFC 3339); a zone's folds and gaps have no place on it.
offsets = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(
    lambda m: timezone(timedelta(minutes=m))
)
updates = st.builds(
    ProgressUpdate,
    story_id=st.uuids(),
    status=st.sampled_from(StoryStatus),
    progress_percent=st.integers(min_value=0, max_value=100),
    current_step=st.text(max_size=60),
    updated_at=st.datetimes(timezones=offsets),
    seq=st.none() | st.integers(min_value=0, max_value=MAX_SEQ),
)


@BOUNDED
@given(updates)
def test_encode_then_decode_gives_back_the_same_update(update: ProgressUpdate) -> None:
    codec = JsonCodec()

    decoded = codec.decode(codec.encode_bytes(update))

    assert decoded == update
    assert decoded.updated_at.utcoffset() == update.updated_at.utcoffset()
    assert codec.decode(codec.encode(update)) == update


@BOUNDED
@given(updates)
def test_the_wire_has_the_contract_fields_and_seq_only_when_set(update: ProgressUpdate) -> None:
    wire = json.loads(JsonCodec().encode(update))

    expected = {"story_id", "status", "progress_percent", "current_step", "updated_at"}
    assert set(wire) == (expected | {"seq"} if update.seq is not None else expected)
    assert wire["status"] == update.status.value


def _decode(raw: bytes) -> ProgressUpdate | InvalidUpdate:
    try:
        return JsonCodec().decode(raw)
    except InvalidUpdate as refused:
        return refused


@BOUNDED
@given(st.binary(max_size=200) | st.text(max_size=100).map(str.encode))
def test_decoding_arbitrary_bytes_raises_only_invalid_update(raw: bytes) -> None:
    outcome = _decode(raw)

    if isinstance(outcome, InvalidUpdate):
        assert outcome.field in {"payload", "story_id", "status", "progress_percent", "current_step"}
    else:
        assert isinstance(outcome, ProgressUpdate)


@pytest.mark.parametrize("raw", [b"", b"{", b"\xff\xfe", b"not json", b'{"story_id": "a"} trailing'])
def test_bytes_that_are_not_json_are_refused_as_payload(raw: bytes) -> None:
    with pytest.raises(InvalidUpdate) as refused:
        JsonCodec().decode(raw)

    assert refused.value.field == "payload"


@pytest.mark.parametrize("depth", [1_000, 30_000])  # 30,000 pairs: 60 kB, under the 64 KiB bound
def test_deeply_nested_json_is_refused_as_payload(depth: int) -> None:
    """A small hostile message (1 kB of '[') must be an invalid update, not a RecursionError."""
    with pytest.raises(InvalidUpdate) as refused:
        JsonCodec().decode(b"[" * depth + b"]" * depth)

    assert refused.value.field == "payload"


fields = st.fixed_dictionaries(
    {},
    optional={
        "story_id": st.uuids().map(str) | st.text(max_size=8) | st.integers(),
        "status": st.sampled_from([s.value for s in StoryStatus]) | st.text(max_size=8),
        "progress_percent": st.integers(-5, 105) | st.booleans() | st.floats(0, 100) | st.none(),
        "current_step": st.text(max_size=8) | st.integers(),
        "updated_at": st.datetimes(timezones=st.none() | offsets).map(lambda d: d.isoformat())
        | st.datetimes().map(lambda d: d.isoformat(sep=" "))
        | st.text(max_size=8),
        "seq": st.none() | st.integers(-3, 2**63 - 1) | st.booleans() | st.text(max_size=3),
    },
)


@BOUNDED
@given(fields)
def test_the_fast_typed_path_gives_the_verdict_of_the_field_by_field_parser(
    payload: dict[str, object],
) -> None:
    raw = json.dumps(payload).encode()
    try:
        expected: ProgressUpdate | str = parse_update(json.loads(raw))
    except InvalidUpdate as exc:
        expected = exc.field
    try:
        got: ProgressUpdate | str = JsonCodec().decode(raw)
    except InvalidUpdate as exc:
        got = exc.field

    assert got == expected


@BOUNDED
@given(updates)
def test_encoding_gives_exactly_the_bytes_of_the_wire_dict(update: ProgressUpdate) -> None:
    assert JsonCodec().encode_bytes(update) == msgspec.json.encode(update.to_wire())


def _wire(**changes: object) -> bytes:
    valid = {
        "story_id": "6f1c2a3e-1111-4222-8333-444455556666",
        "status": "generating",
        "progress_percent": 40,
        "current_step": "Writing chapter 2",
        "updated_at": "2026-11-25T20:43:58+00:00",
    }
    return json.dumps({**valid, **changes}).encode()


def test_a_seq_of_2_53_is_valid_and_one_more_is_not() -> None:
    assert JsonCodec().decode(_wire(seq=MAX_SEQ)).seq == 2**53
    for seq in (MAX_SEQ + 1, 10**30):
        with pytest.raises(InvalidUpdate) as refused:
            JsonCodec().decode(_wire(seq=seq))
        assert (refused.value.field, refused.value.reason) == ("seq", "over 2^53")
        with pytest.raises(InvalidUpdate):
            parse_update(json.loads(_wire(seq=seq)))


def test_an_update_up_to_64_kib_is_decoded_and_one_byte_more_is_too_big() -> None:
    fitting = _wire(current_step="")
    fitting = _wire(current_step="x" * (MAX_UPDATE_BYTES - len(fitting)))
    assert len(fitting) == MAX_UPDATE_BYTES
    assert len(JsonCodec().decode(fitting).current_step) > 65_000

    with pytest.raises(InvalidUpdate) as refused:
        JsonCodec().decode(fitting[:-1] + b" }")
    assert refused.value.field == "too_big"


def test_the_size_is_checked_before_decoding() -> None:
    """16 MB that is not even JSON is `too_big`, not `payload`: it was never parsed."""
    with pytest.raises(InvalidUpdate) as refused:
        JsonCodec().decode(b"\xff" * 16_000_000)

    assert refused.value.field == "too_big"
    assert str(refused.value) == "too_big: 16000000 bytes, over 65536"


def test_a_snapshot_over_the_bound_is_ignored() -> None:
    assert JsonCodec().decode_snapshot(_wire(current_step="x" * MAX_UPDATE_BYTES)) is None
