"""Connection scenarios: memory per idle connection, CPU per connect, connect storms, 10,000 held.

Each runs on fresh servers and returns its figures for one run: `{"what [unit]": value}`.
"""

from __future__ import annotations

import asyncio
import contextlib

from bench.crowd import crowd
from bench.servers import Server, running
from bench.settings import Settings
from bench.world import Story, World

Figures = dict[str, float | str]
WARM_UP = 20  # connections before a baseline is taken: pools, caches and code paths warmed
STORMS = (("1 story", 1, 1000), ("100 stories", 100, 10))  # label, stories, clients per story
COLD_IDLE_SECONDS = 1.0  # `users`: the server idles so long after it is ready, before any connect
IN_FLIGHT = 100  # connects in flight at once, over the crowd's 2 processes


async def idle(world: World, kind: str, settings: Settings) -> Figures:
    """Server RSS growth per idle connection, on a fresh server after a warm-up."""
    count = settings.idle_connections
    async with running(kind, world) as server:
        url = server.ws + (await world.stories(1))[0].path()
        async with crowd("hold", [url] * WARM_UP, "--retry", processes=1) as warm:
            await warm.go()
        base = server.rss()
        async with crowd("hold", [url] * count, "--retry") as clients:
            ready = await clients.go()
            growth = server.rss() - base
    return {
        f"server RSS per idle connection ({count:,} idle) [KiB]": growth / 1024 / count,
        f"{count:,} idle connections: handshakes refused 1013, retried [count]": ready["retried_1013"],
    }


async def connect(world: World, kind: str, settings: Settings) -> Figures:
    """Server CPU per connect (token, ownership, snapshot), to distinct stories of distinct users."""
    count = settings.connects
    async with running(kind, world) as server:
        warm_urls = [server.ws + story.path() for story in await world.stories(WARM_UP)]
        async with crowd("hold", warm_urls, "--retry", processes=1) as warm:
            await warm.go()
        urls = [server.ws + story.path() for story in await world.stories(count)]
        async with crowd("hold", urls, "--retry", "--concurrency", "50") as clients:
            before = server.cpu()
            ready = await clients.go()
            cpu = server.cpu() - before
    return {
        f"CPU per connect, {count:,} connects to distinct stories [ms]": cpu / count * 1000,
        f"{count:,} connects, 100 in flight: seconds until all hold their snapshot [s]": ready["seconds"],
        f"{count:,} connects: handshakes refused 1013, retried [count]": ready["retried_1013"],
    }


async def storm(world: World, kind: str, settings: Settings) -> Figures:
    """1,000 clients connecting at once (no retry), to one story and to 100 stories; a fresh server each."""
    figures: Figures = {}
    for label, stories, per_story in STORMS:
        held = await world.stories(stories)
        async with running(kind, world, ready=False) as server:
            urls = [server.ws + story.path() for story in held for _ in range(per_story)]
            async with crowd("hold", urls, "--concurrency", str(len(urls)), "--deadline", "60") as clients:
                ready = await clients.go()
                warnings = server.warnings()
        if warnings:
            print(f"{kind}, storm to {label}: {len(warnings)} warnings, the first: {warnings[0][:300]}")
        what = f"storm, {len(urls):,} clients at once to {label}"
        figures[f"{what}: seconds until all hold their snapshot [s]"] = ready["seconds"]
        figures[f"{what}: got 1013 or failed [count]"] = len(urls) - ready["connected"]
        figures[f"{what}: WARNING lines in the server log [count]"] = len(warnings)
    return figures


async def hold(world: World, kind: str, settings: Settings) -> Figures:
    """`held_connections` connections on one server process, none failing (1013s are retried)."""
    count = settings.held_connections
    async with running(kind, world) as server:
        held = await world.stories(10)
        urls = [server.ws + story.path() for story in held for _ in range(count // len(held))]
        base = server.rss()
        async with crowd("hold", urls, "--retry", "--concurrency", "100", "--deadline", "300") as clients:
            ready = await clients.go(seconds=600)
            rss = server.rss()
    what = f"{count:,} connections on one process"
    return {
        f"{what}: connected [count]": ready["connected"],
        f"{what}: failed [count]": count - ready["connected"],
        f"{what}: 1013 retried [count]": ready["retried_1013"],
        f"{what}: server RSS growth [MB]": (rss - base) / 2**20,
        f"{what}: seconds to connect all [s]": ready["seconds"],
    }


async def users(world: World, kind: str, settings: Settings) -> Figures:
    """The issue's shape: every connection its own story of its own user, onto a cold server that
    idled `COLD_IDLE_SECONDS`, `IN_FLIGHT` connects in flight. The connections come in stages that
    stay open: the first `stages[0]` (CPU per connect with 0 to 1,000 open, RSS per idle connection
    at 1,000), then up to the last stage's size less 1,000, then its last 1,000 (CPU per connect with
    9,000 open and more), and RSS per idle connection at the full count (10,000)."""
    first, total = settings.user_stages
    held = await world.stories(total)
    figures: Figures = {}
    async with running(kind, world) as server, contextlib.AsyncExitStack() as stack:
        await asyncio.sleep(COLD_IDLE_SECONDS)
        base_rss, base_cpu = server.rss(), server.cpu()
        cpu = await _stage(stack, server, held[:first])
        figures[f"users, CPU per connect, the first {first:,} (0 to {first:,} open) [ms]"] = (
            cpu / first * 1000
        )
        figures[f"users, RSS per idle connection, {first:,} open [KiB]"] = (
            (server.rss() - base_rss) / 1024 / first
        )
        await _stage(stack, server, held[first : total - first])
        cpu = await _stage(stack, server, held[total - first :])
        label = f"users, CPU per connect, the last {first:,} ({total - first:,} to {total:,} open) [ms]"
        figures[label] = cpu / first * 1000
        figures[f"users, CPU per connect, all {total:,} [ms]"] = (server.cpu() - base_cpu) / total * 1000
        figures[f"users, RSS per idle connection, {total:,} open [KiB]"] = (
            (server.rss() - base_rss) / 1024 / total
        )
    return figures


async def _stage(stack: contextlib.AsyncExitStack, server: Server, stories: list[Story]) -> float:
    """Connect one connection to each story, held open after; returns the server CPU it took."""
    urls = [server.ws + story.path() for story in stories]
    per_process = str(IN_FLIGHT // 2)
    clients = await stack.enter_async_context(crowd("hold", urls, "--retry", "--concurrency", per_process))
    before = server.cpu()
    ready = await clients.go(seconds=300)
    spent = server.cpu() - before
    if ready["connected"] != len(urls):
        raise RuntimeError(f"{len(urls) - ready['connected']} of {len(urls)} failed: {ready['outcomes']}")
    return spent
