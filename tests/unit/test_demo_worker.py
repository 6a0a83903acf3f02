"""The demo's simulated worker reports through the worker SDK onto the in-memory broker: the
featured story completes, new stories keep coming, and every third one fails."""

from __future__ import annotations

import uuid

from adapters.json_codec import JsonCodec
from adapters.memory import MemoryBroker, MemoryStoryDirectory
from codestory_progress_worker.aio import ProgressReporter
from domain.progress import StoryStatus
from entrypoints.demo import SCRIPT, BrokerBackend, DemoWorker
from testkit.waiting import wait_for_condition


async def test_the_demo_worker_walks_its_stories_to_their_ends() -> None:
    broker, directory = MemoryBroker(), MemoryStoryDirectory()
    user, featured = uuid.uuid4(), uuid.uuid4()
    worker = DemoWorker(
        ProgressReporter(BrokerBackend(broker, JsonCodec())), directory, user, featured, 0.005
    )

    def ended(status: StoryStatus) -> set[uuid.UUID]:
        return {u.story_id for u in broker.published if u.status is status}

    async with worker.running():

        async def walked() -> bool:
            return featured in ended(StoryStatus.COMPLETE) and bool(ended(StoryStatus.FAILED))

        await wait_for_condition(walked, 10, "the featured story to complete and another to fail")

    featured_steps = [
        (u.status.value, u.progress_percent, u.current_step)
        for u in broker.published
        if u.story_id == featured
    ]
    assert featured_steps == SCRIPT
    assert [u.seq for u in broker.published if u.story_id == featured] == list(range(1, len(SCRIPT) + 1))
    assert set(directory.owners.values()) == {user}
    assert {u.story_id for u in broker.published} <= set(directory.owners)
    failed = next(u for u in broker.published if u.status is StoryStatus.FAILED)
    assert (failed.progress_percent, failed.current_step) == (70, "The narrator lost their voice")
