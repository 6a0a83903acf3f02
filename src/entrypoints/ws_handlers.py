"""The two WebSocket endpoints, kept thin: read the wire, accept, hand over to the gateway.

Accept comes first so that browsers see our close codes (a close before the handshake shows
them only 1006). The token comes from `Sec-WebSocket-Protocol: bearer, <JWT>` or `?token=` (see
`request_tokens.py`).
"""

from __future__ import annotations

from typing import Any

from litestar import WebSocket, websocket
from litestar.di import NamedDependency
from litestar.params import FromPath, SkipValidation

from domain.connection.log_context import CONNECTION, ConnectionContext
from entrypoints.client_socket import LitestarClientSocket
from entrypoints.request_tokens import query_token, subprotocol_token
from entrypoints.services import Services

Socket = WebSocket[Any, Any, Any]


async def _accepted(
    socket: Socket, services: Services, endpoint: str
) -> tuple[LitestarClientSocket, str | None] | None:
    """Refuse foreign origins at the handshake; otherwise accept and return the client and its token.
    The connection's log context starts here, so uvicorn's own `[accepted]` line carries its id too
    (this task serves this one connection, and ends with it)."""
    CONNECTION.set(ConnectionContext(endpoint))
    allowed = services.settings.allowed_origins
    if allowed and socket.headers.get("origin") not in allowed:
        await socket.close(code=1008, reason="origin")
        return None
    if (token := subprotocol_token(socket.scope.get("subprotocols", ()))) is not None:
        await socket.accept(subprotocols="bearer")
        return LitestarClientSocket(socket, services.frames), token
    await socket.accept()
    return LitestarClientSocket(socket, services.frames), query_token(socket.scope["query_string"])


@websocket("/ws/stories/{story_id:str}/progress")
async def story_progress(
    socket: Socket, story_id: FromPath[str], services: NamedDependency[SkipValidation[Services]]
) -> None:
    if (accepted := await _accepted(socket, services, "story")) is not None:
        await services.gateway.story(accepted[0], accepted[1], story_id)


@websocket("/ws/user/stories")
async def user_stories(socket: Socket, services: NamedDependency[SkipValidation[Services]]) -> None:
    if (accepted := await _accepted(socket, services, "dashboard")) is not None:
        await services.gateway.dashboard(accepted[0], accepted[1])
