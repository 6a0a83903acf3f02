"""What one dashboard connect costs for a user with 10,000 stories, each with a snapshot (`serve` only:
the floor has no dashboard endpoint).

The first connect lists the user's stories (one PostgreSQL statement) and reads every snapshot (one
Redis round trip of pipelined MGETs); the dashboards of that user that follow share the list (no
statement while it is trusted) and share the snapshot reads of those that connect together. Figures:
seconds until each dashboard holds all 10,000 snapshots, server CPU and RSS per dashboard, and the
statements PostgreSQL ran on `stories` (its scans in `pg_stat_user_tables`, one per statement).
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from adapters.jwt_tokens import JwtTokenIssuer
from bench.crowd import crowd
from bench.servers import running
from bench.settings import Settings
from bench.world import SECRET, TTL_SECONDS, World, update
from domain.progress import StoryStatus

Figures = dict[str, float | str]
STORIES = 10_000


async def dashboard(world: World, kind: str, settings: Settings) -> Figures:
    user, count = uuid.uuid4(), settings.dashboards
    stories = [uuid.uuid4() for _ in range(STORIES)]
    await world.database.insert_stories([(story, user) for story in stories])
    for start in range(0, STORIES, 1000):
        chunk = stories[start : start + 1000]
        await world.publish([update(story, StoryStatus.GENERATING, 40, "queued") for story in chunk])
    url = "/ws/user/stories?token=" + JwtTokenIssuer(SECRET).issue(user, ttl_seconds=TTL_SECONDS)
    options = ("--expect", str(STORIES), "--deadline", "120")
    async with running(kind, world) as server:
        first_statements, base = await statements(world), server.rss()
        async with crowd("hold", [server.ws + url], *options, processes=1) as first:
            cpu = server.cpu()
            ready = await first.go()
            first_cpu = server.cpu() - cpu
            after_first = await statements(world)
            base_many = server.rss()
            async with crowd(
                "hold", [server.ws + url] * count, *options, "--concurrency", str(count)
            ) as many:
                cpu = server.cpu()
                together = await many.go()
                many_cpu, growth = server.cpu() - cpu, server.rss() - base_many
                after_many = await statements(world)
        first_growth = base_many - base
    what = f"dashboard of {STORIES:,} stories"
    return {
        f"{what}, first connect: seconds until it holds every snapshot [s]": ready["seconds"],
        f"{what}, first connect: server CPU [ms]": first_cpu * 1000,
        f"{what}, first connect: PostgreSQL statements [count]": after_first - first_statements,
        f"{what}, first connect: server RSS growth [MiB]": first_growth / 2**20,
        f"{what}, {count} more at once: seconds until all hold every snapshot [s]": together["seconds"],
        f"{what}, {count} more at once: server CPU per connect [ms]": many_cpu / count * 1000,
        f"{what}, {count} more at once: PostgreSQL statements [count]": after_many - after_first,
        f"{what}, {count} more at once: server RSS growth per connect [MiB]": growth / count / 2**20,
        f"{what}: connects that failed [count]": 1 + count - ready["connected"] - together["connected"],
    }


OTHERS = "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"


async def statements(world: World) -> int:
    """Scans of the `stories` table so far (`pg_stat_user_tables`): one per statement of the gateway,
    which only reads it. A backend reports its counters within 10 s, or as it exits: so the
    gateway's connections are ended first (its pool opens new ones when it next needs one)."""
    connection = await asyncpg.connect(world.database.dsn, timeout=5)
    try:
        await connection.execute(f"SELECT pg_terminate_backend(pid) {OTHERS}")
        while await connection.fetchval(f"SELECT count(*) {OTHERS}"):  # noqa: ASYNC110 (a poll of the server)
            await asyncio.sleep(0.05)
        await connection.execute("SELECT pg_stat_clear_snapshot()")
        scans = await connection.fetchval(
            "SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) FROM pg_stat_user_tables"
            " WHERE relname = 'stories'"
        )
        return int(scans)
    finally:
        await connection.close()
