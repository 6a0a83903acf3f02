"""The demo's simulated worker reports through the worker SDK onto the in-memory broker: the
featured story completes, new stories keep coming, every third one fails, some go quiet (no update,
no heartbeat) and resume or hang, and each honours a cancel as a real worker does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from adapters.json_codec import JsonCodec
from adapters.memory import MemoryBroker, MemoryStoryDirectory, MemoryWorkerSignals
from codestory_progress_worker.aio import CANCELLED_STEP, ProgressReporter
from domain.progress import StoryStatus
from domain.values import CancelRequest
from entrypoints.demo import SCRIPT, BrokerBackend, DemoWorker, Quiet, quiet_for
from testkit.waiting import wait_for_condition


class Rig:
    def __init__(self, quiet_seconds: float = 0.2) -> None:
        self.broker, self.directory, self.signals = (
            MemoryBroker(),
            MemoryStoryDirectory(),
            MemoryWorkerSignals(),
        )
        self.user, self.featured = uuid.uuid4(), uuid.uuid4()
        self.backend = BrokerBackend(self.broker, JsonCodec(), self.signals)
        reporter = ProgressReporter(self.backend, heartbeat_seconds=0.01)
        self.worker = DemoWorker(
            reporter,
            self.backend,
            self.signals,
            self.directory,
            user_id=self.user,
            featured=self.featured,
            step_seconds=0.005,
            quiet_seconds=quiet_seconds,
        )

    def ended(self, status: StoryStatus) -> set[uuid.UUID]:
        return {u.story_id for u in self.broker.published if u.status is status}

    def steps(self, story: uuid.UUID) -> list[tuple[str, int, str]]:
        return [
            (u.status.value, u.progress_percent, u.current_step)
            for u in self.broker.published
            if u.story_id == story
        ]


@contextmanager
def noted_quiet(rig: Rig) -> Iterator[set[uuid.UUID]]:
    """The stories whose heartbeats the backend withheld at some point."""
    seen: set[uuid.UUID] = set()
    withheld = rig.backend.withheld

    class Noting(set[uuid.UUID]):
        def add(self, story: uuid.UUID) -> None:
            seen.add(story)
            super().add(story)

    rig.backend.withheld = Noting(withheld)
    yield seen


def test_every_fourth_story_pauses_and_every_eighth_hangs() -> None:
    kinds = [quiet_for(n) for n in range(1, 17)]

    assert [n for n, k in enumerate(kinds, 1) if k is Quiet.RESUMES] == [2, 10]
    assert [n for n, k in enumerate(kinds, 1) if k is Quiet.FOREVER] == [6, 14]


async def test_the_demo_worker_walks_its_stories_to_their_ends() -> None:
    rig = Rig()

    async with rig.worker.running():

        async def walked() -> bool:
            return rig.featured in rig.ended(StoryStatus.COMPLETE) and bool(rig.ended(StoryStatus.FAILED))

        await wait_for_condition(walked, 10, "the featured story to complete and another to fail")

    assert rig.steps(rig.featured) == SCRIPT
    assert [u.seq for u in rig.broker.published if u.story_id == rig.featured] == list(
        range(1, len(SCRIPT) + 1)
    )
    assert set(rig.directory.owners.values()) == {rig.user}
    assert {u.story_id for u in rig.broker.published} <= set(rig.directory.owners)
    failed = next(u for u in rig.broker.published if u.status is StoryStatus.FAILED)
    assert (failed.progress_percent, failed.current_step) == (70, "The narrator lost their voice")


async def test_a_quiet_story_beats_no_more_then_resumes_and_a_hung_one_ends_on_cancel() -> None:
    rig = Rig(quiet_seconds=0.3)

    with noted_quiet(rig) as quiet:
        async with rig.worker.running():

            async def six_stories_quiet() -> bool:
                return len(rig.directory.owners) >= 7 and len(quiet) >= 2

            await wait_for_condition(six_stories_quiet, 10, "the second and the sixth story to go quiet")
            order = list(rig.directory.owners)
            resumes, hangs = order[2], order[6]  # after the featured one: stories 2 and 6
            assert quiet == {resumes, hangs}
            last_beat = rig.signals.alive.get(hangs)

            async def resumed() -> bool:
                return resumes in rig.ended(StoryStatus.COMPLETE) and hangs in rig.backend.withheld

            await wait_for_condition(resumed, 10, "the pausing story to complete, the hung one still quiet")
            assert rig.steps(hangs)[-1] == ("generating", 35, "Writing chapter 1")
            assert rig.signals.alive.get(hangs) == last_beat  # no heartbeat while quiet (every 10 ms else)

            await rig.signals.cancel(CancelRequest(hangs, rig.user, datetime.now(UTC)))

            async def cancelled() -> bool:
                return hangs in rig.ended(StoryStatus.FAILED)

            await wait_for_condition(cancelled, 10, "the hung story to end on its cancel")

    assert rig.steps(hangs)[-1] == ("failed", 45, CANCELLED_STEP)
    assert rig.steps(resumes) == SCRIPT
    assert hangs not in rig.signals.alive  # its liveness expired with its block
