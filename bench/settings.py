"""The bench's sizes: full by default, short with `BENCH_QUICK=1`; `BENCH_ONLY=a,b` picks scenarios."""

from __future__ import annotations

import os
from dataclasses import dataclass

REPETITIONS = 5  # each figure is the median of this many runs (full mode)
HELD_REPETITIONS = 3  # 10,000 connects cost `serve` ~10 s each: fewer runs of `hold`
SCALE_REPETITIONS = 3  # `scale` starts 6 servers and a Redis Cluster per run (~35 s)
# A story is watched only by its owner, so one story's sockets (up to 2,020 in `idle`, 1,000 in
# `merge`, `storm` and `hold`) are one user's: the bench's servers let a user hold this many per
# process. The gateway's own default (MAX_CONNECTIONS_PER_USER) stays 100.
CONNECTIONS_PER_USER = 10_000
SCENARIOS = (
    "fanout",
    "sse",
    "merge",
    "idle",
    "connect",
    "users",
    "stalled",
    "storm",
    "hold",
    "scale",
    "dashboard",
)


@dataclass(frozen=True)
class Settings:
    quick: bool
    repetitions: int
    publish_seconds: float  # of publishing, per fan-out run
    idle_connections: int
    connects: int
    user_stages: tuple[int, int]  # `users`: the first stage, and the connections held at the end
    held_connections: int
    held_repetitions: int
    scale_repetitions: int
    dashboards: int  # of one user with 10,000 stories, connecting together after the first
    only: tuple[str, ...]

    @property
    def complete(self) -> bool:
        """A run that may rewrite BENCHMARKS.md: full sizes, every scenario."""
        return not self.quick and set(self.only) == set(SCENARIOS)


def settings_from_env() -> Settings:
    quick = os.environ.get("BENCH_QUICK", "") not in ("", "0")
    only = tuple(name.strip() for name in os.environ.get("BENCH_ONLY", "").split(",") if name.strip())
    unknown = set(only) - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"BENCH_ONLY: unknown scenario(s) {sorted(unknown)}; known: {','.join(SCENARIOS)}")
    return Settings(
        quick=quick,
        repetitions=1 if quick else REPETITIONS,
        publish_seconds=2.0 if quick else 5.0,
        idle_connections=2000,
        connects=1000,
        user_stages=(1000, 10_000),
        held_connections=3000 if quick else 10_000,
        held_repetitions=1 if quick else HELD_REPETITIONS,
        scale_repetitions=1 if quick else SCALE_REPETITIONS,
        dashboards=5 if quick else 20,
        only=only or SCENARIOS,
    )
