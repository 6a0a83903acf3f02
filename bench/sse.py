"""The Server-Sent Events scenario: the same fan-out over SSE and over WebSocket on one server, one
after the other, and the memory an idle stream holds."""

from __future__ import annotations

from dataclasses import replace

from bench.crowd import crowd
from bench.fanout import FANOUT_RATE, Traffic, deliver
from bench.servers import running
from bench.settings import Settings
from bench.world import World

Figures = dict[str, float | str]
SHAPE = (10, 100)  # stories, clients per story
WARM_UP = 20


async def sse(world: World, kind: str, settings: Settings) -> Figures:
    """10 stories x 100 clients at 10 updates/s over WebSocket, then over SSE, on the same server:
    server CPU per 1,000 deliveries of each and their ratio; then RSS per idle stream."""
    async with running(kind, world) as server:
        traffic = Traffic(*SHAPE, FANOUT_RATE, settings.publish_seconds)
        ws = await deliver(world, server, traffic)
        streams = await deliver(world, server, replace(traffic, sse=True))
    what = "10 stories x 100 clients, 10/s"
    ratio = streams.cpu_ms_per_1k / ws.cpu_ms_per_1k
    return {
        f"SSE: CPU per 1,000 deliveries, {what}, over WebSocket [ms]": ws.cpu_ms_per_1k,
        f"SSE: CPU per 1,000 deliveries, {what}, over SSE [ms]": streams.cpu_ms_per_1k,
        "SSE: CPU per delivery, SSE / WebSocket in the same run [x]": ratio,
        f"SSE: updates merged, {what}, over SSE [count]": streams.merged,
        f"SSE: p99 publish → receive, {what}, over SSE [ms]": streams.p99_ms,
        **await idle_streams(world, kind, settings),
    }


async def idle_streams(world: World, kind: str, settings: Settings) -> Figures:
    """Server RSS growth per idle SSE stream, on a fresh server after a warm-up (as `idle` does)."""
    count = settings.idle_connections
    async with running(kind, world) as server:
        url = server.url((await world.stories(1))[0], sse=True)
        async with crowd("hold", [url] * WARM_UP, "--retry", processes=1) as warm:
            await warm.go()
        base = server.rss()
        async with crowd("hold", [url] * count, "--retry") as clients:
            ready = await clients.go()
            growth = server.rss() - base
    return {
        f"SSE: server RSS per idle stream ({count:,} idle) [KiB]": growth / 1024 / count,
        f"SSE: {count:,} idle streams held [count]": ready["connected"],
    }
