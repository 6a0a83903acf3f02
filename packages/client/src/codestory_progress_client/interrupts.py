"""Ctrl-C while `watch` follows a story: once stops watching, twice cancels the story.

A user who presses Ctrl-C on a watcher expects the watcher to stop, not the story: so the first
press only announces that a second one within `CANCEL_WINDOW_SECONDS` cancels, and watching ends
when the window passes. A second press in the window sends `cancel` and keeps watching until the
story's final state (`failed`, with the worker's cancelled step); a third quits at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Iterator

from codestory_progress_client.cancel import CancelResult

CANCEL_WINDOW_SECONDS = 3.0


class Interrupts:
    """Counts Ctrl-C presses of one story's watch; `quit` is set when watching should end."""

    def __init__(
        self,
        cancel: Callable[[], Awaitable[CancelResult]],
        say: Callable[[str], None],
        window: float = CANCEL_WINDOW_SECONDS,
    ) -> None:
        self._cancel = cancel
        self._say = say
        self._window = window
        self._presses = 0
        self._timer: asyncio.TimerHandle | None = None
        self._request: asyncio.Task[None] | None = None
        self.quit = asyncio.Event()  # built in the running loop (the watch's)

    def pressed(self) -> None:
        self._presses += 1
        if self._presses == 1:
            self._say(
                f"press Ctrl-C again within {self._window:g} s to cancel the story; otherwise watching stops"
            )
            self._timer = asyncio.get_running_loop().call_later(self._window, self.quit.set)
        elif self._presses == 2 and self._timer is not None and not self.quit.is_set():
            self._timer.cancel()
            self._request = asyncio.create_task(self._ask(), name="watch-cancel")
        else:
            self.quit.set()

    async def _ask(self) -> None:
        result = await self._cancel()
        if result.ok:
            self._say("cancel requested; watching until the story ends (Ctrl-C quits)")
            return
        reason = result.reason.value if result.reason else "unknown"
        self._say(f"cancel refused: {reason}")
        self.quit.set()

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """SIGINT calls `pressed` while inside (where the loop can take signal handlers)."""
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGINT, self.pressed)
        except (NotImplementedError, RuntimeError):  # no signal handlers here: Ctrl-C just quits
            yield
            return
        try:
            yield
        finally:
            loop.remove_signal_handler(signal.SIGINT)
            if self._timer is not None:
                self._timer.cancel()
