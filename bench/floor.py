"""The ASGI floor: the thinnest raw ASGI fan-out app on uvicorn, which `make bench` measures `serve` against.

Per connect it does the work `serve` does (accept, verify the JWT, one ownership query, one snapshot
GET, send it); per update, one broker subscription forwards the raw payload to a bounded queue per
socket, drained by one sender task per socket. No framework, no conflation, no keepalive of its own,
permessage-deflate off. The same for a story's Server-Sent Events stream (`/sse/stories/{id}/progress`,
token in `?token=`): each update one `event: progress` body message through uvicorn's ASGI send.
Run as `python -m bench.floor` with the environment of `serve`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import jwt
import uvicorn
from redis.asyncio import BlockingConnectionPool, Redis

QUEUE_SIZE = 64  # per socket; when full the oldest update is dropped
OWNER_SQL = "SELECT user_id FROM stories WHERE id = $1"
PATH_HEAD, SSE_HEAD, PATH_TAIL = "/ws/stories/", "/sse/stories/", "/progress"

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class Floor:
    """The app's state: one Redis client, one small asyncpg pool, the sockets' queues by story id."""

    def __init__(self) -> None:
        self.prefix = os.environ.get("REDIS_KEY_PREFIX", "")
        self.secret = os.environ["JWT_SECRET"]
        self.queues: dict[str, set[asyncio.Queue[str]]] = {}
        self.subscribed = False

    async def start(self) -> None:
        dsn = os.environ["DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://", 1)
        self.pool = await asyncpg.create_pool(dsn, min_size=2, max_size=10)
        pool = BlockingConnectionPool.from_url(os.environ["REDIS_URL"], max_connections=50, timeout=20)
        self.redis = Redis(connection_pool=pool)
        self.listener = asyncio.create_task(self.listen())

    async def stop(self) -> None:
        self.listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.listener
        await self.redis.aclose()
        await self.pool.close()

    async def listen(self) -> None:
        """The one broker subscription: each message's raw text goes to every socket of its story."""
        pubsub = self.redis.pubsub()
        await pubsub.psubscribe(f"{self.prefix}story:*")
        self.subscribed = True
        skip = len(self.prefix) + len("story:")
        async for message in pubsub.listen():
            if message["type"] != "pmessage":
                continue
            queues = self.queues.get(message["channel"][skip:].decode())
            if queues:
                text = message["data"].decode()
                for queue in queues:
                    offer(queue, text)

    async def websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        await receive()  # websocket.connect
        token, protocols = bearer(scope)
        await send({"type": "websocket.accept", "subprotocol": "bearer" if "bearer" in protocols else None})
        try:
            user = uuid.UUID(jwt.decode(token, self.secret, algorithms=["HS256"])["sub"])
        except (jwt.PyJWTError, KeyError, ValueError):
            await send({"type": "websocket.close", "code": 4001, "reason": "invalid_token"})
            return
        story = story_of(scope["path"])
        if story is None or await self.pool.fetchval(OWNER_SQL, story) != user:
            await send({"type": "websocket.close", "code": 4003, "reason": "forbidden"})
            return
        await self.session(str(story), receive, send)

    async def stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A story's Server-Sent Events: the same checks and snapshot, then one event per update."""
        token, _ = bearer(scope)
        try:
            user = uuid.UUID(jwt.decode(token, self.secret, algorithms=["HS256"])["sub"])
        except (jwt.PyJWTError, KeyError, ValueError):
            await answer(send, 401)
            return
        story = story_of(scope["path"], SSE_HEAD)
        if story is None or await self.pool.fetchval(OWNER_SQL, story) != user:
            await answer(send, 403)
            return
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-store")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await self.session(str(story), receive, send, pump=pump_events)

    async def session(
        self, story: str, receive: Receive, send: Send, pump: Callable[..., Awaitable[None]] | None = None
    ) -> None:
        queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_SIZE)
        snapshot = await self.redis.get(f"{self.prefix}story:{story}:progress")
        if snapshot is not None:
            queue.put_nowait(snapshot.decode())
        self.queues.setdefault(story, set()).add(queue)
        sender = asyncio.create_task((pump or pump_frames)(queue, send))
        try:
            while (message := await receive())["type"] not in ("websocket.disconnect", "http.disconnect"):
                if message.get("text") == "ping":
                    offer(queue, "pong")
        finally:
            held = self.queues[story]
            held.discard(queue)
            if not held:
                del self.queues[story]
            sender.cancel()

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"].startswith(SSE_HEAD):
            await self.stream(scope, receive, send)
            return
        status = 404
        if scope["path"] == "/healthz":
            status = 200
        elif scope["path"] == "/readyz":
            status = 200 if self.subscribed else 503
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def offer(queue: asyncio.Queue[str], text: str) -> None:
    """Put without waiting; a full queue loses its oldest item."""
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(text)


async def pump_frames(queue: asyncio.Queue[str], send: Send) -> None:
    with contextlib.suppress(OSError, RuntimeError):
        while True:
            await send({"type": "websocket.send", "text": await queue.get()})


async def pump_events(queue: asyncio.Queue[str], send: Send) -> None:
    with contextlib.suppress(OSError, RuntimeError):
        while True:
            body = b"event: progress\ndata: " + (await queue.get()).encode() + b"\n\n"
            await send({"type": "http.response.body", "body": body, "more_body": True})


async def answer(send: Send, status: int) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})


def bearer(scope: Scope) -> tuple[str, list[str]]:
    """The token from `?token=`, or from the subprotocol pair `bearer, <JWT>`."""
    protocols: list[str] = list(scope.get("subprotocols") or [])
    if "bearer" in protocols and len(protocols) > protocols.index("bearer") + 1:
        return protocols[protocols.index("bearer") + 1], protocols
    query = urllib.parse.parse_qs(scope.get("query_string", b"").decode())
    return query.get("token", [""])[0], protocols


def story_of(path: str, head: str = PATH_HEAD) -> uuid.UUID | None:
    if not (path.startswith(head) and path.endswith(PATH_TAIL)):
        return None
    try:
        return uuid.UUID(path[len(head) : -len(PATH_TAIL)])
    except ValueError:
        return None


def application(floor: Floor) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await floor.websocket(scope, receive, send)
        elif scope["type"] == "http":
            await floor.http(scope, receive, send)
        elif scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":  # the first one is startup
                await floor.start()
                await send({"type": "lifespan.startup.complete"})
            await floor.stop()
            await send({"type": "lifespan.shutdown.complete"})

    return app


def main() -> None:
    uvicorn.run(
        application(Floor()),
        host=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", "8000")),
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        access_log=False,
        lifespan="on",
        server_header=False,
    )


if __name__ == "__main__":
    main()
