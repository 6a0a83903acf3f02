"""The bench's table: each figure of `serve` beside the ASGI floor's, as a ratio, with every run.

BENCHMARKS.md is rewritten by a complete run; the notes between NOTES_START and NOTES_END are
hand-written (what each change did) and kept as they are.
"""

from __future__ import annotations

import collections
import os
import platform
import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

NOTES_START = "<!-- notes: hand-written, kept by the bench -->"
NOTES_END = "<!-- end of notes -->"
DEFAULT_NOTES = """## What each change did

(Hand-written. The bench keeps this section as it is: record each change to the fan-out path, its
effect on the table above, and the changes that did not help.)
"""
FORMATS = {"ms": "{:.2f}", "KiB": "{:.1f}", "MB": "{:.1f}", "s": "{:.2f}", "x": "{:.2f}", "count": "{:,.0f}"}

Value = float | str


@dataclass
class Results:
    """Every run's value of every figure, by figure and server kind, in the order first seen."""

    runs: dict[str, dict[str, list[Value]]] = field(default_factory=dict)

    def add(self, kind: str, figures: dict[str, Value]) -> None:
        for key, value in figures.items():
            self.runs.setdefault(key, {}).setdefault(kind, []).append(value)

    def table(self) -> str:
        lines = [
            "| figure | serve | floor | ratio (serve/floor) | runs (serve; floor) |",
            "|---|---|---|---|---|",
        ]
        for key, by_kind in self.runs.items():
            what, unit = split(key)
            serve, floor = middle(by_kind.get("serve", [])), middle(by_kind.get("floor", []))
            each = "; ".join(
                " / ".join(show(v, unit, bare=True) for v in by_kind.get(kind, [])) or "-"
                for kind in ("serve", "floor")
            )
            lines.append(
                f"| {what} | {show(serve, unit)} | {show(floor, unit)} | {ratio(serve, floor)} | {each} |"
            )
        return "\n".join(lines)


def split(key: str) -> tuple[str, str]:
    """`"what [unit]"` into its parts."""
    what, _, unit = key.rpartition(" [")
    return (what, unit.rstrip("]")) if what else (key, "")


def middle(values: list[Value]) -> Value | None:
    """The median of numbers; the most frequent of texts."""
    if not values:
        return None
    if all(isinstance(v, int | float) for v in values):
        return float(statistics.median(float(v) for v in values))
    return collections.Counter(str(v) for v in values).most_common(1)[0][0]


def show(value: Value | None, unit: str, *, bare: bool = False) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    text = FORMATS.get(unit, "{:.3g}").format(value)
    return text if bare or unit in ("count", "text", "") else f"{text} {unit}"


def ratio(serve: Value | None, floor: Value | None) -> str:
    if not isinstance(serve, float) or not isinstance(floor, float):
        return "-"
    if floor == 0:
        return "= floor" if serve == 0 else "floor is 0"
    return f"{serve / floor:.2f}x"


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
One scenario alone: `BENCH_ONLY=merge make bench` (names: fanout, merge, idle, connect, stalled,
storm, hold; comma-separated); a short run: `BENCH_QUICK=1 make bench`. Those two print their
table and write it to `artifacts/bench/latest.md`; only a complete run rewrites this file.

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
- Each figure is the median of the runs listed (serve; floor). The machine is shared: expect
  run-to-run differences of tens of percent in absolute values.

## Results

{table}

{NOTES_START}
{notes}{NOTES_END}
"""
