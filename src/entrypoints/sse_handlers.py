"""The two Server-Sent Events endpoints, kept thin: read the request, hand over to the gateway.

The token comes from `Authorization: Bearer <JWT>` or `?token=` (see `request_tokens.py`); a story
stream's `Last-Event-ID` is the `seq` its client holds. A browser on another origin reads the
stream under CORS (`cors_config` in `app.py`: GET, with `Authorization` and `Last-Event-ID`); an
origin outside ALLOWED_ORIGINS is refused with 403 before anything else, as its WebSocket would be.
SSE has no upstream, so its cancel is `POST /stories/{story_id}/cancel`, with the same token and
the answers a socket's `cancel` gets, as text (no body is taken: one is refused with 413 before
any handler runs, see `http_protocol.py`; the request counts in its user's share while it runs).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar import MediaType, Request, Response, get, post
from litestar.config.cors import CORSConfig
from litestar.di import NamedDependency
from litestar.params import FromPath, SkipValidation
from litestar.types import ASGIApp, Receive, Scope, Send

from domain.connection.log_context import CONNECTION, ConnectionContext
from domain.errors import AccessDenied, TokenRefused
from domain.progress import MAX_SEQ
from domain.values import CancelOutcome
from entrypoints.request_tokens import bearer_token, query_token
from entrypoints.services import Services
from entrypoints.settings import Settings
from entrypoints.sse_socket import SseClientSocket, refusal

AnyRequest = Request[Any, Any, Any]
Serve = Callable[[SseClientSocket, str | None], Awaitable[None]]


def cors_config(settings: Settings) -> CORSConfig:
    """Browsers on other origins may read the streams (and send the headers they need)."""
    return CORSConfig(
        allow_origins=list(settings.allowed_origins) or ["*"],
        allow_methods=["GET", "POST"],
        allow_headers=["authorization", "last-event-id", "cache-control"],
        max_age=600,
    )


def last_event_id(value: str | None) -> int | None:
    """The `seq` a reconnecting client holds: a decimal integer within 0..2^53; anything else none."""
    if value is None or not value.isascii() or not value.isdigit() or len(value) > 16:
        return None
    seq = int(value)
    return seq if seq <= MAX_SEQ else None


def _stream(
    request: AnyRequest, services: Services, endpoint: str, serve: Serve, *, with_id: bool
) -> ASGIApp:
    """The response: the gateway serves it as a `ClientSocket`. The connection's log context starts here."""
    CONNECTION.set(ConnectionContext(endpoint))
    origin = request.headers.get("origin")
    allowed = services.settings.allowed_origins
    if origin is not None and allowed and origin not in allowed:
        return _answer(403, {"reason": "origin"})
    token = bearer_token(request.headers.get("authorization")) or query_token(request.scope["query_string"])

    async def respond(scope: Scope, receive: Receive, send: Send) -> None:
        socket = SseClientSocket(scope, receive, send, services.event_frames, with_id=with_id)  # type: ignore[arg-type]
        await serve(socket, token)

    return respond


def _answer(status: int, body: dict[str, object]) -> ASGIApp:
    async def respond(scope: Scope, receive: Receive, send: Send) -> None:
        for message in refusal(status, body):
            await send(message)  # type: ignore[arg-type]

    return respond


@get("/sse/stories/{story_id:str}/progress")
async def sse_story_progress(
    request: AnyRequest, story_id: FromPath[str], services: NamedDependency[SkipValidation[Services]]
) -> ASGIApp:
    resume = last_event_id(request.headers.get("last-event-id"))

    async def serve(socket: SseClientSocket, token: str | None) -> None:
        await services.gateway.story(socket, token, story_id, via="sse", resume=resume)

    return _stream(request, services, "sse_story", serve, with_id=True)


@get("/sse/user/stories")
async def sse_user_stories(
    request: AnyRequest, services: NamedDependency[SkipValidation[Services]]
) -> ASGIApp:
    """A dashboard's events carry no `id:` (see docs/protocol.md): its `Last-Event-ID` is ignored,
    and every reconnect gets the snapshot of each story."""

    async def serve(socket: SseClientSocket, token: str | None) -> None:
        await services.gateway.dashboard(socket, token, via="sse")

    return _stream(request, services, "sse_dashboard", serve, with_id=False)


CANCEL_STATUS = {
    CancelOutcome.OK: 200,
    CancelOutcome.TERMINAL: 409,
    CancelOutcome.FORBIDDEN: 403,
    CancelOutcome.UNAVAILABLE: 503,
}


@post("/stories/{story_id:str}/cancel", media_type=MediaType.TEXT, status_code=200)
async def cancel_story(
    request: AnyRequest, story_id: FromPath[str], services: NamedDependency[SkipValidation[Services]]
) -> Response[str]:
    """`cancel ok` (200), `cancel refused terminal` (409), `forbidden` (403), `unavailable` (503);
    401 without a good token, 429 past the user's share of this process."""
    origin = request.headers.get("origin")
    allowed = services.settings.allowed_origins
    if origin is not None and allowed and origin not in allowed:
        return _text(403, "origin")
    token = bearer_token(request.headers.get("authorization")) or query_token(request.scope["query_string"])
    try:
        outcome = await services.gateway.cancel(token, story_id)
    except TokenRefused:
        return _text(401, "unauthorized")
    except AccessDenied:
        return _text(429, "too many requests")
    answer = "cancel ok" if outcome is CancelOutcome.OK else f"cancel refused {outcome.value}"
    return _text(CANCEL_STATUS[outcome], answer)


def _text(status: int, text: str) -> Response[str]:
    headers = {"Cache-Control": "no-store"}
    if status in (429, 503):
        headers["Retry-After"] = "1"
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return Response(text, status_code=status, media_type=MediaType.TEXT, headers=headers)
