"""The two endpoints as use cases: check access, subscribe, serve the session, close with a reason."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Literal, Protocol
from uuid import UUID

from domain.connection.log_context import CONNECTION, ConnectionContext
from domain.connection.outbox import Outbox
from domain.connection.quota import ConnectionQuota
from domain.connection.session import Session, SessionServices, Subscription
from domain.errors import AccessDenied, ClientGone, Closure, DirectoryUnavailable, TokenRefused
from domain.hub.hub import ProgressHub
from domain.ports import ClientSocket, ConnectionMetrics, DeliveryMetrics
from domain.values import CancelOutcome, Disconnect, Principal

logger = logging.getLogger(__name__)

_VANISHED = Disconnect(1006)  # the client went away without a close frame we could read

Via = Literal["ws", "sse"]  # the transport: WebSocket, or Server-Sent Events


class GatewayMetrics(ConnectionMetrics, DeliveryMetrics, Protocol):
    """The gateway counts connections; its sessions count what they write."""


_OpenWatch = Callable[[Principal, Outbox], Awaitable[Subscription]]


class Gateway:
    def __init__(
        self, hub: ProgressHub, metrics: GatewayMetrics, quota: ConnectionQuota, services: SessionServices
    ) -> None:
        """`services` are what every session shares: the policy, the limits, the cancels."""
        self._policy = services.policy
        self._hub = hub
        self._metrics = metrics
        self._limits = services.limits
        self._quota = quota
        self._services = services
        self._sessions = 0
        self._session_ended: asyncio.Event | None = None

    async def drain(self, timeout: float) -> None:
        """Close every session for shutdown, and wait (bounded) until each has sent its close frame."""
        self._hub.close_all(Closure.SHUTDOWN)
        self._session_ended = ended = asyncio.Event()
        async with asyncio.timeout(timeout):
            while self._sessions:
                ended.clear()
                await ended.wait()

    @property
    def open_sessions(self) -> int:
        """Connections being served here, from their accept to their close."""
        return self._sessions

    def shed(self, count: int) -> int:
        """Close `count` served connections with 1012 `rebalance`, so that their clients reconnect
        and land on other workers; returns how many were closed."""
        return self._hub.close_some(count, Closure.REBALANCE)

    async def story(
        self,
        socket: ClientSocket,
        token: str | None,
        raw_story_id: str,
        *,
        via: Via = "ws",
        resume: int | None = None,
    ) -> None:
        """One story's progress over WebSocket or SSE (`via`). `resume` is the `seq` the client holds
        from an earlier stream (SSE's `Last-Event-ID`): no snapshot that is not newer is sent, and a
        story that ended at or before it is not served at all (`FINISHED`: SSE's 204)."""

        async def open_watch(principal: Principal, outbox: Outbox) -> Subscription:
            story_id = await self._policy.story_for(principal, raw_story_id)
            if resume is not None:
                await self._resume(outbox, story_id, resume)
            return self._hub.watch_story(outbox, story_id, principal.user_id)

        await self._serve(_endpoint("story", via), socket, token, open_watch)

    async def dashboard(self, socket: ClientSocket, token: str | None, *, via: Via = "ws") -> None:
        async def open_watch(principal: Principal, outbox: Outbox) -> Subscription:
            story_ids = await self._policy.stories_of(principal)
            return self._hub.watch_user(outbox, principal.user_id, story_ids)

        await self._serve(_endpoint("dashboard", via), socket, token, open_watch)

    async def cancel(self, token: str | None, raw_story_id: str) -> CancelOutcome:
        """A cancel without a socket (SSE's POST): the token checked as at a connect (raises
        `TokenRefused`), the request within its user's share of this process while it runs
        (`AccessDenied` past it)."""
        principal = self._authenticate(token)
        if not self._quota.acquire(principal.user_id):
            raise AccessDenied(Closure.TOO_MANY_CONNECTIONS, f"{self._quota.limit} open already")
        try:
            return await self._services.cancels.cancel(principal, raw_story_id)
        finally:
            self._quota.release(principal.user_id)

    async def _resume(self, outbox: Outbox, story_id: UUID, seq: int) -> None:
        end = await self._hub.end_of(story_id)
        if end is not None and end <= seq:
            raise AccessDenied(Closure.FINISHED, "the client holds the story's end")
        outbox.resume(story_id, seq)

    async def _serve(
        self, endpoint: str, socket: ClientSocket, token: str | None, open_watch: _OpenWatch
    ) -> None:
        self._sessions += 1
        context = CONNECTION.get()
        if context is None or context.endpoint != endpoint:  # else the entrypoint set it before accept
            context = ConnectionContext(endpoint)
        reset = CONNECTION.set(context)
        try:
            await self._serve_session(context, socket, token, open_watch)
        finally:
            CONNECTION.reset(reset)
            self._sessions -= 1
            if self._session_ended is not None:
                self._session_ended.set()

    async def _serve_session(
        self, context: ConnectionContext, socket: ClientSocket, token: str | None, open_watch: _OpenWatch
    ) -> None:
        endpoint = context.endpoint
        self._metrics.connection_opened(endpoint)
        started = time.monotonic()
        ending: Closure | Disconnect = _VANISHED
        try:
            principal = self._authenticate(token)
            context.user_id = str(principal.user_id)
            ending = await self._run_in_share(socket, principal, open_watch, endpoint, started)
        except AccessDenied as denied:
            logger.info("%s connection denied: %s", endpoint, denied)
            ending = denied.closure
        except DirectoryUnavailable as exc:
            logger.warning("%s connection refused, directory unavailable: %s", endpoint, exc)
            ending = Closure.UNAVAILABLE
        except Exception:
            logger.exception("%s connection failed", endpoint)
            ending = Closure.INTERNAL
        finally:
            reason = _reason(ending)
            self._metrics.connection_closed(endpoint, reason, ending.code)
        if isinstance(ending, Closure):
            await self._close(socket, ending)
        logger.info("connection closed", extra={"close_code": ending.code, "close_reason": reason})

    async def _run_in_share(
        self,
        socket: ClientSocket,
        principal: Principal,
        open_watch: _OpenWatch,
        endpoint: str,
        started: float,
    ) -> Closure | Disconnect:
        """Within the user's share of this process, taken before the ownership query (a user at the
        limit costs no PostgreSQL round trip) and given back however the session ends."""
        user = principal.user_id
        if not self._quota.acquire(user):
            raise AccessDenied(Closure.TOO_MANY_CONNECTIONS, f"{self._quota.limit} open already")
        try:
            watch = await open_watch(principal, Outbox())
            session = Session(socket, principal, watch, self._services)
            return await session.run(lambda: self._metrics.connected(endpoint, time.monotonic() - started))
        finally:
            self._quota.release(user)

    def _authenticate(self, token: str | None) -> Principal:
        try:
            return self._policy.authenticate(token)
        except TokenRefused as refused:
            self._metrics.authentication_failed(refused.failure)
            raise

    async def _close(self, socket: ClientSocket, closure: Closure) -> None:
        try:
            async with asyncio.timeout(self._limits.slow_client_seconds):
                await socket.close(closure)
        except (ClientGone, TimeoutError):
            logger.debug("client gone before the close frame (%s)", closure.value)


def _endpoint(kind: str, via: Via) -> str:
    """The endpoint's label (a fixed set): `story`, `dashboard`, `sse_story`, `sse_dashboard`."""
    return kind if via == "ws" else f"sse_{kind}"


def _reason(ending: Closure | Disconnect) -> str:
    """The label of why a connection ended: our reason, the transport's, or `client_closed`."""
    if isinstance(ending, Closure):
        return ending.value
    return ending.closure.value if ending.closure is not None else "client_closed"
