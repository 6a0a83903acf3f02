"""Client processes (`bench.clients`) holding a crowd of connections, spread over several processes."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testkit.processes import ROOT, cpu_seconds

CLIENT_PROCESSES = 2


@dataclass
class Crowd:
    processes: list[asyncio.subprocess.Process]
    ready: list[dict[str, Any]] = field(default_factory=list)

    async def go(self, seconds: float = 120) -> dict[str, Any]:
        """Every process connects at once; returns the merged `ready` records."""
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.write(b"go\n")
        await asyncio.gather(*(process.stdin.drain() for process in self.processes if process.stdin))
        self.ready = [await read_record(process, seconds) for process in self.processes]
        outcomes: dict[str, int] = {}
        for record in self.ready:
            for outcome, count in record["outcomes"].items():
                outcomes[outcome] = outcomes.get(outcome, 0) + count
        return {
            "connected": sum(r["ready"] for r in self.ready),
            "seconds": max(r["seconds"] for r in self.ready),
            "outcomes": outcomes,
            "retried_1013": sum(r["retried_1013"] for r in self.ready),
            "extensions": self.ready[0]["extensions"],
        }

    def cpu(self) -> float:
        """CPU seconds of the client processes so far: the instrument's own cost."""
        return sum(cpu_seconds(process.pid) for process in self.processes)

    async def received(self, seconds: float = 30) -> int:
        """Updates received so far by every connection (`count` mode)."""
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.write(b"count\n")
        await asyncio.gather(*(process.stdin.drain() for process in self.processes if process.stdin))
        records = [await read_record(process, seconds) for process in self.processes]
        return sum(int(r["received"]) for r in records)

    async def results(self, seconds: float = 120) -> tuple[int, list[float]]:
        """Updates received after the snapshot, and each one's latency in ms (fan-out mode)."""
        records = [await read_record(process, seconds) for process in self.processes]
        return sum(r["received"] for r in records), [ms for r in records for ms in r["ms"]]


@asynccontextmanager
async def crowd(
    mode: str, urls: list[str], *options: str, processes: int = CLIENT_PROCESSES
) -> AsyncIterator[Crowd]:
    """Client processes sharing `urls` (one connection each), started and waiting for `go`."""
    shares = [urls[index::processes] for index in range(processes)]
    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        started: list[asyncio.subprocess.Process] = []
        try:
            for index, share in enumerate(s for s in shares if s):
                plan = Path(folder) / f"plan-{index}.json"
                plan.write_text(json.dumps(share))
                started.append(
                    await asyncio.create_subprocess_exec(
                        sys.executable, "-m", "bench.clients", mode, str(plan), *options,
                        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=ROOT,
                        limit=2**28,
                    )
                )  # fmt: skip
            for process in started:
                await read_record(process, 30)
            yield Crowd(started)
        finally:
            await stop_all(started)


async def stop_all(processes: list[asyncio.subprocess.Process]) -> None:
    for process in processes:
        if process.stdin is not None and not process.stdin.is_closing():
            process.stdin.close()
    for process in processes:
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
