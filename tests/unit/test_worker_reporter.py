"""The worker SDK's story blocks, sync and asyncio: updates go out in order with their seq, a bad
value sends nothing, an error escaping the block ends the story `failed` (its type, never its
message) and propagates, and a cancelled task or a finished story is left as it is. The asyncio
API runs on the demo's `BrokerBackend` over the gateway's in-memory broker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import pytest

from adapters.json_codec import JsonCodec
from adapters.memory import MemoryBroker
from codestory_progress_worker import ProgressReporter, StoryProgress
from codestory_progress_worker import aio as worker_aio
from codestory_progress_worker.aio import StoryProgress as AsyncStory
from domain.progress import StoryStatus
from entrypoints.demo import BrokerBackend
from testkit.worker_backends import RecordingBackend

STORY = uuid.UUID("6f1c2c4e-1d2b-4a3f-9c5e-0a1b2c3d4e5f")
USER = uuid.UUID("5d2f4a8e-3b1c-4e6f-8a9d-2c7b1e0f4d33")
SECRET = "token=eyJhbGciOi.secret"


class WorkerError(RuntimeError):
    pass


def run_block(backend: RecordingBackend, work: Callable[[StoryProgress], None]) -> None:
    """A worker's block: `work` runs with the story held."""
    with ProgressReporter(backend).story(STORY) as story:
        work(story)


async def run_async_block(
    reporter: worker_aio.ProgressReporter, story_id: uuid.UUID, work: Callable[[AsyncStory], Awaitable[None]]
) -> None:
    async with reporter.story(story_id) as story:
        await work(story)


def test_a_block_publishes_each_update_with_its_seq() -> None:
    backend = RecordingBackend()
    with ProgressReporter(backend).story(str(STORY), owner=str(USER)) as story:
        first = story.update("analyzing", 5, "Cloning the repository")
        last = story.update("complete", 100, "Your story is ready")

    assert (first.seq, last.seq, story.last) == (1, 2, last)
    assert backend.steps() == [
        ("analyzing", 5, "Cloning the repository"),
        ("complete", 100, "Your story is ready"),
    ]
    assert backend.owners == [USER, USER]
    assert {u["story_id"] for u in backend.published} == {str(STORY)}


def test_a_bad_value_reaches_nothing_and_the_block_then_fails_the_story() -> None:
    def work(story: StoryProgress) -> None:
        story.update("generating", 30, "Writing chapter 1")
        story.update("generating", 130, "Writing chapter 2")

    backend = RecordingBackend()
    with pytest.raises(ValueError, match="progress_percent"):
        run_block(backend, work)

    assert backend.steps() == [
        ("generating", 30, "Writing chapter 1"),
        ("failed", 30, "Stopped by an error (ValueError)"),
    ]


def test_an_error_in_the_block_fails_the_story_without_its_message_and_propagates() -> None:
    def work(story: StoryProgress) -> None:
        story.update("synthesizing", 70, "Recording the narration")
        raise WorkerError(SECRET)

    backend = RecordingBackend()
    with pytest.raises(WorkerError, match="secret"):
        run_block(backend, work)

    assert backend.steps()[-1] == ("failed", 70, "Stopped by an error (WorkerError)")
    assert all("secret" not in str(update) for update in backend.published)


@pytest.mark.parametrize("interruption", [KeyboardInterrupt, SystemExit])
def test_an_interrupt_leaves_the_story_to_a_retry(interruption: type[BaseException]) -> None:
    def work(story: StoryProgress) -> None:
        story.update("generating", 40, "Writing chapter 2")
        raise interruption

    backend = RecordingBackend()
    with pytest.raises(interruption):
        run_block(backend, work)

    assert backend.steps() == [("generating", 40, "Writing chapter 2")]


def test_an_error_after_the_story_completed_changes_nothing() -> None:
    def work(story: StoryProgress) -> None:
        story.update("complete", 100, "Your story is ready")
        raise WorkerError("cleanup failed")

    backend = RecordingBackend()
    with pytest.raises(WorkerError):
        run_block(backend, work)

    assert backend.steps() == [("complete", 100, "Your story is ready")]


def test_when_failed_cannot_be_published_the_workers_error_still_propagates() -> None:
    backend = RecordingBackend()

    def work(story: StoryProgress) -> None:
        story.update("generating", 40, "Writing chapter 2")
        backend.failing = ConnectionError("Redis went away")
        raise WorkerError("the model timed out")

    with pytest.raises(WorkerError) as raised:
        run_block(backend, work)

    assert "publishing 'failed'" in "".join(raised.value.__notes__)
    assert backend.steps() == [("generating", 40, "Writing chapter 2")]


def test_cluster_mode_wants_the_owner_before_the_block_runs() -> None:
    reporter = ProgressReporter(RecordingBackend(requires_owner=True))

    with pytest.raises(ValueError, match="owner"):
        reporter.story(STORY)
    with pytest.raises(ValueError, match="owner"):
        reporter.publish(STORY, "failed", 0, "The worker died")


def test_publish_revoke_and_close_outside_a_block() -> None:
    backend = RecordingBackend()
    with ProgressReporter(backend) as reporter:
        sent = reporter.publish(STORY, "failed", 0, "The worker died")
        heard = reporter.revoke(str(STORY))
        with pytest.raises(ValueError, match="current_step"):
            reporter.publish(STORY, "failed", 0, "x" * 5000)

    assert (sent.seq, sent.status, heard, backend.revoked, backend.closed) == (1, "failed", 1, [STORY], True)
    assert len(backend.published) == 1


async def test_the_asyncio_api_has_the_same_shape() -> None:
    broker = MemoryBroker()
    reporter = worker_aio.ProgressReporter(BrokerBackend(broker, JsonCodec()))
    async with reporter.story(STORY, owner=USER) as story:
        await story.update("analyzing", 5, "Cloning the repository")
        sent = await story.update("complete", 100, "Your story is ready")

    async def work(story: AsyncStory) -> None:
        await story.update("generating", 60, "Writing chapter 3")
        raise WorkerError(SECRET)

    second = uuid.uuid4()
    with pytest.raises(WorkerError):
        await run_async_block(reporter, second, work)

    assert sent.seq == 2
    assert [(u.status, u.progress_percent, u.seq) for u in broker.published[:2]] == [
        (StoryStatus.ANALYZING, 5, 1),
        (StoryStatus.COMPLETE, 100, 2),
    ]
    failed = next(iter(await broker.snapshots([second])), None)
    assert failed is not None
    assert (failed.status, failed.progress_percent, failed.current_step) == (
        StoryStatus.FAILED,
        60,
        "Stopped by an error (WorkerError)",
    )
    assert await reporter.revoke(STORY) == 0


async def test_a_cancelled_task_publishes_nothing_more() -> None:
    broker = MemoryBroker()
    reporter = worker_aio.ProgressReporter(BrokerBackend(broker, JsonCodec()))
    started = asyncio.Event()

    async def work() -> None:
        async with reporter.story(STORY) as story:
            await story.update("generating", 40, "Writing chapter 2")
            started.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(work())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert [(u.status, u.progress_percent) for u in broker.published] == [(StoryStatus.GENERATING, 40)]


async def test_asyncio_when_failed_cannot_be_published_the_workers_error_propagates() -> None:
    broker = MemoryBroker()

    async def work(story: AsyncStory) -> None:
        await story.update("generating", 40, "Writing chapter 2")
        broker.fail()
        raise WorkerError("the model timed out")

    reporter = worker_aio.ProgressReporter(BrokerBackend(broker, JsonCodec()))
    with pytest.raises(WorkerError) as raised:
        await run_async_block(reporter, STORY, work)

    assert "publishing 'failed'" in "".join(raised.value.__notes__)
    assert len(broker.published) == 1
