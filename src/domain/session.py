"""One client connection from access check to close: the same shape for both endpoints.

A sender task is the socket's only writer: it drains the outbox, sends keepalive pings, and
ends the connection at the token's expiry or when one send stays blocked for
`slow_client_seconds`. The receive loop answers commands through the outbox, so no client's
pace ever holds up another's, and neither loop can outlive the other.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from domain.access import AccessPolicy
from domain.client_frames import ClientFrame, Command, FloodGuard, read_frame
from domain.errors import AccessDenied, ClientGone, Closure
from domain.outbox import Outbox
from domain.ports import ClientSocket, Metrics, Principal
from domain.timers import Alarm, Watchdog

logger = logging.getLogger(__name__)

Refresh = Callable[[Outbox], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class SessionLimits:
    keepalive_seconds: float = 30.0
    slow_client_seconds: float = 30.0
    max_frame_bytes: int = 4096
    flood_rate: float = 20.0
    flood_burst: float = 40.0


class Session:
    def __init__(
        self,
        socket: ClientSocket,
        outbox: Outbox,
        principal: Principal,
        policy: AccessPolicy,
        limits: SessionLimits,
        refresh: Refresh,
        metrics: Metrics | None = None,
        endpoint: str = "",
    ) -> None:
        self._socket = socket
        self._outbox = outbox
        self._principal = principal
        self._policy = policy
        self._limits = limits
        self._refresh = refresh
        self._metrics = metrics
        self._endpoint = endpoint
        self._loop = asyncio.get_running_loop()
        self._last_heard = self._last_pinged = self._loop.time()
        self._alarm = Alarm(outbox.wake)  # the next keepalive or expiry check
        self._watchdog = Watchdog(limits.slow_client_seconds, self._stall)  # a send blocked too long
        self._stalled = False
        self._sender: asyncio.Task[Closure | None] | None = None

    async def run(self) -> Closure | None:
        """Serve until either side ends it; returns why the server closes, or None if the client left."""
        self._sender = sender = asyncio.create_task(self._send_loop(), name="session-sender")
        receiver = asyncio.create_task(self._receive_loop(), name="session-receiver")
        try:
            done, _ = await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._alarm.cancel()
            self._watchdog.cancel()
            for task in (sender, receiver):
                task.cancel()
            await asyncio.gather(sender, receiver, return_exceptions=True)
        first = done.pop()
        if (error := first.exception()) is not None:
            logger.error("session failed", exc_info=error)
            return Closure.INTERNAL
        return first.result()

    async def _send_loop(self) -> Closure | None:
        try:
            return await self._drain()
        except asyncio.CancelledError:
            if not self._stalled:
                raise
            asyncio.current_task().uncancel()  # type: ignore[union-attr]
            return Closure.SLOW_CLIENT

    async def _drain(self) -> Closure | None:
        while self._outbox.closure is None:
            if time.time() >= self._principal.expires_at:
                return Closure.TOKEN_EXPIRED
            text = self._outbox.pop()
            if text is None:
                await self._idle()
                continue
            try:
                await self._send(text)
            except ClientGone:
                return None
            if self._metrics is not None and (at := self._outbox.popped_at) is not None:
                self._metrics.sent(self._endpoint, 1)
                self._metrics.written(time.time() - at)
        return self._outbox.closure

    async def _send(self, text: str) -> None:
        self._watchdog.started()
        try:
            await self._socket.send(text)
        finally:
            self._watchdog.finished()

    def _stall(self) -> None:
        """The watchdog bit: one send has been blocked for `slow_client_seconds`."""
        if self._sender is not None:
            self._stalled = True
            self._sender.cancel()

    async def _idle(self) -> None:
        """Wait for work, a keepalive ping being due, or the token's expiry."""
        now = self._loop.time()
        ping_at = max(self._last_heard, self._last_pinged) + self._limits.keepalive_seconds
        if now >= ping_at:
            self._last_pinged = now
            self._outbox.push_text("ping")
            return
        self._alarm.at(min(ping_at, now + self._principal.expires_at - time.time()))
        await self._outbox.wait()

    async def _receive_loop(self) -> Closure | None:
        flood = FloodGuard(self._limits.flood_rate, self._limits.flood_burst, self._loop.time())
        while (message := await self._socket.receive()) is not None:
            if isinstance(message, Closure):
                return message
            self._last_heard = self._loop.time()
            frame = read_frame(message, self._limits.max_frame_bytes)
            if isinstance(frame, Closure):
                return frame
            if not flood.allow(self._last_heard):
                return Closure.FLOOD
            if (closure := await self._answer(frame)) is not None:
                return closure
        return None

    async def _answer(self, frame: ClientFrame) -> Closure | None:
        if frame.command is Command.PING:
            self._outbox.push_text("pong")
        elif frame.command is Command.STATUS:
            await self._refresh(self._outbox)
        elif frame.command is Command.AUTH:
            try:
                self._principal = self._policy.renew(self._principal, frame.argument)
            except AccessDenied as denied:
                return denied.closure
            self._outbox.push_text("auth ok")
        return None
