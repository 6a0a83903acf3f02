"""One client process of the benchmark: it holds many connections to one story and reports on them.

The bench runs the clients in processes of their own so that they do not starve the server of
CPU on a small machine. Each process prints JSON lines on stdout: `ready` once every connection
holds its snapshot (so it is subscribed), then, in `fanout` mode, the latencies it measured. It
closes its connections and exits when its stdin closes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from datetime import datetime

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

CONNECT_CONCURRENCY = 50


def emit(record: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


async def open_one(url: str, deflate: bool, gate: asyncio.Semaphore, retries: list[int]) -> ClientConnection:
    """Connect and wait for the snapshot; a 1013 (try again later) is retried with backoff and jitter,
    as the contract tells clients to, and counted in `retries`."""
    for attempt in range(8):
        async with gate:
            ws = await connect(
                url,
                proxy=None,
                compression="deflate" if deflate else None,
                ping_interval=None,
                open_timeout=60,
                max_queue=None,
            )
            try:
                await asyncio.wait_for(ws.recv(), 60)  # the snapshot: from now on it is subscribed
            except ConnectionClosed as closed:
                if closed.rcvd is None or closed.rcvd.code != 1013:
                    raise
                retries.append(1)
            else:
                return ws
        await asyncio.sleep(0.1 * 2**attempt * (0.5 + random.random()))
    raise RuntimeError("still refused with 1013 after 8 attempts")


async def receive_until_complete(ws: ClientConnection) -> list[float]:
    """Seconds from each update's `updated_at` to its receipt, up to the terminal update."""
    latencies: list[float] = []
    async for raw in ws:
        arrived = time.time()
        if raw == "ping":  # the server's keepalive after KEEPALIVE_SECONDS of client silence
            await ws.send("pong")
            continue
        message = json.loads(raw)
        latencies.append(arrived - datetime.fromisoformat(message["updated_at"]).timestamp())
        if message["status"] == "complete":
            break
    return latencies


async def stdin_closed() -> None:
    await asyncio.to_thread(sys.stdin.read)


async def run(args: argparse.Namespace) -> None:
    gate, retries = asyncio.Semaphore(CONNECT_CONCURRENCY), []
    connections = await asyncio.gather(
        *(open_one(args.url, args.deflate, gate, retries) for _ in range(args.count))
    )
    extensions = connections[0].response.headers.get("Sec-WebSocket-Extensions") if connections else None
    emit({"ready": len(connections), "extensions": extensions, "retried_1013": len(retries)})
    try:
        if args.mode == "fanout":
            async with asyncio.timeout(args.deadline):
                per_client = await asyncio.gather(*(receive_until_complete(ws) for ws in connections))
            latencies = [round(value, 5) for values in per_client for value in values]
            emit({"latencies": latencies, "incomplete": sum(1 for v in per_client if not v)})
        await stdin_closed()
    finally:
        await asyncio.gather(*(ws.close() for ws in connections), return_exceptions=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["idle", "fanout"])
    parser.add_argument("url")
    parser.add_argument("count", type=int)
    parser.add_argument("--deflate", action="store_true", help="offer permessage-deflate")
    parser.add_argument("--deadline", type=float, default=120.0)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
