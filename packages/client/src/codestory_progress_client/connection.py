"""A stream of one story's or one dashboard's updates over the `websockets` asyncio client."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from types import TracebackType

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Subprotocol

from codestory_progress_client.cancel import (
    UNAVAILABLE,
    CancelResult,
    PendingCancels,
    parse_cancel_answer,
)
from codestory_progress_client.errors import AuthError, ConnectionRejected
from codestory_progress_client.rules import (
    Backoff,
    CloseAction,
    SeqFilter,
    action_for,
    renewal_delay,
    token_expiry,
)
from codestory_progress_client.updates import MalformedUpdate, ProgressUpdate, parse_update

logger = logging.getLogger(__name__)

TokenSource = Callable[[], str | Awaitable[str]]


class ProgressStream:
    """Updates of one endpoint, across reconnects, until `aclose()` or a close that retrying
    cannot fix (`AuthError` on 4001/4003, `ConnectionRejected` on a client fault). A malformed
    frame is skipped, logged and counted in `malformed`; it never ends the stream."""

    def __init__(  # noqa: PLR0913 (the public signature: keyword options)
        self,
        url: str,
        token: str,
        *,
        get_token: TokenSource | None = None,
        backoff: Backoff | None = None,
        renew_before: float = 15.0,
        open_timeout: float = 10.0,
        story_id: str | None = None,
    ) -> None:
        self.url = url
        self.story_id = story_id  # a story's stream; None for a dashboard
        self._token = token
        self._get_token = get_token
        self._backoff = backoff or Backoff()
        self._renew_before = renew_before
        self._open_timeout = open_timeout
        self._seqs = SeqFilter()
        self._stream: AsyncGenerator[ProgressUpdate] | None = None
        self._ws: ClientConnection | None = None  # the open socket, while a session runs
        self._cancels = PendingCancels()
        self.connections = 0  # handshakes attempted, for callers that report on them
        self.malformed = 0  # frames skipped because they were not a progress message

    async def __aenter__(self) -> ProgressStream:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> AsyncIterator[ProgressUpdate]:
        if self._stream is None:
            self._stream = self._updates()
        return self._stream

    async def aclose(self) -> None:
        if self._stream is not None:
            await self._stream.aclose()

    async def cancel(self, story_id: str | None = None, timeout: float = 10.0) -> CancelResult:
        """Ask the gateway to cancel the story (a dashboard names it): `ok`, or refused with a
        reason. The answer arrives on the stream, so keep iterating it meanwhile. No open socket,
        or no answer within `timeout`: `unavailable` (asking again is safe)."""
        if self.story_id is None and story_id is None:
            raise ValueError("a dashboard's cancel names the story")
        if self.story_id is not None and story_id not in (None, self.story_id):
            raise ValueError("a story's stream cancels only its own story")
        ws = self._ws
        key = None if self.story_id is not None else story_id
        future = None if ws is None else self._cancels.expect(key)
        if ws is None or future is None:
            return UNAVAILABLE
        try:
            await ws.send("cancel" if key is None else f"cancel {key}")
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except (ConnectionClosed, TimeoutError):
            return UNAVAILABLE
        finally:
            self._cancels.forget(future)

    async def _updates(self) -> AsyncGenerator[ProgressUpdate]:
        attempt = 0
        while True:
            if self._get_token and (exp := token_expiry(self._token)) and exp - time.time() < 1:
                self._token = await _call(self._get_token)  # expired while we were away
            self.connections += 1
            code, reason = 1006, ""
            try:
                async with self._connect() as ws, contextlib.aclosing(self._session(ws)) as updates:
                    async for update in updates:
                        attempt = 0
                        yield update
                code, reason = ws.close_code or 1005, ws.close_reason or ""
            except ConnectionClosed as closed:
                if closed.rcvd is not None:
                    code, reason = closed.rcvd.code, closed.rcvd.reason
            except (OSError, TimeoutError, InvalidHandshake) as exc:
                logger.info("connecting to %s failed: %s", self.url, exc)
            await self._after_close(code, reason, attempt)
            attempt += 1

    def _connect(self) -> connect:
        return connect(
            self.url,
            subprotocols=[Subprotocol("bearer"), Subprotocol(self._token)],
            open_timeout=self._open_timeout,
        )

    async def _after_close(self, code: int, reason: str, attempt: int) -> None:
        """Raise on a close that retrying cannot fix; otherwise wait the backoff delay."""
        action = action_for(code)
        if action is CloseAction.AUTH_ERROR:
            raise AuthError(code, reason)
        if action is CloseAction.STOP:
            raise ConnectionRejected(code, reason)
        delay = self._backoff.delay(attempt)
        logger.info("closed %s %s; reconnecting in %.2f s (attempt %d)", code, reason, delay, attempt)
        await asyncio.sleep(delay)

    async def _session(self, ws: ClientConnection) -> AsyncGenerator[ProgressUpdate]:
        """One socket: answer pings, renew the token in band, yield the updates the filter keeps."""
        self._seqs.reconnected()
        self._ws = ws
        renewal = asyncio.create_task(self._renew(ws), name="progress-client-renewal")
        try:
            async for text in ws:
                if text == "ping":
                    await ws.send("pong")
                elif not isinstance(text, str):
                    continue
                elif (answer := parse_cancel_answer(text)) is not None:
                    self._cancels.answered(answer)
                elif (update := self._parse(text)) is not None and self._seqs.accept(
                    update.story_id, update.seq, update.stalled
                ):
                    yield update
        finally:
            self._ws = None
            self._cancels.closed()
            renewal.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewal

    def _parse(self, text: str) -> ProgressUpdate | None:
        """The frame's update; None for a control text, and for a malformed frame (skipped, counted)."""
        try:
            return parse_update(text)
        except MalformedUpdate as exc:
            self.malformed += 1
            logger.warning("skipped a malformed frame from %s (%s): %.120r", self.url, exc, text)
            return None

    async def _renew(self, ws: ClientConnection) -> None:
        """Send `auth <JWT>` ahead of each token's `exp`; the server answers `auth ok` or 4001."""
        while self._get_token is not None and (exp := token_expiry(self._token)) is not None:
            await asyncio.sleep(renewal_delay(exp, time.time(), self._renew_before))
            try:
                token = await _call(self._get_token)
            except Exception:
                logger.exception("get_token failed; trying again in 1 s")
                await asyncio.sleep(1.0)
                continue
            self._token = token
            await ws.send(f"auth {token}")


async def _call(source: TokenSource) -> str:
    result = source()
    return await result if inspect.isawaitable(result) else result
