"""The `demo` command: the gateway on in-memory adapters, the simulated worker, and its URL.

The port is bound before anything starts, so a busy one is one line naming it and `--port`
(exit 1), and the URL is printed only once the server accepts connections on it.
"""

from __future__ import annotations

import errno
import secrets
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace

import uvicorn
from litestar import Litestar

from adapters.jwt_tokens import JwtTokenIssuer
from codestory_progress_worker.aio import ProgressReporter
from entrypoints.app import create_app
from entrypoints.container import Container
from entrypoints.demo import BrokerBackend, DemoWorker
from entrypoints.logs import configure_logging
from entrypoints.server import GatewayServer, gateway_config
from entrypoints.services import Services
from entrypoints.settings import Settings


class DemoServer(GatewayServer):
    """The gateway's server, telling `on_listening` once it accepts connections."""

    def __init__(self, config: uvicorn.Config, app: Litestar, on_listening: Callable[[], None]) -> None:
        super().__init__(config, app)
        self._on_listening = on_listening

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and not self.should_exit:
            self._on_listening()


def run_demo(settings: Settings, step_seconds: float) -> int:
    """Serve the demo until stopped (0); 1 with one line on stderr when the port cannot be bound."""
    try:
        family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
        listener = socket.create_server((settings.host, settings.port), family=family)
    except OSError as exc:
        busy = exc.errno == errno.EADDRINUSE
        why = "is in use" if busy else f"cannot be bound ({exc.strerror})"
        print(
            f"codestory-progress demo: port {settings.port} on {settings.host} {why}; "
            "pick another with --port PORT",
            file=sys.stderr,
        )
        return 1
    port = int(listener.getsockname()[1])  # the one the kernel chose for --port 0
    settings = replace(settings, port=port)
    container = Container(settings=settings)
    user_id, featured = uuid.uuid4(), uuid.uuid4()
    signals = container.memory_signals()
    backend = BrokerBackend(container.memory_broker(), container.codec(), signals)
    worker = DemoWorker(
        ProgressReporter(backend, heartbeat_seconds=min(5.0, settings.stalled_after_seconds / 4)),
        backend,
        signals,
        container.memory_directory(),
        user_id=user_id,
        featured=featured,
        step_seconds=step_seconds,
        quiet_seconds=settings.stalled_after_seconds * 1.5,
    )
    token = JwtTokenIssuer(settings.jwt_key).issue(user_id, ttl_seconds=24 * 3600)

    @asynccontextmanager
    async def simulate(services: Services) -> AsyncIterator[None]:
        async with worker.running():
            yield

    def announce() -> None:
        print(f"Demo ready. Open http://{settings.host}:{port}/#token={token}&story={featured}", flush=True)

    configure_logging(settings.log_level, settings.log_format)
    app = create_app(container, [simulate])
    DemoServer(gateway_config(app, settings), app, announce).run(sockets=[listener])
    return 0


def demo_settings(base: Settings, host: str, port: int, stalled_after_seconds: float = 8.0) -> Settings:
    """The memory backend, the demo page and a secret of this run: the demo needs no setting. A
    story is stalled sooner than in production, so that the page shows its quiet ones."""
    return replace(
        base,
        jwt_key=secrets.token_urlsafe(48),
        jwt_algorithms=("HS256",),
        backend="memory",
        demo_page=True,
        host=host,
        port=port,
        stalled_after_seconds=stalled_after_seconds,
    )
