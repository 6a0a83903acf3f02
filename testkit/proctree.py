"""CPU and memory of a server and its child processes (a `serve --workers N` forks workers)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from testkit.processes import cpu_seconds, rss_bytes


def descendants(pid: int) -> list[int]:
    """Every live process below `pid`, from /proc/<pid>/task/*/children."""
    found: list[int] = []
    pending = [pid]
    while pending:
        parent = pending.pop()
        for task in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                children = [int(child) for child in task.read_text().split()]
            except OSError:
                continue
            found.extend(children)
            pending.extend(children)
    return found


def tree_cpu_seconds(pid: int) -> float:
    """User plus system CPU of `pid` and its live descendants."""
    return sum(_or_zero(cpu_seconds, each) for each in [pid, *descendants(pid)])


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of `pid` and its live descendants (shared pages counted in each)."""
    return int(sum(_or_zero(rss_bytes, each) for each in [pid, *descendants(pid)]))


def _or_zero(measure: Callable[[int], float], pid: int) -> float:
    """A process that exited between listing and reading counts as zero."""
    try:
        return float(measure(pid))
    except (OSError, RuntimeError):
        return 0.0
