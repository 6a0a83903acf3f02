"""BENCHMARKS.md: how the figures were made, the table, and the hand-written notes.

A complete run rewrites the file; the notes between NOTES_START and NOTES_END are hand-written
(what each change did, including what did not help) and kept as they are.
"""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from pathlib import Path

NOTES_START = "<!-- notes: hand-written, kept by the bench -->"
NOTES_END = "<!-- end of notes -->"
DEFAULT_NOTES = """## What each change did

(Hand-written. The bench keeps this section as it is: record each change to the fan-out path, its
effect on the table above, and the changes that did not help.)
"""


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


def kept_notes(path: Path) -> str:
    """The hand-written notes of the current file, or a heading for them."""
    text = path.read_text() if path.exists() else ""
    if NOTES_START in text and NOTES_END in text:
        return text.split(NOTES_START, 1)[1].split(NOTES_END, 1)[0].strip("\n") + "\n"
    return DEFAULT_NOTES


def document(table: str, *, settings_line: str, load: str, minutes: float, notes: str) -> str:
    return f"""# Benchmarks

Written by `make bench` (`.venv/bin/python -m bench`), which took {minutes:.0f} minutes; {settings_line}.
One scenario alone: `BENCH_ONLY=merge make bench` (names: fanout, sse, merge, idle, connect,
stalled, storm, hold, scale, dashboard; comma-separated); a short run: `BENCH_QUICK=1 make bench`. Those
two print their table and write it to `artifacts/bench/latest.md`; only a complete run rewrites
this file.

Machine: {machine()}.
Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Load average (1 min) at the start and the end: {load}.

## Method

Every scenario runs against two servers in the same run, one after the other, alternating which
goes first: the real `serve`, and the **ASGI floor** (`bench/floor.py`): the thinnest raw ASGI app
on uvicorn that does the same work (per connect: accept, PyJWT HS256, one asyncpg ownership
query, one Redis GET of the snapshot; one `PSUBSCRIBE` forwarding each raw payload to a bounded
queue and a sender task per socket; permessage-deflate and the access log off). Figures of `serve`
are read as a ratio to the floor's, which holds across noisy machines better than absolute values.

- Both servers run as one subprocess each on loopback with the shared Redis, a database and a key
  prefix of the bench's own. Updates go through the project's publish script (SET + PUBLISH + seq).
- A story is watched only by its owner, so the sockets of one story (up to 2,020 in `idle`, 1,000
  in `merge`, `storm` and `hold`) are one user's: `serve` runs with `MAX_CONNECTIONS_PER_USER=10000`
  (`bench/settings.py`) instead of its default of 100, which would close all but 100 with 4029.
- Clients run in 2 processes of their own (`bench/clients.py`) on a raw asyncio WebSocket client
  (`bench/wsclient.py`) that reads only `updated_at` and the terminal status of each frame, so
  that they cost far less than the server. Clients retry a 1013 with backoff, except in storms.
- Server CPU is utime + stime from `/proc/<pid>/stat` of the server and its children. In fan-out
  scenarios it is counted from the first publish until every client holds the terminal update,
  and divided by the updates received after the snapshots. Merged = expected minus received.
- Latency is from an update's `updated_at` (set by the bench just before publishing) to its
  arrival at a client, over every client and update of a run (p99 and median of all of them).
- RSS per idle connection: `VmRSS` after the connections are held minus before, on a fresh server
  after a warm-up of 20 connections, divided by the connections.
- The stalled client completes its handshake, with a 4 KB receive buffer, and never reads again.

Scenarios (`BENCH_ONLY` names):
- `fanout`: 10 updates/s per story for the publishing time, in four shapes (10 stories x 100
  clients, 1 story x 1,000, 1,000 stories x 1, and 10 x 100 with clients offering
  permessage-deflate as browsers do); server CPU per 1,000 deliveries, and what was merged.
- `sse`: 10 stories x 100 clients at 10 updates/s, over WebSocket and then over Server-Sent Events
  (`/sse/stories/{id}/progress`, read by `bench/sseclient.py`) on the same server in the same
  run: server CPU per 1,000 deliveries of each, their ratio (target for `serve`: SSE within 1.2x
  of WebSocket), merged updates and p99 over SSE; then, on a fresh server after a warm-up of 20,
  RSS per idle stream (2,000 streams to one story). The floor's streams send each update as one
  ASGI body message through uvicorn.
- `merge`: 1 story x 1,000 clients at 40 updates/s: merged updates, p99 and median latency,
  server CPU, and the client processes' own CPU (the instrument must stay well below the server).
- `idle`: RSS per idle connection, 2,000 connections to one story.
- `connect`: a warm server (20 connects first), then 1,000 connects to 1,000 stories of 1,000
  users, 100 in flight; server CPU over the connects divided by 1,000.
- `stalled`: 200 clients of one story at 100 updates/s of ~2 KB, first alone, then with one more
  client that never reads; merged per normal client, p99, and p99 with / without.
- `storm`: 1,000 clients connect at once (no gate, no retry) to 1 story, then to 100 stories,
  each on a server just started (answering /healthz, its pools still cold, as after a restart);
  seconds until all hold their snapshot, clients that got 1013 or failed, WARNING lines logged.
- `hold`: 10,000 connections (10 stories) on one server process, 1013 retried; failures and RSS.
- `scale` (`serve` only: the floor has no workers and no cluster mode; 3 runs, 1 in quick mode):
  10 stories x 200 clients published to at 400 updates/s per story (800,000 deliveries/s asked)
  on `serve` and on `serve --workers 2`: deliveries/s counted at the clients over the publishing
  time after a 1 s warm-up, server CPU (summed over the workers) per 1,000 deliveries, and the
  cores busy in the server, in the client processes and in the whole machine (`/proc/stat`): on
  2 cores the server shares the machine with its clients, the publisher and Redis.
  Then two `serve` processes, each with the clients of a disjoint half of 20 stories, 20 updates
  to each story: `gateway_broker_messages_total` of each process, in standalone mode (pattern
  subscription) and in cluster mode (a private Redis Cluster of 3 masters, started and removed
  by the scenario, published to with `ClusterProgressPublisher`).
- `dashboard` (`serve` only: the floor has no dashboard endpoint): one user with 10,000 stories,
  each with a snapshot; one dashboard connects, then 20 more at once (5 in quick mode); seconds
  until each holds all 10,000 snapshots, server CPU and RSS growth per connect, and the statements
  PostgreSQL ran on `stories` (its scans in `pg_stat_user_tables`, read after ending the server's
  connections so that their counters are reported).
- Each figure is the median of the runs listed (serve; floor). The machine is shared: expect
  run-to-run differences of tens of percent in absolute values.

## Results

{table}

{NOTES_START}
{notes}{NOTES_END}
"""
