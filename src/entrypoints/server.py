"""Running the app under uvicorn with the settings this service needs.

Small frames only (4 KiB), no permessage-deflate (it costs CPU and ~43 KB a socket for small
JSON), no access log (it prints URLs), and a shutdown that closes every socket with 1001
before uvicorn's own 1012 sweep.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import socket
from types import FrameType

import uvicorn
from litestar import Litestar

from entrypoints.http_protocol import http_protocol
from entrypoints.services import Services
from entrypoints.settings import Settings
from entrypoints.uvicorn_protocol import websocket_protocol

logger = logging.getLogger(__name__)

# The app closes frames over 4 KiB with 1009 `too_big` through a clean closing handshake; uvicorn
# only refuses what is far larger, before buffering it (see uvicorn_protocol.handle_parser_exception).
MAX_FRAME_BYTES = 4096


class GatewayServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: Litestar) -> None:
        super().__init__(config)
        self._app = app

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """A graceful stop is a clean exit (code 0): uvicorn would re-raise the signal afterwards."""
        super().handle_exit(sig, frame)
        self._captured_signals.clear()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Stop accepting, close every session with 1001, give clients a moment to answer the
        close frame (a clean close in the browser), then let uvicorn finish."""
        for server in self.servers:
            server.close()
        services: Services | None = getattr(self._app.state, "services", None)
        if services is not None:
            try:
                await services.gateway.drain(timeout=3.0)
            except TimeoutError:
                logger.warning("sessions still open after 3 s of shutdown")
        deadline = asyncio.get_running_loop().time() + 1.0
        # uvicorn gives no event for a connection closing, so poll it (bounded by the deadline).
        while self.server_state.connections and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        await super().shutdown(sockets)


def raise_file_limit() -> None:
    """One socket is one file descriptor: take the hard limit, so that the soft default (often
    1,024) never caps the connections below MAX_CONNECTIONS."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        logger.info("open files limit raised from %d to %d", soft, hard)


def run_server(app: Litestar, settings: Settings) -> None:
    GatewayServer(gateway_config(app, settings), app).run()


def gateway_config(app: Litestar, settings: Settings) -> uvicorn.Config:
    """uvicorn's own keepalive is off: the WebSocket protocol pings only sockets written to, and
    closes with 4008 a reader whose ping went unanswered for `slow_client_seconds`."""
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=http_protocol(settings),
        ws=websocket_protocol(settings),
        ws_max_size=MAX_FRAME_BYTES * 16,
        ws_per_message_deflate=False,
        ws_ping_interval=None,
        ws_ping_timeout=None,
        access_log=False,
        log_config=None,
        lifespan="on",
        timeout_graceful_shutdown=4,
        server_header=False,
    )
