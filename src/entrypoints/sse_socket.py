"""The `ClientSocket` port over one Server-Sent Events response (ASGI HTTP), with the direct path.

The response begins only once the session serves (its first `receive`, or its first write from a
backlog): everything refused before that (token, story, the user's share, PostgreSQL, a finished
story) is an HTTP answer instead, with a JSON body naming the same reason as the close code would.
Where the server offers its end of the response (`scope["extensions"][TRANSPORT]`, see
`sse_transport.py`), each update, framed once for all streams (`EventFrames`), is written straight
to every stream that keeps up, and the end of a stream skips the peer's flow control; elsewhere
(another ASGI server, the test client) everything goes through the plain ASGI send.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from domain.errors import ClientGone, Closure
from domain.progress import Frame
from domain.values import Disconnect
from entrypoints.event_stream import EventFrames, chunk, close_event, comment, event, retry_hint
from entrypoints.sse_transport import SseTransport
from entrypoints.transport import TRANSPORT

Headers = Sequence[tuple[bytes, bytes]]  # CORS headers are added by the app's CORS middleware
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

STREAM_HEADERS: Headers = (
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (b"x-accel-buffering", b"no"),  # nginx: never buffer this response, whatever its configuration
)
STATUSES = {  # the HTTP answer to each reason a stream can be refused for before it begins
    Closure.INVALID_TOKEN: 401,
    Closure.TOKEN_EXPIRED: 401,
    Closure.FORBIDDEN: 403,
    Closure.TOO_MANY_CONNECTIONS: 429,
    Closure.UNAVAILABLE: 503,
    Closure.SHUTDOWN: 503,
    Closure.REBALANCE: 503,
    Closure.FINISHED: 204,
}
CLIENT_LEFT = 1001  # an SSE client can only go away (RFC 6455's 1001), which it does by closing
NO_STREAM = 1006  # the response could not even begin


def refusal(status: int, body: dict[str, object]) -> list[dict[str, Any]]:
    """The ASGI messages of an answer that is not a stream: `status` with `body` as JSON."""
    content = json.dumps(body).encode() if status != 204 else b""
    head = [(b"cache-control", b"no-store")]
    if content:
        head += [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(content))]
    if status in (429, 503):
        head.append((b"retry-after", b"1"))
    if status == 401:
        head.append((b"www-authenticate", b'Bearer error="invalid_token"'))
    return [
        {"type": "http.response.start", "status": status, "headers": head},
        {"type": "http.response.body", "body": content, "more_body": False},
    ]


class SseClientSocket:
    """One SSE stream: `with_id` for a story's (events carry `id: <seq>`), not for a dashboard's."""

    __slots__ = ("_begun", "_frames", "_opening", "_receive", "_send", "_transport", "_with_id")

    def __init__(
        self, scope: dict[str, Any], receive: Receive, send: Send, frames: EventFrames, *, with_id: bool
    ) -> None:
        self._receive, self._send, self._frames = receive, send, frames
        self._with_id = with_id
        extensions: dict[str, Any] = scope.get("extensions") or {}
        self._transport: SseTransport | None = extensions.get(TRANSPORT)
        self._begun = False
        self._opening: asyncio.Lock | None = None

    def send_now(self, message: Frame | str) -> bool:
        transport = self._transport
        if transport is None or not self._begun:
            return False
        chunked = transport.chunked
        if isinstance(message, Frame):
            return transport.write_now(self._frames.framed(message, with_id=self._with_id, chunked=chunked))
        data = comment(message)
        return transport.write_now(chunk(data) if chunked else data)

    async def send(self, message: Frame | str) -> None:
        await self._begin()
        if isinstance(message, Frame):
            data = event(message.data, message.update.seq if self._with_id else None)
        else:
            data = comment(message)
        await self._write(data, more=True)

    async def receive(self) -> str | bytes | Disconnect:
        """Nothing comes from an SSE client: this begins the stream, then returns at its end."""
        try:
            await self._begin()
        except ClientGone:
            return Disconnect(NO_STREAM)
        while (await self._receive())["type"] != "http.disconnect":
            continue  # the request's (empty) body
        closure = self._transport.closure if self._transport is not None else None
        return Disconnect(closure.code, closure) if closure is not None else Disconnect(CLIENT_LEFT)

    async def close(self, closure: Closure) -> None:
        """Before the stream: the HTTP answer for `closure`. During it: `event: close`, and the end."""
        if not self._begun:
            status = STATUSES.get(closure, 500)
            for message in refusal(status, {"code": closure.code, "reason": closure.value}):
                await self._asgi(message)
        elif self._transport is not None:
            self._transport.close_now(closure)
        else:
            await self._write(close_event(closure), more=False)

    async def _begin(self) -> None:
        """The response's head, then the `retry:` hint, once, whichever of the session's task and
        its sender gets here first. Begun means the head is out: from then on every end is an
        `event: close`, never an HTTP status."""
        if self._begun:
            return
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if not self._begun:  # (another caller may have begun it while this one waited)
                await self._asgi(
                    {"type": "http.response.start", "status": 200, "headers": list(STREAM_HEADERS)}
                )
                self._begun, self._opening = True, None
                if self._transport is not None:
                    self._transport.streaming()
                await self._write(retry_hint(), more=True)

    async def _write(self, data: bytes, *, more: bool) -> None:
        await self._asgi({"type": "http.response.body", "body": data, "more_body": more})

    async def _asgi(self, message: dict[str, Any]) -> None:
        try:
            await self._send(message)
        except (OSError, RuntimeError) as exc:
            raise ClientGone(str(exc)) from exc
