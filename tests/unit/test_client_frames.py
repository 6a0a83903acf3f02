"""What clients may send: the text commands, and the frames that end a connection (binary, too big)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.connection.client_frames import ClientFrame, Command, FloodGuard, read_frame
from domain.errors import Closure

LIMIT = 4096


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ping", ClientFrame(Command.PING)),
        ("pong", ClientFrame(Command.PONG)),
        ("status", ClientFrame(Command.STATUS)),
        ("auth eyJ.abc.def", ClientFrame(Command.AUTH, "eyJ.abc.def")),
        ("auth   eyJ.abc.def  ", ClientFrame(Command.AUTH, "eyJ.abc.def")),
        ("auth ", ClientFrame(Command.AUTH, "")),
        ("PING", ClientFrame(Command.IGNORED)),
        ("ping ", ClientFrame(Command.IGNORED)),
        ("auth", ClientFrame(Command.IGNORED)),
        ("hello", ClientFrame(Command.IGNORED)),
        ("", ClientFrame(Command.IGNORED)),
        ('{"type": "subscribe"}', ClientFrame(Command.IGNORED)),
    ],
)
def test_text_frames_are_read_as_commands(text: str, expected: ClientFrame) -> None:
    assert read_frame(text, LIMIT) == expected


@pytest.mark.parametrize("data", [b"ping", b"", b"\x00\x01"])
def test_a_binary_frame_closes_as_binary(data: bytes) -> None:
    assert read_frame(data, LIMIT) is Closure.BINARY


@pytest.mark.parametrize(
    "text",
    ["x" * (LIMIT + 1), "€" * 1500, "€" * 1366, "😀" * 1025, "ping" + " " * LIMIT],
    ids=["4097-ascii", "4500-bytes-euro", "4098-bytes-euro", "4100-bytes-emoji", "padded-ping"],
)
def test_a_frame_over_4_kib_of_utf8_closes_as_too_big(text: str) -> None:
    assert len(text.encode()) > LIMIT
    assert read_frame(text, LIMIT) is Closure.TOO_BIG


@pytest.mark.parametrize("text", ["x" * LIMIT, "€" * 1365, "😀" * 1024], ids=["ascii", "euro", "emoji"])
def test_a_frame_of_at_most_4_kib_of_utf8_is_read(text: str) -> None:
    assert len(text.encode()) <= LIMIT
    assert read_frame(text, LIMIT) == ClientFrame(Command.IGNORED)


def _refused_after(rate_per_second: float, seconds: float) -> float | None:
    """Feed a FloodGuard (20/s, bursts of 60) at a steady rate; when is the first message refused?"""
    guard = FloodGuard(rate=20.0, burst=60.0, now=0.0)
    for n in range(int(rate_per_second * seconds)):
        now = n / rate_per_second
        if not guard.allow(now):
            return now
    return None


def test_a_short_burst_is_allowed() -> None:
    guard = FloodGuard(rate=20.0, burst=60.0, now=0.0)

    assert all(guard.allow(0.0) for _ in range(60))
    assert not guard.allow(0.0)


def test_a_sustained_40_per_second_is_refused_after_a_few_seconds() -> None:
    refused_at = _refused_after(40.0, seconds=30)

    assert refused_at is not None
    assert 2.0 <= refused_at <= 4.0


def test_a_sustained_15_per_second_is_never_refused() -> None:
    assert _refused_after(15.0, seconds=120) is None


def test_the_bucket_refills_after_a_pause() -> None:
    guard = FloodGuard(rate=20.0, burst=60.0, now=0.0)
    for _ in range(60):
        guard.allow(0.0)

    assert not guard.allow(0.0)
    assert guard.allow(0.05)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=5000) | st.binary(max_size=100), st.integers(min_value=1, max_value=8192))
def test_reading_any_message_never_raises(message: str | bytes, limit: int) -> None:
    frame = read_frame(message, limit)

    assert isinstance(frame, ClientFrame | Closure)
    if isinstance(message, bytes):
        assert frame is Closure.BINARY
    elif len(message.encode()) > limit:
        assert frame is Closure.TOO_BIG
    else:
        assert isinstance(frame, ClientFrame)
