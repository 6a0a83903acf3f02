"""`make bench`: every scenario against `serve` and the ASGI floor in the same run, figures as ratios.

Bounded and self-cleaning: its own database and key prefix, servers and client processes stopped,
keys removed and the database dropped, whatever happens. Runs of `serve` and the floor alternate
so that they share the machine's noise.
"""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable

import pytest
from redis.asyncio import Redis

from bench import connects, dashboards, fanout, scale, sse
from bench.document import document, kept_notes
from bench.report import Results
from bench.servers import KINDS
from bench.settings import Settings, settings_from_env
from bench.world import World
from testkit.postgres import Database
from testkit.processes import ROOT
from testkit.redis import SHARED_REDIS

Scenario = Callable[[World, str, Settings], Awaitable[dict[str, float | str]]]
SCENARIOS: dict[str, Scenario] = {
    "fanout": fanout.fanout,
    "sse": sse.sse,
    "merge": fanout.merge,
    "idle": connects.idle,
    "connect": connects.connect,
    "users": connects.users,
    "stalled": fanout.stalled,
    "storm": connects.storm,
    "hold": connects.hold,
    "scale": scale.scale,
    "dashboard": dashboards.dashboard,
}
SERVE_ONLY = {"scale", "dashboard"}  # the floor has no workers, no cluster mode, no dashboards


async def bench(world: World, settings: Settings) -> Results:
    results = Results()
    for rep in range(settings.repetitions):
        for index, name in enumerate(n for n in SCENARIOS if n in settings.only):
            if name == "hold" and rep >= settings.held_repetitions:
                continue
            if name == "scale" and rep >= settings.scale_repetitions:
                continue
            kinds: tuple[str, ...] = KINDS if (rep + index) % 2 == 0 else KINDS[::-1]
            if name in SERVE_ONLY:
                kinds = ("serve",)
            for kind in kinds:
                started = time.monotonic()
                try:
                    figures = await SCENARIOS[name](world, kind, settings)
                except (Exception, pytest.fail.Exception):  # noqa: BLE001 (reported; the bench goes on)
                    print(f"{name} on {kind}, run {rep + 1}: FAILED\n{traceback.format_exc()}", flush=True)
                    continue
                results.add(kind, figures)
                shown = {k: round(v, 2) if isinstance(v, float) else v for k, v in figures.items()}
                print(
                    f"{name} on {kind}, run {rep + 1} ({time.monotonic() - started:.0f} s): {shown}",
                    flush=True,
                )
    return results


async def run_all(database: Database, settings: Settings) -> Results:
    world = World(database, Redis.from_url(SHARED_REDIS))
    try:
        return await bench(world, settings)
    finally:
        await world.remove_keys()
        await world.redis.aclose()


def main() -> None:
    settings = settings_from_env()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a stopped bench still cleans up
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by servers and clients
    load_before, started = os.getloadavg()[0], time.monotonic()
    database = Database(name=f"codestory_bench_{uuid.uuid4().hex[:12]}").create()
    try:
        results = asyncio.run(run_all(database, settings))
    finally:
        database.drop()
    load = f"{load_before:.1f} and {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    mode = "quick" if settings.quick else "full"
    settings_line = (
        f"{mode} mode, {settings.repetitions} run(s) per figure ({settings.held_repetitions} of `hold`, "
        f"{settings.scale_repetitions} of `scale`), "
        f"scenarios {','.join(settings.only)}"
    )
    target = ROOT / "BENCHMARKS.md"
    text = document(
        results.table(),
        settings_line=settings_line,
        load=load,
        minutes=(time.monotonic() - started) / 60,
        notes=kept_notes(target),
    )
    if not settings.complete:
        target = ROOT / "artifacts" / "bench" / "latest.md"
        target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    print(results.table())
    print(f"written to {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
