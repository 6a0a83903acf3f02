"""Fan-out scenarios: CPU per delivery, merging and latency under load, and a client that never reads.

Each returns its figures for one run on one server kind: `{"what [unit]": value}`. Server CPU is
counted from the first publish until every client holds the terminal update; a delivery is an
update received by a client after its snapshot; merged = expected minus received.
"""

from __future__ import annotations

import contextlib
import statistics
from dataclasses import dataclass, replace

from bench.crowd import crowd
from bench.servers import Server, running
from bench.settings import Settings
from bench.world import STEP_TEXT, World

Figures = dict[str, float | str]
FANOUT_RATE = 10.0
MERGE_RATE = 40.0
STALL_RATE = 100.0
STALL_CLIENTS = 200
BIG_STEP = "Writing chapter {index}: " + "the lighthouse keeper finds the letter under the stairs. " * 35
CASES = (  # label, stories, clients per story, clients offer permessage-deflate
    ("10 stories x 100 clients", 10, 100, False),
    ("1 story x 1,000 clients", 1, 1000, False),
    ("1,000 stories x 1 client", 1000, 1, False),
    ("10 stories x 100 clients offering deflate", 10, 100, True),
)


@dataclass(frozen=True)
class Traffic:
    """`stories x per_story` connections, `rate` updates a second per story for `seconds`; with
    `stalled`, one more client of the first story completes its handshake and never reads."""

    stories: int
    per_story: int
    rate: float
    seconds: float
    step: str = STEP_TEXT
    stalled: bool = False
    sse: bool = False  # Server-Sent Events streams instead of WebSockets


@dataclass(frozen=True)
class Delivery:
    """One fan-out run as seen by its clients and the server."""

    cpu_ms_per_1k: float
    clients_cpu_ms_per_1k: float
    merged: int
    p99_ms: float
    median_ms: float
    extensions: str


def percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(int(len(ordered) * fraction), len(ordered) - 1)] if ordered else float("nan")


async def deliver(world: World, server: Server, traffic: Traffic, *options: str) -> Delivery:
    """The `traffic`, to clients started with `options`, as they and the server saw it."""
    held = await world.stories(traffic.stories)
    urls = [server.url(story, sse=traffic.sse) for story in held for _ in range(traffic.per_story)]
    count = max(int(traffic.rate * traffic.seconds), 2)
    async with contextlib.AsyncExitStack() as stack:
        if traffic.stalled:
            reader = await stack.enter_async_context(crowd("hold", urls[:1], "--stall", processes=1))
            await reader.go()
        clients = await stack.enter_async_context(crowd("fanout", urls, "--retry", *options))
        ready = await clients.go()
        before, clients_before = server.cpu(), clients.cpu()
        await world.publish_at_rate(held, traffic.rate, count, traffic.step)
        received, latencies = await clients.results()
        cpu, clients_cpu = server.cpu() - before, clients.cpu() - clients_before
    latencies.sort()
    return Delivery(
        cpu_ms_per_1k=cpu / max(received, 1) * 1e6,
        clients_cpu_ms_per_1k=clients_cpu / max(received, 1) * 1e6,
        merged=count * len(urls) - received,
        p99_ms=percentile(latencies, 0.99),
        median_ms=statistics.median(latencies) if latencies else float("nan"),
        extensions=ready["extensions"] or "none",
    )


async def fanout(world: World, kind: str, settings: Settings) -> Figures:
    """Server CPU per 1,000 deliveries at 10 updates/s per story, for each shape in CASES."""
    figures: Figures = {}
    async with running(kind, world) as server:
        for label, stories, per_story, deflate in CASES:
            options = ("--deflate",) if deflate else ()
            traffic = Traffic(stories, per_story, FANOUT_RATE, settings.publish_seconds)
            got = await deliver(world, server, traffic, *options)
            figures[f"CPU per 1,000 deliveries, {label}, 10/s [ms]"] = got.cpu_ms_per_1k
            figures[f"updates merged, {label}, 10/s [count]"] = got.merged
            if deflate:
                accepted = "no" if got.extensions == "none" else f"yes ({got.extensions})"
                figures["permessage-deflate offered: accepted by the server [text]"] = accepted
    return figures


async def merge(world: World, kind: str, settings: Settings) -> Figures:
    """1 story x 1,000 clients at 40 updates/s: what is merged, and the publish → receive latency."""
    async with running(kind, world) as server:
        got = await deliver(world, server, Traffic(1, 1000, MERGE_RATE, settings.publish_seconds))
    count = max(int(MERGE_RATE * settings.publish_seconds), 2)
    return {
        f"1 story x 1,000 clients, 40/s: updates merged, of {count * 1000:,} [count]": got.merged,
        "1 story x 1,000 clients, 40/s: p99 publish → receive [ms]": got.p99_ms,
        "1 story x 1,000 clients, 40/s: median publish → receive [ms]": got.median_ms,
        "1 story x 1,000 clients, 40/s: CPU per 1,000 deliveries [ms]": got.cpu_ms_per_1k,
        "the same: the 2 client processes' CPU per 1,000 deliveries [ms]": got.clients_cpu_ms_per_1k,
    }


async def stalled(world: World, kind: str, settings: Settings) -> Figures:
    """200 clients at 100 updates/s of ~2 KB, without and then with one more client that never reads."""
    alone = Traffic(1, STALL_CLIENTS, STALL_RATE, settings.publish_seconds, step=BIG_STEP)
    async with running(kind, world) as server:
        without = await deliver(world, server, alone)
        stall = await deliver(world, server, replace(alone, stalled=True))
    what = f"{STALL_CLIENTS} clients, 100/s of 2 KB"
    return {
        f"{what}: merged per normal client, one client stalled [count]": stall.merged / STALL_CLIENTS,
        f"{what}: merged per client, no stalled client [count]": without.merged / STALL_CLIENTS,
        f"{what}: p99, one client stalled [ms]": stall.p99_ms,
        f"{what}: p99, no stalled client [ms]": without.p99_ms,
        f"{what}: p99 with / without the stalled client [x]": stall.p99_ms / without.p99_ms,
    }
