"""A stand-in for the gateway that sends scripted frames, for what the real one never sends (a
malformed frame): a real `websockets` server on loopback that selects the `bearer` subprotocol."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from websockets.asyncio.server import ServerConnection, serve
from websockets.typing import Subprotocol


@dataclass
class ScriptedGateway:
    """Each connection gets `frames`, in order, and then stays open until the client goes."""

    frames: Sequence[str]
    url: str = ""
    paths: list[str] = field(default_factory=list)  # the request path of each connection

    async def handle(self, ws: ServerConnection) -> None:
        self.paths.append(ws.request.path if ws.request is not None else "")
        for frame in self.frames:
            await ws.send(frame)
        await ws.wait_closed()


@asynccontextmanager
async def scripted_gateway(frames: Sequence[str]) -> AsyncIterator[ScriptedGateway]:
    gateway = ScriptedGateway(frames)
    async with serve(gateway.handle, "127.0.0.1", 0, subprotocols=[Subprotocol("bearer")]) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        gateway.url = f"ws://127.0.0.1:{port}"
        yield gateway
