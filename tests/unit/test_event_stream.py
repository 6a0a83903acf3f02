"""The SSE wire: events, comments, the close event and chunks, each update framed once per framing
however many streams take it."""

from __future__ import annotations

import json
import uuid

import pytest

from adapters.json_codec import JsonCodec
from domain.errors import Closure
from domain.progress import Frame
from entrypoints.event_stream import RETRY_MS, EventFrames, chunk, close_event, comment, event, retry_hint
from entrypoints.sse_handlers import last_event_id
from tests.unit.conftest import update


def frame(seq: int | None = 7) -> Frame:
    progress = update(uuid.uuid4(), seq=seq)
    return Frame(progress, JsonCodec().encode_bytes(progress))


def test_an_update_is_a_progress_event_with_its_seq_as_id_and_the_json_as_one_data_line() -> None:
    framed = frame(17)

    with_id, without = event(framed.data, 17), event(framed.data, None)

    assert with_id == b"event: progress\nid: 17\ndata: " + framed.data + b"\n\n"
    assert without == b"event: progress\ndata: " + framed.data + b"\n\n"
    assert b"\n" not in framed.data


def test_the_heartbeat_is_a_comment_and_the_end_a_close_event_with_code_and_reason() -> None:
    closing = close_event(Closure.TOKEN_EXPIRED)

    assert comment("ping") == b": ping\n\n"
    assert closing.startswith(b"event: close\ndata: ")
    assert json.loads(closing.split(b"data: ", 1)[1]) == {"code": 4001, "reason": "token_expired"}


def test_chunks_and_the_retry_hint() -> None:
    hints = {retry_hint() for _ in range(200)}

    assert chunk(b"abc") == b"3\r\nabc\r\n"
    assert chunk(b"x" * 300) == b"12c\r\n" + b"x" * 300 + b"\r\n"
    assert len(hints) > 1, "the hint is drawn per stream"
    assert all(RETRY_MS[0] <= int(hint[len(b"retry: ") : -2]) < RETRY_MS[1] for hint in hints)


def test_each_framing_of_an_update_is_built_once_for_every_stream() -> None:
    frames, framed = EventFrames(), frame(3)

    story_streams = [frames.framed(framed, with_id=True, chunked=True) for _ in range(100)]
    dashboards = [frames.framed(framed, with_id=False, chunked=True) for _ in range(100)]
    plain = frames.framed(framed, with_id=True, chunked=False)

    assert all(b is story_streams[0] for b in story_streams)
    assert all(b is dashboards[0] for b in dashboards)
    assert story_streams[0] == chunk(event(framed.data, 3))
    assert dashboards[0] == chunk(event(framed.data, None))
    assert plain == event(framed.data, 3)


def test_a_new_update_replaces_the_framings_held() -> None:
    frames, first, second = EventFrames(), frame(1), frame(2)

    frames.framed(first, with_id=True, chunked=True)
    again = frames.framed(second, with_id=True, chunked=True)

    assert again == chunk(event(second.data, 2))


def test_an_update_without_seq_has_no_id_even_on_a_story_stream() -> None:
    assert EventFrames().framed(frame(None), with_id=True, chunked=False).count(b"id:") == 0


@pytest.mark.parametrize(
    ("header", "seq"),
    [
        ("17", 17),
        ("0", 0),
        (str(2**53), 2**53),
        (str(2**53 + 1), None),
        ("-1", None),
        ("1.5", None),
        ("", None),
        (" 3", None),
        ("٣", None),  # a digit, but not ASCII
        ("1" * 40, None),
        (None, None),
    ],
)
def test_last_event_id_is_a_seq_or_nothing(header: str | None, seq: int | None) -> None:
    assert last_event_id(header) == seq
