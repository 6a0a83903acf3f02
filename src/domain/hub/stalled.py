"""Stalled stories: the gateway's judgement that a watched story's worker went quiet.

Every `interval` one check looks at what this process's watchers hold (story sockets, and the
stories dashboards hold): a story whose latest state is not terminal, and of which neither an
update nor a liveness refresh (its liveness key's value changed, or the key appeared) was seen
for `after` seconds, is stalled. Its watchers then get the state again, same `seq`, with
`"stalled": true`; a liveness refresh clears it (the state again, without the flag); a new update
clears it by itself. The liveness keys of every candidate are read in one round trip per check
(`WorkerSignals.liveness`), and nothing runs on the delivery path: an update is noticed at the
next check, as the state the watchers hold having changed (so the flag comes between `after` and
`after + interval` after the last news). Never marks a story failed.

Bound: at most `limit` (100,000) stories are judged and remembered; past that the rest wait (and
are judged once some leave). Entries of stories no longer watched, or ended, are dropped at each check.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from uuid import UUID

from domain.connection.outbox import Outbox
from domain.errors import FeedUnavailable
from domain.hub.snapshots import LatestFrames
from domain.hub.subscribers import Subscribers
from domain.ports import WorkerSignals
from domain.progress import ProgressUpdate

logger = logging.getLogger(__name__)

STALLED_TRACKED = 100_000
MAX_INTERVAL = 5.0


def check_interval(after: float) -> float:
    """How often stalls are checked: a quarter of the threshold, at most every 5 s."""
    return min(MAX_INTERVAL, after / 4)


@dataclass(frozen=True, slots=True)
class StallRules:
    """When a story counts as stalled (`after` seconds without news), how many are judged, and the
    clocks: `clock` for the time news was seen, `wall` to age what a worker stamped."""

    after: float = 120.0
    limit: int = STALLED_TRACKED
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time


@dataclass(slots=True)
class _Held:
    """A story's latest state as this process's watchers hold it, and who holds it."""

    update: ProgressUpdate
    stories: list[Outbox] = field(default_factory=list)
    dashboards: list[Outbox] = field(default_factory=list)


@dataclass(slots=True)
class _Judged:
    update: ProgressUpdate  # the state last judged (its `stalled` flag aside)
    heard_at: float  # the clock's time of the last news: an update or a liveness refresh
    alive: int | None  # the liveness value last read
    stalled: bool = False


class StalledStories:
    def __init__(
        self,
        subscribers: Subscribers,
        frames: LatestFrames,
        signals: WorkerSignals,
        rules: StallRules,
    ) -> None:
        self._subscribers = subscribers
        self._frames = frames
        self._signals = signals
        self._after = rules.after
        self._clock = rules.clock
        self._wall = rules.wall
        self._limit = rules.limit
        self._judged: dict[UUID, _Judged] = {}

    def __len__(self) -> int:
        return len(self._judged)

    async def run_forever(self) -> None:
        """A check that fails for a reason of its own (a bug) is logged, and the next one comes."""
        while True:
            await asyncio.sleep(check_interval(self._after))
            try:
                await self.check()
            except Exception:
                logger.exception("stalled check failed")

    def mark(self, update: ProgressUpdate) -> ProgressUpdate:
        """A snapshot as watchers must see it: flagged if that very state is judged stalled."""
        judged = self._judged.get(update.story_id)
        if judged is not None and judged.stalled and _same_state(update, judged.update):
            return replace(update, stalled=True)
        return update

    async def check(self) -> None:
        """One pass: one liveness read for every candidate, then the flags that changed sent."""
        held = self._held()
        for story_id in [s for s in self._judged if s not in held]:
            del self._judged[story_id]
        candidates = list(held)[: self._limit]
        if not candidates:
            return
        try:
            values = await self._signals.liveness(candidates)
        except FeedUnavailable as exc:
            logger.warning("liveness unreadable, stalls judged at the next check: %s", exc)
            return
        now = self._clock()
        for story_id, value in zip(candidates, values, strict=True):
            if (state := held.get(story_id)) is not None:
                self._judge(story_id, state, value, now)

    def _judge(self, story_id: UUID, held: _Held, value: int | None, now: float) -> None:
        judged = self._judged.get(story_id)
        if judged is None:
            judged = self._judged[story_id] = self._first_sight(held.update, value, now)
        else:
            if not _same_state(held.update, judged.update):  # an update came since the last check
                judged.update, judged.heard_at, judged.stalled = held.update, now, held.update.stalled
            if value is not None and value != judged.alive:
                judged.heard_at = now
            judged.alive = value
        stalled = now - judged.heard_at >= self._after
        if stalled is not judged.stalled:
            judged.stalled = stalled
            self._repeat(held, replace(judged.update, stalled=stalled))

    def _first_sight(self, update: ProgressUpdate, value: int | None, now: float) -> _Judged:
        """The news last seen, as old as the state's `updated_at` or the liveness value say."""
        age = self._wall() - update.updated_at.timestamp()
        if value is not None:
            age = min(age, self._wall() - value / 1000)
        return _Judged(update, now - min(max(age, 0.0), self._after), value, update.stalled)

    def _repeat(self, held: _Held, update: ProgressUpdate) -> None:
        frame = self._frames.encode(update)
        logger.info("story %s %s", update.story_id, "stalled" if update.stalled else "alive again")
        if held.stories:
            self._subscribers.deliver(held.stories, frame, "story")
        if held.dashboards:
            self._subscribers.deliver(held.dashboards, frame, "dashboard")

    def _held(self) -> dict[UUID, _Held]:
        """Every non-terminal story held here, with its newest state and its holders."""
        held: dict[UUID, _Held] = {}
        for index, dashboards in ((self._subscribers.by_story, False), (self._subscribers.by_user, True)):
            for group in index.values():
                for outbox in group:
                    for frame in outbox.held_frames():
                        update = frame.update
                        state = held.get(update.story_id)
                        if state is None:
                            state = held[update.story_id] = _Held(update)
                        elif update.is_newer_than(state.update):
                            state.update = update
                        (state.dashboards if dashboards else state.stories).append(outbox)
        return {s: h for s, h in held.items() if not h.update.status.terminal}


def _same_state(update: ProgressUpdate, judged: ProgressUpdate) -> bool:
    """The same state of the story, whatever its `stalled` flag."""
    return (
        update.seq == judged.seq
        and update.updated_at == judged.updated_at
        and (update.status is judged.status and update.progress_percent == judged.progress_percent)
    )
