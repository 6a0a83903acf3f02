"""One client process of the bench: it opens the connections listed in a JSON file and reports on them.

The bench runs its clients in processes of their own, on uvloop, so that they do not starve the
server on a small machine. Protocol, JSON lines on stdout: `{"started"}` once imported; after `go` on stdin it
connects, then prints `ready` (outcomes, seconds until the last snapshot); in `fanout` mode it then
waits for every connection's terminal update and prints `received` and the latencies; in `count`
mode it prints `received` so far for each line on stdin (a fixed window is the difference of two).
It closes its connections and exits when its stdin closes.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import random
import resource
import sys
import time
from pathlib import Path

import uvloop

from bench.sseclient import SseProbe, open_stream_probe
from bench.wsclient import Outcome, Probe, open_probe

RETRIES = 8


def emit(record: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


async def open_any(url: str, args: argparse.Namespace) -> Probe | SseProbe:
    """A WebSocket, or a Server-Sent Events stream for an `/sse/` URL."""
    if "/sse/" in url:
        return await open_stream_probe(url, stall=args.stall, expect=args.expect)
    return await open_probe(url, deflate=args.deflate, stall=args.stall, expect=args.expect)


async def connect(
    url: str, args: argparse.Namespace, gate: asyncio.Semaphore, retried: list[int]
) -> tuple[Probe | SseProbe | None, str]:
    """One connection held with its snapshot, or why not; with `--retry`, a 1013 is retried with
    backoff and jitter as the contract asks (each retry is counted by the caller's outcomes)."""
    outcome = "lost"
    for attempt in range(RETRIES if args.retry else 1):
        async with gate:
            try:
                probe = await open_any(url, args)
                result: Outcome = await asyncio.wait_for(probe.opened, args.deadline)
            except (OSError, TimeoutError) as exc:
                outcome = type(exc).__name__
                continue
        if result.status == "ok":
            return probe, "ok"
        outcome = result.status
        if outcome != "1013":
            break
        retried.append(1)
        await asyncio.sleep(0.1 * 2**attempt * (0.5 + random.random()))
    return None, outcome


async def run(args: argparse.Namespace, urls: list[str]) -> None:
    emit({"started": len(urls)})
    await asyncio.to_thread(sys.stdin.readline)  # go
    gate, started, retried = asyncio.Semaphore(args.concurrency), time.monotonic(), []
    results = await asyncio.gather(*(connect(url, args, gate, retried) for url in urls))
    probes = [probe for probe, _ in results if probe is not None]
    outcomes = collections.Counter(outcome for _, outcome in results)
    emit(
        {
            "ready": len(probes),
            "seconds": time.monotonic() - started,
            "outcomes": dict(outcomes),
            "retried_1013": len(retried),
            "extensions": probes[0].extensions if probes else "",
        }
    )
    try:
        if args.mode == "fanout":
            await asyncio.wait([asyncio.ensure_future(p.done) for p in probes], timeout=args.deadline)
            latencies = [round(value * 1000, 2) for p in probes for value in p.latencies]
            unfinished = sum(1 for p in probes if not p.done.done())
            emit({"received": sum(p.received for p in probes), "unfinished": unfinished, "ms": latencies})
        if args.mode == "count":
            while await asyncio.to_thread(sys.stdin.readline):
                emit({"received": sum(p.received for p in probes)})
                for probe in probes:
                    probe.latencies.clear()  # unused in this mode: keep memory flat
        await asyncio.to_thread(sys.stdin.read)
    finally:
        for probe in probes:
            probe.close()
        await asyncio.sleep(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["hold", "fanout", "count"])
    parser.add_argument("plan", help="a JSON file: the list of URLs, one per connection")
    parser.add_argument("--deflate", action="store_true", help="offer permessage-deflate")
    parser.add_argument("--stall", action="store_true", help="stop reading after the handshake")
    parser.add_argument("--retry", action="store_true", help="retry a 1013 with backoff")
    parser.add_argument("--concurrency", type=int, default=100, help="connects in flight at once")
    parser.add_argument("--deadline", type=float, default=120.0)
    parser.add_argument("--expect", type=int, default=1, help="messages that make the snapshot")
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    uvloop.run(run(args, json.loads(Path(args.plan).read_text())))


if __name__ == "__main__":
    main()
