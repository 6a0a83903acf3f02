"""Where a worker of `serve --workers N` stands among its siblings: its slot, their sockets, the board.

The supervisor makes both before it forks: a private directory (mode 0700) for one Unix socket per
slot, on which each worker answers its siblings' metrics scrapes, and the load board, a shared
memory mapping in which each worker keeps its connection count and reads what it is asked to shed.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass
from pathlib import Path

NOT_SERVING = -1
_CELL = 8  # one signed 64-bit integer; aligned, so a read never sees half a write


class LoadBoard:
    """Per worker slot, two cells of an anonymous shared mapping (forked children share its pages):
    the connections its worker holds (`NOT_SERVING` from the fork until the worker first reports,
    and again once it exited), and how many of them it is asked to close. Each cell has one writer
    at a time: the supervisor while no worker runs in the slot, that worker while it does; orders
    are written by the supervisor and taken (read, then zeroed) by the worker."""

    def __init__(self, count: int) -> None:
        self.count = count
        self._memory = mmap.mmap(-1, 2 * _CELL * count)
        self._cells = memoryview(self._memory).cast("q")
        for slot in range(count):
            self.vacate(slot)

    def vacate(self, slot: int) -> None:
        """No worker serves in `slot` (supervisor: before a fork, after an exit)."""
        self._cells[slot] = NOT_SERVING
        self._cells[self.count + slot] = 0

    def report(self, slot: int, connections: int) -> None:
        """The worker of `slot` holds `connections` now."""
        self._cells[slot] = connections

    def connections(self) -> list[int]:
        """Every slot's last report, `NOT_SERVING` where no worker serves."""
        return list(self._cells[: self.count])

    def order(self, slot: int, shed: int) -> None:
        """Ask the worker of `slot` to close `shed` of its connections."""
        self._cells[self.count + slot] = shed

    def take_order(self, slot: int) -> int:
        """What the worker of `slot` was asked to shed since it last looked (0: nothing)."""
        shed = self._cells[self.count + slot]
        if shed:
            self._cells[self.count + slot] = 0
        return int(shed)


@dataclass(frozen=True, slots=True)
class WorkerPlace:
    slot: int
    board: LoadBoard
    directory: Path

    def socket_of(self, slot: int) -> Path:
        """The Unix socket on which the worker of `slot` answers its siblings."""
        return self.directory / f"worker-{slot}.sock"

    def sibling_sockets(self) -> dict[int, Path]:
        return {slot: self.socket_of(slot) for slot in range(self.board.count) if slot != self.slot}
