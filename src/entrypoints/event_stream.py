"""The Server-Sent Events wire (text/event-stream): each update framed once for every stream that
takes it, as `FrameCache` does for WebSockets.

- an update: `event: progress`, `id: <seq>` (story streams only: a dashboard's events carry no
  id, see docs/protocol.md) and `data: <the progress JSON>` (one line: JSON escapes newlines);
- a control text of the session (the keepalive `ping`): a comment, `: ping`, the heartbeat;
- the server's end of a stream: `event: close` with the close code and reason as JSON;
- the first bytes: a `retry:` hint for a plain `EventSource`, drawn per stream so that a crowd of
  them does not reconnect in step.

On HTTP/1.1 each event is also one chunk (`Transfer-Encoding: chunked`), framed here as well:
a stream writes exactly the bytes it is given.
"""

from __future__ import annotations

import json
import random

from domain.errors import Closure
from domain.progress import Frame

RETRY_MS = (1000, 4000)  # the range of the `retry:` hint a stream starts with
LAST_CHUNK = b"0\r\n\r\n"


def event(data: bytes, seq: int | None) -> bytes:
    """One `progress` event; with `seq`, its `id:` (what a reconnect sends back as Last-Event-ID)."""
    if seq is None:
        return b"event: progress\ndata: " + data + b"\n\n"
    return b"event: progress\nid: %d\ndata: %s\n\n" % (seq, data)


def comment(text: str) -> bytes:
    """A comment line: the heartbeat, which every reader skips."""
    return b": " + text.encode() + b"\n\n"


def close_event(closure: Closure) -> bytes:
    """The server ends the stream: the same code and reason a WebSocket close frame would carry."""
    body = json.dumps({"code": closure.code, "reason": closure.value}, separators=(", ", ": "))
    return b"event: close\ndata: " + body.encode() + b"\n\n"


def retry_hint() -> bytes:
    return b"retry: %d\n\n" % random.randrange(*RETRY_MS)  # noqa: S311 (jitter, not a secret)


def chunk(data: bytes) -> bytes:
    """`data` as one HTTP/1.1 chunk."""
    return b"%x\r\n%s\r\n" % (len(data), data)


class EventFrames:
    """The framings of the update being fanned out, each built once however many streams take it:
    with or without its `id:` (story or dashboard streams), chunked or not (HTTP/1.1 or 1.0)."""

    __slots__ = ("_data", "_framed")

    def __init__(self) -> None:
        self._data = b""
        self._framed: list[bytes | None] = [None] * 4

    def framed(self, frame: Frame, *, with_id: bool, chunked: bool) -> bytes:
        if frame.data is not self._data:
            self._data, self._framed = frame.data, [None] * 4
        index = with_id * 2 + chunked
        framed = self._framed[index]
        if framed is None:
            framed = event(frame.data, frame.update.seq if with_id else None)
            if chunked:
                framed = chunk(framed)
            self._framed[index] = framed
        return framed
