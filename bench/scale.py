"""The scale scenario: `serve --workers 2` against 1 worker, and pattern against cluster mode.

Workers: 10 stories x 200 clients, every story published to far faster than one process can fan
out, so each process is saturated and merges (conflation) whatever it cannot send; delivered
updates are counted at the clients over a fixed window, with the CPU of the server and its
workers over the same window. Modes: two `serve` processes, each with the clients of a disjoint
half of the stories; every story is published to; `gateway_broker_messages_total` of each process
says what it received: every update in standalone mode (one pattern subscription), only its own
half in cluster mode (a sharded subscription per watched story). The cluster (3 masters, no
replicas) is the bench's own, started and removed by the scenario.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from adapters.json_codec import JsonCodec
from adapters.redis_cluster import ClusterKeys, ClusterProgressPublisher, open_redis_cluster
from bench.crowd import crowd
from bench.servers import Server, running
from bench.settings import Settings
from bench.world import STEP_TEXT, TTL_SECONDS, Story, World, update
from domain.progress import StoryStatus
from testkit.metrics import scrape
from testkit.redis import SHARED_REDIS
from testkit.redis_cluster import RedisCluster

Figures = dict[str, float | str]
SATURATION = (10, 200)  # stories, clients per story
SATURATING_RATE = 400.0  # updates/s per story: 800,000 deliveries/s asked, more than one process sends
WARM_UP_SECONDS = 1.0
MODE_STORIES, MODE_UPDATES = 20, 20  # stories in all (half per process), updates to each
BROKER = "gateway_broker_messages_total"
PART_SECONDS = 120  # each part takes 10 to 20 s; a part that hangs fails the run instead of the bench


async def scale(world: World, kind: str, settings: Settings) -> Figures:
    """Both parts; `kind` is always `serve` (the floor has neither workers nor a cluster mode)."""
    figures: Figures = {}
    held = await world.stories(SATURATION[0])
    window = settings.publish_seconds
    async with asyncio.timeout(PART_SECONDS):
        one = await saturated(world, held, 1, window)
    async with asyncio.timeout(PART_SECONDS):
        two = await saturated(world, held, 2, window)
    what = f"{SATURATION[0]} stories x {SATURATION[1]} clients, saturated"
    figures[f"scale, {what}: deliveries/s, 1 worker [count]"] = one.per_second
    figures[f"scale, {what}: deliveries/s, 2 workers [count]"] = two.per_second
    figures[f"scale, {what}: deliveries/s, 2 workers / 1 worker [x]"] = two.per_second / one.per_second
    figures[f"scale, {what}: CPU per 1,000 deliveries, 1 worker [ms]"] = one.cpu_ms_per_1k
    figures[f"scale, {what}: CPU per 1,000 deliveries, 2 workers (summed) [ms]"] = two.cpu_ms_per_1k
    figures[f"scale, {what}: CPU per 1,000 deliveries, 2 workers / 1 worker [x]"] = (
        two.cpu_ms_per_1k / one.cpu_ms_per_1k
    )
    for label, run in (("1 worker", one), ("2 workers", two)):
        figures[f"scale, {what}: cores busy, server ({label}) [cores]"] = run.server_cores
        figures[f"scale, {what}: cores busy, the 2 client processes ({label}) [cores]"] = run.clients_cores
        figures[f"scale, {what}: cores busy, the whole machine ({label}) [cores]"] = run.machine_cores
    published = MODE_STORIES * MODE_UPDATES
    what = f"2 processes each watching half of {MODE_STORIES} stories, {published} updates published"
    async with asyncio.timeout(PART_SECONDS):
        standalone = await broker_messages(world, cluster=None)
    async with private_cluster() as cluster, asyncio.timeout(PART_SECONDS):
        sharded = await broker_messages(world, cluster=cluster)
    for mode, (a, b, delivered) in (("standalone (pattern)", standalone), ("cluster (sharded)", sharded)):
        figures[f"scale, {what}: broker messages of process A, {mode} [count]"] = a
        figures[f"scale, {what}: broker messages of process B, {mode} [count]"] = b
        figures[f"scale, {what}: updates delivered to the clients, {mode} [count]"] = delivered
    return figures


@dataclass(frozen=True)
class Saturated:
    """One saturated run, over the measuring window."""

    per_second: float  # deliveries a second, counted at the clients
    cpu_ms_per_1k: float  # server CPU (every worker) per 1,000 deliveries
    server_cores: float  # server CPU seconds a second
    clients_cores: float  # the client processes' CPU seconds a second
    machine_cores: float  # every process's CPU seconds a second (the publisher, Redis, others)


async def saturated(world: World, held: list[Story], workers: int, window: float) -> Saturated:
    """`workers` processes of `serve` fanning out to every client as fast as they can."""
    async with running("serve", world, workers=workers) as server:
        urls = [server.ws + story.path() for story in held for _ in range(SATURATION[1])]
        async with crowd("count", urls, "--retry") as clients:
            await clients.go()
            stop = asyncio.Event()
            publishing = asyncio.create_task(publish_until(world, held, SATURATING_RATE, stop))
            try:
                await asyncio.sleep(WARM_UP_SECONDS)
                first, started = await clients.received(), time.monotonic()
                cpu, clients_cpu, machine = server.cpu(), clients.cpu(), machine_busy_seconds()
                await asyncio.sleep(window)
                last, elapsed = await clients.received(), time.monotonic() - started
                spent, clients_spent = server.cpu() - cpu, clients.cpu() - clients_cpu
                machine = machine_busy_seconds() - machine
            finally:
                stop.set()  # not cancel(): a cancelled pipeline of redis-py 8.1 went on publishing
                await asyncio.wait_for(publishing, 30)
    delivered = max(last - first, 1)
    return Saturated(
        delivered / elapsed,
        spent / delivered * 1e6,
        spent / elapsed,
        clients_spent / elapsed,
        machine / elapsed,
    )


def machine_busy_seconds() -> float:
    """CPU seconds spent by every process of the machine so far (all but idle and iowait)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


async def publish_until(world: World, held: list[Story], rate: float, stop: asyncio.Event) -> None:
    """An update to every story `rate` times a second, until `stop` is set."""
    loop = asyncio.get_running_loop()
    start, index = loop.time(), 0
    while not stop.is_set():
        if (delay := start + index / rate - loop.time()) > 0:
            await asyncio.sleep(delay)
        await world.publish(
            [update(s.story_id, StoryStatus.GENERATING, 50, STEP_TEXT.format(index=index)) for s in held]
        )
        index += 1


async def broker_messages(world: World, cluster: RedisCluster | None) -> tuple[float, float, int]:
    """Broker messages each of two processes read while every story got MODE_UPDATES updates,
    the clients of the first half of the stories on one process and of the second on the other;
    and the updates the clients received (all of them, unless some were merged)."""
    held = await world.stories(MODE_STORIES)
    half = MODE_STORIES // 2
    async with contextlib.AsyncExitStack() as stack:
        publisher: ClusterProgressPublisher | None = None
        redis_url, mode = SHARED_REDIS, "standalone"
        if cluster is not None:
            client = await stack.enter_async_context(open_redis_cluster(cluster.url))
            await client.initialize()  # concurrent first uses race in redis-py 8.1 (redis-py#3935)
            publisher = ClusterProgressPublisher(client, JsonCodec(), ClusterKeys(world.prefix), TTL_SECONDS)
            await publish_cluster(publisher, held, StoryStatus.ANALYZING, 0, 0)  # the snapshots
            redis_url, mode = cluster.url, "cluster"
        servers: list[Server] = [
            await stack.enter_async_context(running("serve", world, redis_url=redis_url, REDIS_MODE=mode))
            for _ in range(2)
        ]
        urls = [servers[index // half].ws + story.path() for index, story in enumerate(held)]
        clients = await stack.enter_async_context(crowd("fanout", urls, "--retry"))
        await clients.go()
        before = [(await scrape(s.process.http)).value(BROKER) for s in servers]
        if publisher is None:
            await world.publish_at_rate(held, 100.0, MODE_UPDATES)
        else:
            for index in range(MODE_UPDATES):
                last = index == MODE_UPDATES - 1
                status = StoryStatus.COMPLETE if last else StoryStatus.GENERATING
                await publish_cluster(publisher, held, status, index * 100 // (MODE_UPDATES - 1), index)
        received, _ = await clients.results()
        after = [(await scrape(s.process.http)).value(BROKER) for s in servers]
    return after[0] - before[0], after[1] - before[1], received


async def publish_cluster(
    publisher: ClusterProgressPublisher, held: list[Story], status: StoryStatus, percent: int, index: int
) -> None:
    """One update to every story, as a worker publishes in cluster mode: with the owner's id."""
    text = f"Writing chapter {index}"
    await asyncio.gather(
        *(publisher.publish(update(s.story_id, status, percent, text), s.owner) for s in held)
    )


@contextlib.asynccontextmanager
async def private_cluster() -> AsyncIterator[RedisCluster]:
    """3 masters without replicas on free ports, removed after."""
    cluster = RedisCluster(size=3, replicas=0)
    await asyncio.to_thread(cluster.start)
    try:
        yield cluster
    finally:
        await asyncio.to_thread(cluster.stop)
