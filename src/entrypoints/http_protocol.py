"""uvicorn's HTTP protocol (httptools), hardened where uvicorn 0.54 leaves gaps before the upgrade.

- Each request, head and body, must be complete within `HANDSHAKE_TIMEOUT_SECONDS` of the
  connection (or of the first byte after the previous request, on a kept-alive connection);
  otherwise the connection is closed. uvicorn arms no timer before the first response, and any
  byte cancels its keep-alive timer, so silent sockets, half heads, header lines dripped one a
  second (slowloris), bodies dripped a byte at a time and bytes dripped between requests were
  held for good. An idle kept-alive connection is closed by uvicorn's keep-alive timeout.
- No endpoint takes a body: a request that announces one (`Content-Length` over 0, or
  `Transfer-Encoding`) gets 413 at once.
- A request line over `MAX_URL_BYTES` gets 414, a header line over `MAX_HEADER_BYTES`, more than
  `MAX_HEADERS` headers or a head over `MAX_HEAD_BYTES` get 431, at once. uvicorn hands such
  heads to the WebSocket library, whose 8 KiB line limit fails the handshake without an answer.
- A WebSocket upgrade, or a Server-Sent Events request (`/sse/…`), while the process holds
  `MAX_CONNECTIONS` open connections gets 503 before the upgrade or the stream (uvicorn's
  `limit_concurrency` skips upgrades). Plain requests (health, metrics) are still served: they
  are short, and an orchestrator must not kill a full process.
- An SSE request gets the seam of `transport.py` in its scope (`sse_transport.py`): its events are
  written straight to the transport while the peer keeps up, and its flow control is told
  to the stream, which ends a reader that stopped.

- Pipelined requests wait in uvicorn's queue: reading pauses while one waits (uvicorn resumed it
  after every response, so a client that never read its answers grew the queue without bound),
  and beyond `MAX_PIPELINED` queued requests the rest is dropped and the connection closes once
  the queued ones are answered (a client retries what a closed keep-alive connection left unanswered).
- A refusal behind requests not yet answered waits for their answers: responses stay in order,
  and nothing is written after the half-close.

A refusal is written, the write side is half-closed, and what the client still sends is read and
dropped for a moment before the close, so that the client reads the answer instead of a reset;
a refused connection no longer counts towards `MAX_CONNECTIONS`.
Depends on uvicorn internals: `tests/unit/test_http_protocol_internals.py` names each one.
"""

from __future__ import annotations

import asyncio
import logging
from http import HTTPStatus
from typing import ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from domain.aio.wheel import Wheel
from entrypoints.settings import Settings
from entrypoints.sse_transport import TICK, SseTransport
from entrypoints.transport import TRANSPORT

logger = logging.getLogger(__name__)

MAX_URL_BYTES = 8000  # below the 8192-byte line limit of the WebSocket library's handshake parser
MAX_HEADER_BYTES = 8000
MAX_HEADERS = 100  # the WebSocket library refuses more than 128
MAX_HEAD_BYTES = 64 * 1024
LINGER_SECONDS = 1.0
MAX_PIPELINED = 16  # requests queued behind the one being answered, on one connection
STREAMS = b"/sse/"  # the paths of Server-Sent Events streams
UNAVAILABLE_JSON = b'{"code": 1013, "reason": "unavailable"}\n'  # what an SSE client reads in a 503


class GatewayHttpProtocol(HttpToolsProtocol):
    head_timeout: ClassVar[float] = 5.0
    max_connections: ClassVar[int] = 50000

    _head_timer: asyncio.TimerHandle | None = None  # runs while a request is being received
    _head_bytes = 0
    _head_done = False
    _line_done = False  # the request line has ended (a head too large is then 431, else 414)
    _refused = False
    _answer: HTTPStatus | None = None  # a refusal waiting for the answers to the requests before it
    _stream: SseTransport | None = None  # the seam of the latest SSE request on this connection
    stream_class: ClassVar[type[SseTransport]] = SseTransport

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """uvicorn arms no timer until a first response: the first request's deadline starts here
        (upstream: a request timeout in `Config`, the same for every later request)."""
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        """The deadline ends with the connection (uvicorn has none to cancel; upstream: the same)."""
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """uvicorn cancels its keep-alive timer on any byte and arms nothing instead, and lets a head
        grow to what the WebSocket library refuses without an answer; here every byte after a
        request starts the next one's deadline, and a head over 64 KiB is refused (upstream: a
        request timeout, and a head size limit)."""
        if self._refused:
            return  # read and dropped until the linger ends
        if self._head_timer is None:  # the first byte after a request: the next one's deadline
            self._arm_head_timer()
        if not self._head_done:
            self._head_bytes += len(data)
            self._line_done = self._line_done or b"\n" in data
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse(_TOO_LARGE if self._line_done else HTTPStatus.REQUEST_URI_TOO_LONG)
                return
        super().data_received(data)

    def on_message_begin(self) -> None:
        """A new request (pipelined, or kept alive) starts its deadline, if no byte did (uvicorn
        has none; upstream: a request timeout)."""
        if self._refused:
            return
        super().on_message_begin()
        self._head_done = False
        if self._head_timer is None:  # a new request on a kept-alive connection
            self._arm_head_timer()

    def on_url(self, url: bytes) -> None:
        """uvicorn takes any URL length; over MAX_URL_BYTES is 414 (upstream: a URL limit)."""
        if self._refused:
            return
        super().on_url(url)
        if len(self.url) > MAX_URL_BYTES:
            self._refuse(HTTPStatus.REQUEST_URI_TOO_LONG)

    def on_header(self, name: bytes, value: bytes) -> None:
        """uvicorn takes any header line and any number of them; over the limits is 431 (upstream:
        header limits)."""
        if self._refused:
            return
        if len(name) + len(value) > MAX_HEADER_BYTES or len(self.headers) >= MAX_HEADERS:
            self._refuse(_TOO_LARGE)
            return
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        """uvicorn reads any body the client announces, and its `limit_concurrency` skips upgrades;
        here a body is 413 and an upgrade beyond MAX_CONNECTIONS 503 (upstream: a body limit, and
        upgrades counted)."""
        if self._refused:
            return
        self._head_done, self._head_bytes, self._line_done = True, 0, False
        if self._announces_body():
            self._refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
            return
        if len(self.pipeline) >= MAX_PIPELINED:
            logger.debug("connection closed: more than %d pipelined requests", MAX_PIPELINED)
            self._refuse(None)
            return
        streams = self.parser.should_upgrade() or self.url.startswith(STREAMS)
        if streams and len(self.connections) > self.max_connections:
            logger.warning("connection refused: %d open connections (MAX_CONNECTIONS)", len(self.connections))
            self._refuse(HTTPStatus.SERVICE_UNAVAILABLE)
            return
        super().on_headers_complete()
        if self.url.startswith(STREAMS) and not self.parser.should_upgrade():
            self._stream = stream = self.stream_class(self, self.cycle)
            extensions: dict[str, object] = self.scope.setdefault("extensions", {})  # type: ignore[assignment]
            extensions[TRANSPORT] = stream

    def on_body(self, body: bytes) -> None:
        """Nothing of a refused request reaches uvicorn's request cycle (upstream: the same)."""
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        """The request is whole: its deadline ends (uvicorn has none; upstream: a request timeout)."""
        if not self._refused:
            self._cancel_head_timer()
            super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        """The upgrade ends the request's deadline, and never happens for a refused request (uvicorn
        has neither; upstream: the same)."""
        if not self._refused:
            self._cancel_head_timer()
            super().handle_websocket_upgrade()

    def on_response_complete(self) -> None:
        """uvicorn resumes reading after every response, even with requests still queued; here
        reading stays paused while one waits, and a refusal waiting for this answer is written
        (upstream: pause while the pipeline is not empty, and a pipeline limit)."""
        super().on_response_complete()
        if self.transport.is_closing():
            return
        if self.pipeline:
            self.flow.pause_reading()
        elif self._refused and self.cycle is not None and self.cycle.response_complete:
            self._unset_keepalive_if_required()
            self._answer_refusal()

    def pause_writing(self) -> None:
        """uvicorn only holds back its own ASGI sends; an SSE stream also starts the clock of a
        reader that may have stopped (upstream: a deadline on a send buffer that does not drain)."""
        super().pause_writing()
        if self._stream is not None:
            self._stream.paused()

    def resume_writing(self) -> None:
        """The counterpart of `pause_writing`: the stream's reader keeps up again (uvicorn sets
        its event only; upstream: the same deadline)."""
        super().resume_writing()
        if self._stream is not None:
            self._stream.resumed()

    def send_400_response(self, msg: str) -> None:
        """uvicorn answers a parse error even when the request was already refused and the write
        side half-closed (a write after EOF: a fatal transport error); here nothing more is written
        after a refusal (upstream: stop parsing once the connection is answered)."""
        if not self._refused:
            super().send_400_response(msg)

    def _announces_body(self) -> bool:
        for name, value in self.headers:
            if name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0"):
                return True
        return False

    def _arm_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_expired)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_expired(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            logger.debug("request not complete within %.1f s: closed", self.head_timeout)
            self.transport.close()

    def _refuse(self, status: HTTPStatus | None) -> None:
        """Answer `status` (None: close without an answer), half-close, drop what still comes, then
        close; after the answers to the requests before it, if some are still due."""
        self._refused, self._answer = True, status
        self._cancel_head_timer()
        self.connections.discard(self)  # it holds no slot while it lingers
        if status is not None and status is not HTTPStatus.SERVICE_UNAVAILABLE:
            logger.info("request refused: %d %s", status.value, status.phrase)
        if self.cycle is None or self.cycle.response_complete:
            self._answer_refusal()

    def _answer_refusal(self) -> None:
        status = self._answer
        if status is not None:
            stream = status is HTTPStatus.SERVICE_UNAVAILABLE and self.url.startswith(STREAMS)
            self.transport.write(_refusal(status, stream))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)


def _refusal(status: HTTPStatus, stream: bool) -> bytes:
    body, kind = f"{status.phrase}\n".encode(), b"text/plain; charset=utf-8"
    retry = b"retry-after: 1\r\n" if status is HTTPStatus.SERVICE_UNAVAILABLE else b""
    if stream:
        body, kind = UNAVAILABLE_JSON, b"application/json"
    return b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\nconnection: close\r\n%s\r\n%s" % (
        status.value,
        status.phrase.encode(),
        kind,
        len(body),
        retry,
        body,
    )


_TOO_LARGE = HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE


def http_protocol(settings: Settings) -> type[GatewayHttpProtocol]:
    """The protocol class uvicorn instantiates per connection, with this process's limits."""

    class ConfiguredStream(SseTransport):
        __slots__ = ()
        slow_client_seconds = settings.slow_client_seconds
        wheel = Wheel(TICK)

    class ConfiguredHttpProtocol(GatewayHttpProtocol):
        head_timeout = settings.handshake_timeout_seconds
        max_connections = settings.max_connections
        stream_class = ConfiguredStream

    return ConfiguredHttpProtocol
