"""A cancel in the worker SDK, sync and asyncio, on in-memory backends: seen by a publish's reply or
by a heartbeat, it shows as `story.cancel_requested`; the next `update()` raises `StoryCancelled`
and publishes nothing; the block publishes `failed` "Cancelled by the user" at the last percent and
does not re-raise; a story already ended is left as it is."""

from __future__ import annotations

import uuid

import pytest

from codestory_progress_worker import CANCELLED_STEP, ProgressReporter, StoryCancelled
from codestory_progress_worker import aio as worker_aio
from codestory_progress_worker.scripts import (
    CLUSTER_PUBLISH_SCRIPT,
    PUBLISH_SCRIPT,
    SDK_CLUSTER_PUBLISH_SCRIPT,
    SDK_PUBLISH_SCRIPT,
)
from testkit.waiting import wait_for_condition, wait_until
from testkit.worker_backends import AsyncBeatingBackend, BeatingBackend

STORY = uuid.UUID("6f1c2c4e-1d2b-4a3f-9c5e-0a1b2c3d4e5f")
INTERVAL = 0.02


def test_a_cancel_seen_by_a_publish_ends_the_story_failed_at_the_next_update() -> None:
    backend, after = BeatingBackend(), []
    with ProgressReporter(backend, heartbeat_seconds=None).story(STORY) as story:
        story.update("analyzing", 5, "Cloning the repository")
        backend.cancelled.add(STORY)
        story.update("generating", 40, "Writing chapter 1")  # published; its reply tells of the cancel
        assert story.cancel_requested
        story.update("generating", 55, "Writing chapter 2")
        after.append("not reached")

    assert after == []
    assert backend.steps() == [
        ("analyzing", 5, "Cloning the repository"),
        ("generating", 40, "Writing chapter 1"),
        ("failed", 40, CANCELLED_STEP),
    ]
    assert CANCELLED_STEP == "Cancelled by the user"


def test_a_cancel_seen_by_a_heartbeat_surfaces_without_any_publish() -> None:
    backend = BeatingBackend()
    with ProgressReporter(backend, heartbeat_seconds=INTERVAL).story(STORY) as story:
        story.update("analyzing", 5, "Cloning the repository")
        backend.cancelled.add(STORY)
        wait_until(lambda: story.cancel_requested, 5, "the heartbeat to see the cancel")
        with pytest.raises(StoryCancelled) as raised:
            story.raise_if_cancelled()
        assert raised.value.story_id == STORY
        story.update("generating", 40, "Writing chapter 1")

    assert backend.steps() == [("analyzing", 5, "Cloning the repository"), ("failed", 5, CANCELLED_STEP)]


def test_a_block_that_stops_by_itself_after_a_cancel_still_ends_it_failed() -> None:
    backend = BeatingBackend()
    backend.cancelled.add(STORY)
    with ProgressReporter(backend, heartbeat_seconds=None).story(STORY) as story:
        story.update("analyzing", 5, "Cloning the repository")
        # the worker's loop checks `cancel_requested` and leaves the block
        assert story.cancel_requested

    assert backend.steps()[-1] == ("failed", 5, CANCELLED_STEP)


def test_a_story_already_complete_is_left_as_it_is() -> None:
    backend = BeatingBackend()
    with ProgressReporter(backend, heartbeat_seconds=None).story(STORY) as story:
        story.update("complete", 100, "Your story is ready")
        backend.cancelled.add(STORY)
        story.raise_if_cancelled()  # not seen yet: nothing published since
        story.update("complete", 100, "Your story is ready")  # its reply tells of the cancel
        story.raise_if_cancelled()

    assert [step[0] for step in backend.steps()] == ["complete", "complete"]


def test_another_storys_cancel_is_an_error_of_this_block() -> None:
    backend, other = BeatingBackend(), uuid.uuid4()

    def work() -> None:
        with ProgressReporter(backend, heartbeat_seconds=None).story(STORY) as story:
            story.update("analyzing", 5, "Cloning the repository")
            raise StoryCancelled(other)

    with pytest.raises(StoryCancelled):
        work()
    assert backend.steps()[-1] == ("failed", 5, "Stopped by an error (StoryCancelled)")


def test_when_the_cancelled_failed_cannot_be_published_the_block_still_ends_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    backend = BeatingBackend()
    with ProgressReporter(backend, heartbeat_seconds=None).story(STORY) as story:
        story.update("analyzing", 5, "Cloning the repository")
        backend.cancelled.add(STORY)
        story.update("analyzing", 10, "Reading the code")
        backend.failing = ConnectionError("down")
        story.update("generating", 40, "Writing chapter 1")

    assert "publishing 'failed' (cancelled) failed" in caplog.text


async def test_asyncio_a_cancel_seen_by_a_publish_or_a_heartbeat() -> None:
    backend = BeatingBackend()
    reporter = worker_aio.ProgressReporter(AsyncBeatingBackend(backend), heartbeat_seconds=INTERVAL)
    async with reporter.story(STORY) as story:
        await story.update("analyzing", 5, "Cloning the repository")
        backend.cancelled.add(STORY)

        async def seen() -> bool:
            return story.cancel_requested

        await wait_for_condition(seen, 5, "the heartbeat to see the cancel")
        await story.update("generating", 40, "Writing chapter 1")

    other = uuid.uuid4()
    backend.cancelled.add(other)
    async with worker_aio.ProgressReporter(AsyncBeatingBackend(backend), heartbeat_seconds=0).story(
        other
    ) as by_publish:
        await by_publish.update("analyzing", 7, "Cloning the repository")
        await by_publish.update("generating", 40, "Writing chapter 1")

    assert backend.steps() == [
        ("analyzing", 5, "Cloning the repository"),
        ("failed", 5, CANCELLED_STEP),
        ("analyzing", 7, "Cloning the repository"),
        ("failed", 7, CANCELLED_STEP),
    ]


def test_the_sdks_publish_scripts_only_add_the_cancel_to_the_reply() -> None:
    assert SDK_PUBLISH_SCRIPT.replace("{seq, redis.call('EXISTS', KEYS[3])}", "seq") == PUBLISH_SCRIPT
    assert (
        SDK_CLUSTER_PUBLISH_SCRIPT.replace(", redis.call('EXISTS', KEYS[3])}", "}") == CLUSTER_PUBLISH_SCRIPT
    )
