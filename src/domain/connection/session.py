"""One client connection from access check to close: the same shape for both endpoints.

The connection's own task reads the client; it holds nothing else while idle. Updates reach the
socket straight from the hub's fan-out (see `Outbox`); a sender task exists only while the
socket is behind and the outbox holds a backlog. One timer per session sends the keepalive ping
and ends the connection at the token's expiry. Whatever ends the session (the client, a bad
frame, the token, the transport finding the client not reading, a shutdown) ends both sides:
no client's pace ever holds up another's, and nothing outlives the connection.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from domain.access.policy import AccessPolicy
from domain.connection.client_frames import ClientFrame, Command, FloodGuard, read_frame
from domain.connection.outbox import Outbox
from domain.connection.timers import Alarm
from domain.errors import AccessDenied, ClientGone, Closure
from domain.ports import ClientSocket, DeliveryMetrics
from domain.progress import Frame
from domain.values import CancelOutcome, Disconnect, Principal

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SessionLimits:
    keepalive_seconds: float = 30.0
    slow_client_seconds: float = 30.0
    max_frame_bytes: int = 4096
    flood_rate: float = 20.0
    flood_burst: float = 40.0
    status_interval: float = 1.0  # at most one `status` answer a second; those between coalesce into one


class Canceller(Protocol):
    async def cancel(self, principal: Principal, raw_story_id: str) -> CancelOutcome:
        """Check, record and signal a cancel of the story; the outcome, never an exception."""
        ...


@dataclass(frozen=True, slots=True)
class SessionServices:
    """What every session of a gateway shares: the policy (for `auth`), the limits, the metrics,
    and the cancels (for `cancel`)."""

    policy: AccessPolicy
    limits: SessionLimits
    metrics: DeliveryMetrics
    cancels: Canceller


class Subscription(Protocol):
    """A connection's subscription as the hub opens it (`Watch`), entered for the session's length."""

    @property
    def outbox(self) -> Outbox: ...

    @property
    def endpoint(self) -> str: ...

    @property
    def story_id(self) -> UUID | None:
        """The story of a story socket; None for a dashboard."""
        ...

    async def refresh(self) -> None:
        """`status`: the state of each story held, again (no directory query: cheap to repeat)."""
        ...

    async def __aenter__(self) -> None: ...

    async def __aexit__(self, *exc: object) -> None: ...


class Session:
    __slots__ = (
        "_alarm",
        "_cancels",
        "_ending",
        "_endpoint",
        "_last_heard",
        "_last_pinged",
        "_limits",
        "_loop",
        "_metrics",
        "_outbox",
        "_policy",
        "_principal",
        "_sender",
        "_socket",
        "_status_after",
        "_status_due",
        "_status_task",
        "_task",
        "_watch",
    )

    def __init__(
        self, socket: ClientSocket, principal: Principal, watch: Subscription, services: SessionServices
    ) -> None:
        self._socket = socket
        self._principal = principal
        self._watch = watch
        self._outbox = watch.outbox
        self._endpoint = watch.endpoint
        self._policy = services.policy
        self._limits = services.limits
        self._metrics = services.metrics
        self._cancels = services.cancels
        self._loop = asyncio.get_running_loop()
        self._last_heard = self._last_pinged = self._loop.time()
        self._alarm = Alarm(self._tick)
        self._sender: asyncio.Task[None] | None = None
        self._task: asyncio.Task[object] | None = None
        self._ending: Closure | None = None
        self._status_after = 0.0  # the next `status` is answered at once from then on
        self._status_due = False  # a `status` came before `_status_after`: answer it then
        self._status_task: asyncio.Task[None] | None = None

    async def run(self, ready: Callable[[], None] | None = None) -> Closure | Disconnect:
        """Subscribe (then call `ready`), and serve until either side ends it; returns why the
        server closes, or how the connection ended without us (`Disconnect`)."""
        self._task = asyncio.current_task()
        self._outbox.attach(self._socket.send_now, self._start_sender, self._end)
        self._tick()
        try:
            async with self._watch:
                if ready is not None:
                    ready()
                return await self._receive_loop()
        except asyncio.CancelledError:
            if self._ending is None or self._uncancel() > 0:
                raise
            return self._ending
        finally:
            self._task = None  # from now on nothing may interrupt the task (it closes the socket next)
            self._alarm.cancel()
            if self._sender is not None:
                self._sender.cancel()
            if self._status_task is not None:
                self._status_task.cancel()

    def _end(self, closure: Closure | None) -> None:
        """End the session from outside its task (timer, sender, hub): interrupt the reading."""
        if self._ending is None and self._task is not None:
            self._ending = closure or Closure.SHUTDOWN
            self._task.cancel()

    def _uncancel(self) -> int:
        task = self._task
        return task.uncancel() if task is not None else 0

    def _tick(self) -> None:
        """The session's one timer: the token's expiry, a keepalive ping after client silence, or a
        coalesced `status` answer."""
        if time.time() >= self._principal.expires_at:
            self._end(Closure.TOKEN_EXPIRED)
            return
        now = self._loop.time()
        if self._status_due and now >= self._status_after and self._status_task is None:
            self._status_due = False
            self._status_task = asyncio.create_task(self._answer_status(now), name="session-status")
        ping_at = max(self._last_heard, self._last_pinged) + self._limits.keepalive_seconds
        if now >= ping_at:
            self._last_pinged = now
            ping_at = now + self._limits.keepalive_seconds
            self._outbox.push_text("ping")
        self._alarm.at(min(ping_at, now + self._principal.expires_at - time.time()))

    def _start_sender(self) -> None:
        if self._sender is None and self._ending is None:
            self._sender = asyncio.create_task(self._drain(), name="session-sender")

    async def _drain(self) -> None:
        """Send the backlog in order; the outbox writes straight to the socket again once it is empty."""
        try:
            while (entry := self._outbox.pop()) is not None:
                try:
                    await self._socket.send(entry)
                finally:
                    self._outbox.done()
                if isinstance(entry, Frame):
                    self._metrics.sent(self._endpoint, 1)
                    self._metrics.written(entry.lag())
        except ClientGone:
            logger.debug("client gone while sending")
        except Exception:
            logger.exception("session sender failed")
            self._end(Closure.INTERNAL)
        finally:
            self._sender = None

    async def _receive_loop(self) -> Closure | Disconnect:
        flood = FloodGuard(self._limits.flood_rate, self._limits.flood_burst, self._loop.time())
        while True:
            message = await self._socket.receive()
            if isinstance(message, Disconnect):
                return message
            self._last_heard = self._loop.time()
            frame = read_frame(message, self._limits.max_frame_bytes)
            if isinstance(frame, Closure):
                return frame
            if not flood.allow(self._last_heard):
                return Closure.FLOOD
            if (closure := await self._answer(frame)) is not None:
                return closure

    async def _status(self) -> None:
        """A dashboard answers one message per story held: at most one answer per
        `status_interval`, the requests in between coalesced into one answer at its end."""
        now = self._loop.time()
        if now >= self._status_after and self._status_task is None:
            self._status_after = now + self._limits.status_interval
            await self._watch.refresh()
        elif not self._status_due:
            self._status_due = True
            self._alarm.at(self._status_after)

    async def _answer_status(self, now: float) -> None:
        self._status_after = now + self._limits.status_interval
        try:
            await self._watch.refresh()
        finally:
            self._status_task = None
            if self._status_due:
                self._alarm.at(self._status_after)

    async def _answer(self, frame: ClientFrame) -> Closure | None:
        if frame.command is Command.PING:
            self._outbox.push_text("pong")
        elif frame.command is Command.STATUS:
            await self._status()
        elif frame.command is Command.AUTH:
            try:
                self._principal = self._policy.renew(self._principal, frame.argument)
            except AccessDenied as denied:
                return denied.closure
            self._outbox.push_text("auth ok")
            self._tick()
        elif frame.command is Command.CANCEL:
            self._outbox.push_text(await self._cancel(frame.argument))
        return None

    async def _cancel(self, argument: str) -> str:
        """`cancel ok` / `cancel refused <reason>`; on a dashboard the answer names the story."""
        story_id = self._watch.story_id
        if story_id is not None:
            return _cancel_answer(await self._cancels.cancel(self._principal, str(story_id)))
        raw = argument.split(maxsplit=1)[0][:64] if argument else ""
        if not raw:
            return _cancel_answer(CancelOutcome.FORBIDDEN)
        return _cancel_answer(await self._cancels.cancel(self._principal, raw), raw)


def _cancel_answer(outcome: CancelOutcome, story: str = "") -> str:
    named = f" {story}" if story else ""
    if outcome is CancelOutcome.OK:
        return f"cancel ok{named}"
    return f"cancel refused{named} {outcome.value}"
