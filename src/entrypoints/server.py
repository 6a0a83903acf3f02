"""Running the app under uvicorn with the settings this service needs.

Small frames only (4 KiB), no permessage-deflate (it costs CPU and ~43 KB a socket for small
JSON), no access log (it prints URLs), and a shutdown that closes every socket with 1001
before uvicorn's own 1012 sweep.
"""

from __future__ import annotations

import logging
import socket
from types import FrameType

import uvicorn
from litestar import Litestar

from entrypoints.services import Services
from entrypoints.uvicorn_protocol import GatewayWebSocketProtocol

logger = logging.getLogger(__name__)

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
        for server in self.servers:
            server.close()
        services: Services | None = getattr(self._app.state, "services", None)
        if services is not None:
            try:
                await services.hub.drain(timeout=3.0)
            except TimeoutError:
                logger.warning("%d sessions still open after 3 s", services.hub.subscriber_count)
        await super().shutdown(sockets)


def run_server(app: Litestar, host: str, port: int) -> None:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        ws=GatewayWebSocketProtocol,
        ws_max_size=MAX_FRAME_BYTES,
        ws_per_message_deflate=False,
        access_log=False,
        log_config=None,
        lifespan="on",
        timeout_graceful_shutdown=4,
        server_header=False,
    )
    server = GatewayServer(config, app)
    server.run()
