"""`make bench`: idle connections' memory and one story's fan-out, against the real `serve` on loopback.

Bounded and self-stopping: it creates its own database and key prefix, runs `serve` and the client
processes (`bench.clients`) as subprocesses, reports medians over `REPETITIONS` runs, writes
BENCHMARKS.md, and removes everything it made, whatever happens.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import resource
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from adapters.json_codec import JsonCodec
from adapters.jwt_tokens import JwtTokenIssuer
from adapters.redis_progress import RedisKeys, RedisProgressPublisher
from domain.progress import ProgressUpdate, StoryStatus
from testkit.postgres import Database
from testkit.processes import ROOT, GatewayProcess, cpu_seconds, gateway_env, rss_bytes
from testkit.redis import SHARED_REDIS

SECRET = "bench-secret-0123456789abcdef0123456789"  # noqa: S105 (a throwaway key for the bench)
REPETITIONS = 3
IDLE_COUNTS = (2000, 5000)
FANOUT_CLIENTS = 1000
FANOUT_SECONDS = 6.0  # of publishing at each rate
FANOUT_RATES = (5.0, 20.0)  # updates per second: one the server sustains, one that saturates its core
CLIENT_PROCESSES = 2
STEP_TEXT = "Writing chapter {index}: the lighthouse keeper finds the letter under the stairs"


@dataclass
class Run:
    """What one bench run owns: its database, key prefix and Redis client, all removed at the end."""

    database: Database
    redis: Redis
    prefix: str = field(default_factory=lambda: f"bench-{uuid.uuid4().hex[:12]}:")

    @property
    def publisher(self) -> RedisProgressPublisher:
        return RedisProgressPublisher(self.redis, JsonCodec(), RedisKeys(self.prefix), ttl_seconds=3600)

    async def story(self, gateway: GatewayProcess) -> str:
        """A new story with a snapshot; returns its WebSocket URL with a token of its owner."""
        story_id, user_id = uuid.uuid4(), uuid.uuid4()
        await self.database.insert_story(story_id, user_id)
        await self.publisher.publish(
            ProgressUpdate(story_id, StoryStatus.ANALYZING, 0, "queued", datetime.now(UTC))
        )
        token = JwtTokenIssuer(SECRET).issue(user_id, ttl_seconds=3600)
        return f"{gateway.ws}/ws/stories/{story_id}/progress?token={token}"

    async def remove_keys(self) -> None:
        keys = [key async for key in self.redis.scan_iter(match=f"{self.prefix}*")]
        if keys:
            await self.redis.delete(*keys)


@asynccontextmanager
async def serving(run: Run) -> AsyncIterator[GatewayProcess]:
    env = gateway_env(SHARED_REDIS, run.database.url, SECRET, run.prefix)
    gateway = await asyncio.to_thread(GatewayProcess(env).start)
    try:
        yield gateway
    finally:
        await asyncio.to_thread(gateway.stop)
        gateway.log_path.unlink(missing_ok=True)


@asynccontextmanager
async def clients(
    mode: str, url: str, count: int, *, deflate: bool = False, processes: int = CLIENT_PROCESSES
) -> AsyncIterator[list[asyncio.subprocess.Process]]:
    """Client processes holding `count` connections between them, each subscribed when this yields."""
    shares = [count // processes + (1 if i < count % processes else 0) for i in range(processes)]
    extra = ["--deflate"] if deflate else []
    started = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.clients", mode, url, str(share), *extra,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=ROOT, limit=2**26,
        )
        for share in shares if share
    ]  # fmt: skip
    try:
        yield started
    finally:
        for process in started:
            if process.stdin is not None:
                process.stdin.close()
        for process in started:
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()


async def read_record(process: asyncio.subprocess.Process, seconds: float) -> dict[str, Any]:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), seconds)
    if not line:
        raise RuntimeError(f"client process {process.pid} exited with {await process.wait()}")
    record: dict[str, Any] = json.loads(line)
    return record


def pid_of(gateway: GatewayProcess) -> int:
    assert gateway.process is not None
    return gateway.process.pid


async def idle_run(run: Run, count: int) -> dict[str, float]:
    """Server RSS growth for `count` idle connections on a fresh server (after a small warm-up)."""
    async with serving(run) as gateway:
        url = await run.story(gateway)
        async with clients("idle", url, 20, processes=1) as warm:
            await read_record(warm[0], 60)
        base = rss_bytes(pid_of(gateway))
        started = time.monotonic()
        async with clients("idle", url, count) as held:
            ready = [await read_record(process, 120) for process in held]
            connect_seconds = time.monotonic() - started
            growth = rss_bytes(pid_of(gateway)) - base
    return {
        "rss_mb": growth / 2**20,
        "kib_per_conn": growth / 1024 / count,
        "connect_s": connect_seconds,
        "retried_1013": sum(r["retried_1013"] for r in ready),
    }


async def publish_at_rate(run: Run, url: str, count: int, rate: float) -> None:
    story_id = uuid.UUID(url.split("/ws/stories/", 1)[1].split("/", 1)[0])
    publisher, loop = run.publisher, asyncio.get_running_loop()
    start = loop.time()
    for index in range(count):
        if (delay := start + index / rate - loop.time()) > 0:
            await asyncio.sleep(delay)
        last = index == count - 1
        status = StoryStatus.COMPLETE if last else StoryStatus.GENERATING
        step = STEP_TEXT.format(index=index)
        await publisher.publish(
            ProgressUpdate(story_id, status, index * 100 // (count - 1), step, datetime.now(UTC))
        )


async def fanout_run(
    run: Run, gateway: GatewayProcess, rate: float, *, deflate: bool = False
) -> dict[str, Any]:
    url, pid = await run.story(gateway), pid_of(gateway)
    async with clients("fanout", url, FANOUT_CLIENTS, deflate=deflate) as held:
        ready = [await read_record(process, 120) for process in held]
        cpu_before = cpu_seconds(pid)
        await publish_at_rate(run, url, updates(rate), rate)
        results = [await read_record(process, 120) for process in held]
        cpu = cpu_seconds(pid) - cpu_before
    latencies = sorted(value for result in results for value in result["latencies"])
    return {
        "median_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "max_ms": latencies[-1] * 1000,
        "cpu_us_per_msg": cpu / len(latencies) * 1e6,
        "delivered_pct": 100 * len(latencies) / (FANOUT_CLIENTS * updates(rate)),
        "extensions": ready[0]["extensions"],
        "retried_1013": sum(r["retried_1013"] for r in ready),
    }


def updates(rate: float) -> int:
    return int(rate * FANOUT_SECONDS)


def median_of(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def row(what: str, runs: list[dict[str, Any]], key: str, unit: str, fmt: str = "{:.1f}") -> str:
    each = " / ".join(fmt.format(r[key]) for r in runs)
    return f"| {what} | {fmt.format(median_of(runs, key))}{' ' if unit else ''}{unit} | {each} |"


def table(
    idle: dict[int, list[dict[str, Any]]], fanout: dict[float, list[dict[str, Any]]], deflate: dict[str, Any]
) -> str:
    lines = ["| measure | median | runs |", "|---|---|---|"]
    for count, runs in idle.items():
        if not runs:
            lines.append(f"| {count} idle connections | did not hold | - |")
            continue
        lines.append(row(f"{count} idle connections: server RSS growth", runs, "rss_mb", "MB"))
        lines.append(row(f"{count} idle connections: server RSS per connection", runs, "kib_per_conn", "KiB"))
        lines.append(row(f"{count} idle connections: time to connect all", runs, "connect_s", "s", "{:.2f}"))
        lines.append(
            row(
                f"{count} idle connections: handshakes refused 1013, retried",
                runs,
                "retried_1013",
                "",
                "{:.0f}",
            )
        )
    for rate, runs in fanout.items():
        shape = f"fan-out, {FANOUT_CLIENTS} clients, {updates(rate)} updates at {rate:g}/s"
        lines.append(row(f"{shape}: latency median", runs, "median_ms", "ms"))
        lines.append(row(f"{shape}: latency p99", runs, "p99_ms", "ms"))
        lines.append(row(f"{shape}: latency max", runs, "max_ms", "ms"))
        lines.append(row(f"{shape}: server CPU per delivered message", runs, "cpu_us_per_msg", "µs"))
        lines.append(row(f"{shape}: updates delivered (rest merged)", runs, "delivered_pct", "%", "{:.0f}"))
        lines.append(row(f"{shape}: handshakes refused 1013, retried", runs, "retried_1013", "", "{:.0f}"))
    shape = f"fan-out, {FANOUT_RATES[0]:g}/s, clients offering permessage-deflate"
    offered = deflate["extensions"] or "none (the server declines)"
    lines.append(f"| {shape}: Sec-WebSocket-Extensions in the 101 | {offered} | - |")
    lines.append(row(f"{shape}: latency median", [deflate], "median_ms", "ms"))
    lines.append(row(f"{shape}: server CPU per delivered message", [deflate], "cpu_us_per_msg", "µs"))
    return "\n".join(lines)


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next(
        (ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines() if ln.startswith("model name")), "?"
    )
    mem_kb = next(
        int(ln.split()[1])
        for ln in Path("/proc/meminfo").read_text().splitlines()
        if ln.startswith("MemTotal")
    )
    return (
        f"{os.cpu_count()} CPUs (nproc), {model}, {mem_kb / 2**20:.1f} GiB RAM, "
        f"Python {platform.python_version()}, Linux {platform.release()}"
    )


def report(body: str, load: str) -> str:
    return f"""# Benchmarks

Command: `make bench` (runs `.venv/bin/python -m bench.fanout`, about three minutes).

Machine: {machine()}.
Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Load average (1 min) at the start and the end: {load}.

The real `serve` runs as one subprocess on loopback with the shared Redis and a database of the
bench's own; the clients run in {CLIENT_PROCESSES} separate processes (`bench.clients`, the `websockets`
package) so that they do not starve the server. Latency is from an update's `updated_at` (set by
the publisher just before publishing) to its receipt by a client, across all clients and updates
of a run. Server CPU is utime + stime from `/proc/<pid>/stat` while the updates are published and
received, divided by the messages delivered. RSS is `VmRSS` after the connections are established
minus before (fresh server, after a 20-connection warm-up).

Figures are medians over {REPETITIONS} repetitions (the `runs` column lists each), except the
permessage-deflate line, which is one run. The machine is shared and noisy: expect run-to-run
differences of tens of percent, and read the figures as orders of magnitude.

{body}

Reading the figures: the server is one process on one core, so one update to N clients costs
about N x (CPU per delivered message) of that core; with 1000 clients an update takes tens of
milliseconds to fan out, which sets the latency floor and the rate the process sustains. Beyond
that rate the per-client outboxes merge percent updates (the `delivered` rows fall below 100 %)
instead of queueing them, so latency stays bounded; status changes are never merged. A 1013
refusal means a handshake waited longer than the PostgreSQL lookup timeout (1.5 s) while many
clients connected at once; the clients retry with backoff, as the contract asks.
"""


async def bench(run: Run) -> str:
    idle: dict[int, list[dict[str, Any]]] = {count: [] for count in IDLE_COUNTS}
    for count in IDLE_COUNTS:
        for _ in range(REPETITIONS):
            started = time.monotonic()
            try:
                idle[count].append(show(f"idle {count}", started, await idle_run(run, count)))
            except (RuntimeError, TimeoutError, OSError) as exc:
                print(f"idle {count}: did not hold ({exc!r})", flush=True)
    async with serving(run) as gateway:
        fanout: dict[float, list[dict[str, Any]]] = {rate: [] for rate in FANOUT_RATES}
        for rate in FANOUT_RATES:
            for _ in range(REPETITIONS):
                started = time.monotonic()
                fanout[rate].append(
                    show(f"fan-out {rate:g}/s", started, await fanout_run(run, gateway, rate))
                )
        started = time.monotonic()
        result = await fanout_run(run, gateway, FANOUT_RATES[0], deflate=True)
        deflate = show("fan-out, deflate offered", started, result)
    return table(idle, fanout, deflate)


def show(what: str, started: float, result: dict[str, Any]) -> dict[str, Any]:
    shown = {k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()}
    print(f"{what}: {shown} ({time.monotonic() - started:.1f} s)", flush=True)
    return result


async def main_async(database: Database) -> str:
    run = Run(database, Redis.from_url(SHARED_REDIS))
    try:
        return await bench(run)
    finally:
        await run.remove_keys()
        await run.redis.aclose()


def main() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    load_before = os.getloadavg()[0]
    database = Database(name=f"codestory_bench_{uuid.uuid4().hex[:12]}").create()
    try:
        body = asyncio.run(main_async(database))
    finally:
        database.drop()
    load = f"{load_before:.1f} and {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    (ROOT / "BENCHMARKS.md").write_text(report(body, load))
    print(body)


if __name__ == "__main__":
    main()
