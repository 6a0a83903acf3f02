"""The worker SDK's heartbeat, sync (a daemon thread) and asyncio (a task), on in-memory backends: it
refreshes the story's liveness key at once and then every interval with a TTL of three intervals,
never two refreshes at once, stops with the block, logs one WARNING per outage and never reaches
the worker; 0 or None turns it off; a backend without `heartbeat` simply does not beat."""

from __future__ import annotations

import logging
import uuid

import pytest

from codestory_progress_worker import ProgressReporter
from codestory_progress_worker import aio as worker_aio
from codestory_progress_worker.backends import Receipt
from codestory_progress_worker.liveness import heartbeat_interval, ttl_ms
from testkit.waiting import wait_for_condition, wait_until
from testkit.worker_backends import AsyncBeatingBackend, BeatingBackend, RecordingBackend

STORY = uuid.UUID("6f1c2c4e-1d2b-4a3f-9c5e-0a1b2c3d4e5f")
INTERVAL = 0.02


def test_a_block_refreshes_its_liveness_key_until_it_ends() -> None:
    backend = BeatingBackend()
    with ProgressReporter(backend, heartbeat_seconds=INTERVAL).story(STORY) as story:
        heartbeat = story.heartbeat
        assert heartbeat is not None
        wait_until(lambda: len(backend.beats) >= 3, 5, "three refreshes")
        story.update("complete", 100, "Your story is ready")

    assert not heartbeat.running  # joined with the block
    done = len(backend.beats)
    assert backend.beats[0] == (STORY, ttl_ms(INTERVAL)) == (STORY, 60)
    with ProgressReporter(backend, heartbeat_seconds=INTERVAL).story(uuid.uuid4()) as other:
        wait_until(lambda: len(backend.beats) >= done + 3, 5, "the other block's refreshes")
    assert {beat[0] for beat in backend.beats[done:]} == {other.story_id}  # none for the ended block


def test_two_refreshes_never_overlap_even_when_redis_is_slower_than_the_interval() -> None:
    backend = BeatingBackend(beat_seconds=INTERVAL * 3)
    with ProgressReporter(backend, heartbeat_seconds=INTERVAL).story(STORY):
        wait_until(lambda: len(backend.beats) >= 4, 5, "four slow refreshes")

    assert backend.most_at_once == 1


def test_an_outage_logs_one_warning_and_never_reaches_the_worker(caplog: pytest.LogCaptureFixture) -> None:
    backend = BeatingBackend()
    backend.beat_failing = ConnectionError("redis://:hunter2@cache:6379 refused")
    caplog.set_level(logging.INFO, logger="codestory_progress_worker.heartbeat")
    with ProgressReporter(backend, heartbeat_seconds=INTERVAL).story(STORY) as story:
        heartbeat = story.heartbeat
        assert heartbeat is not None
        story.update("analyzing", 5, "Cloning the repository")
        wait_until(lambda: backend.attempts >= 4, 5, "four failed refreshes")
        assert heartbeat.refreshes == 0
        backend.beat_failing = None
        wait_until(lambda: heartbeat.refreshes >= 1, 5, "a refresh after the outage")
        story.update("complete", 100, "Your story is ready")

    levels = [(r.levelno, r.getMessage()) for r in caplog.records if r.levelno >= logging.INFO]
    assert [level for level, _ in levels] == [logging.WARNING, logging.INFO]
    assert "ConnectionError" in levels[0][1]
    assert "hunter2" not in caplog.text
    assert backend.steps()[-1] == ("complete", 100, "Your story is ready")


@pytest.mark.parametrize("off", [0, None])
def test_heartbeats_can_be_turned_off(off: float | None) -> None:
    backend = BeatingBackend()
    with ProgressReporter(backend, heartbeat_seconds=off).story(STORY) as story:
        story.update("complete", 100, "Done")

    assert story.heartbeat is None
    assert backend.beats == []


@pytest.mark.parametrize("bad", [-1, 3601, True, "5"])
def test_a_bad_heartbeat_setting_is_refused_before_any_client_is_built(bad: object) -> None:
    with pytest.raises(ValueError, match="heartbeat_seconds"):
        heartbeat_interval(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="heartbeat_seconds"):
        ProgressReporter.from_url("redis://127.0.0.1:1", heartbeat_seconds=bad)  # type: ignore[arg-type]


def test_a_backend_without_heartbeat_works_without_one() -> None:
    backend = RecordingBackend()
    with ProgressReporter(backend).story(STORY) as story:
        story.update("complete", 100, "Done")

    assert story.heartbeat is None
    assert backend.steps() == [("complete", 100, "Done")]


async def test_the_asyncio_heartbeat_is_a_task_that_ends_with_the_block() -> None:
    backend = BeatingBackend(beat_seconds=INTERVAL * 2)
    reporter = worker_aio.ProgressReporter(AsyncBeatingBackend(backend), heartbeat_seconds=INTERVAL)
    async with reporter.story(STORY) as story:
        heartbeat = story.heartbeat
        assert heartbeat is not None
        assert heartbeat.running

        async def refreshed() -> bool:
            return len(backend.beats) >= 3

        await wait_for_condition(refreshed, 5, "three refreshes")
        await story.update("complete", 100, "Your story is ready")

    assert not heartbeat.running
    assert backend.most_at_once == 1
    assert backend.beats[0] == (STORY, 60)


async def test_the_asyncio_heartbeat_survives_an_outage(caplog: pytest.LogCaptureFixture) -> None:
    backend = BeatingBackend()
    backend.beat_failing = TimeoutError("slow")
    caplog.set_level(logging.WARNING, logger="codestory_progress_worker.heartbeat")
    reporter = worker_aio.ProgressReporter(AsyncBeatingBackend(backend), heartbeat_seconds=INTERVAL)
    async with reporter.story(STORY) as story:

        async def failed_often() -> bool:
            return backend.attempts >= 4

        await wait_for_condition(failed_often, 5, "four failed refreshes")
        await story.update("complete", 100, "Done")

    assert len(caplog.records) == 1
    assert backend.steps() == [("complete", 100, "Done")]


class PublishOnly:
    """An asyncio backend that can publish and has no heartbeat (the demo's backend now beats)."""

    def __init__(self, inner: RecordingBackend) -> None:
        self.inner = inner
        self.requires_owner = inner.requires_owner

    async def publish(self, story_id: uuid.UUID, owner: uuid.UUID | None, body: str) -> Receipt:
        return self.inner.publish(story_id, owner, body)


async def test_an_asyncio_backend_without_heartbeat_works_without_one() -> None:
    reporter = worker_aio.ProgressReporter(PublishOnly(RecordingBackend()))
    async with reporter.story(STORY) as story:
        await story.update("complete", 100, "Done")

    assert story.heartbeat is None
