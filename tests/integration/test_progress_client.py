"""The Python client (`codestory_progress_client`) against the real `serve`: updates, dashboard, auth
errors, a server restart on the same port, and in-band renewal past the first `exp`; and against a
scripted stand-in, a malformed frame skipped."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from adapters.jwt_tokens import JwtTokenIssuer
from adapters.redis_progress import RedisProgressPublisher
from codestory_progress_client import (
    AuthError,
    Backoff,
    ProgressStream,
    ProgressUpdate,
    dashboard_updates,
    story_updates,
)
from domain.progress import ProgressUpdate as ServerUpdate
from domain.progress import StoryStatus
from testkit.postgres import Database
from testkit.processes import GatewayProcess
from testkit.scripted_gateway import scripted_gateway
from testkit.waiting import timeout
from tests.integration.conftest import SECRET, NewStory, StartGateway

FAST = Backoff(min_delay=0.05, max_delay=0.5)


async def publish(publisher: RedisProgressPublisher, story: uuid.UUID, status: str, percent: int) -> int:
    update = ServerUpdate(story, StoryStatus(status), percent, f"{status} {percent}", datetime.now(UTC))
    sent = await publisher.publish(update)
    assert sent.seq is not None
    return sent.seq


async def take_until(stream: ProgressStream, done: str, seconds: float = 5) -> list[ProgressUpdate]:
    """Updates until one with status `done` (included)."""
    taken: list[ProgressUpdate] = []
    async with asyncio.timeout(timeout(seconds)):
        async for update in stream:
            taken.append(update)
            if update.status == done:
                return taken
    pytest.fail(f"the stream ended before {done!r}: {taken}")


@pytest.fixture
def gateway(start_gateway: StartGateway) -> GatewayProcess:
    return start_gateway()


async def test_story_stream_yields_the_snapshot_then_updates_in_order(
    gateway: GatewayProcess, new_story: NewStory, redis_publisher: RedisProgressPublisher
) -> None:
    story = await new_story()
    await publish(redis_publisher, story.id, "analyzing", 10)

    async with story_updates(gateway.ws, str(story.id), story.token) as stream:
        first = await anext(aiter(stream))
        for status, percent in (("generating", 50), ("synthesizing", 90), ("complete", 100)):
            await publish(redis_publisher, story.id, status, percent)
        rest = await take_until(stream, "complete")

    assert (first.status, first.progress_percent, first.seq) == ("analyzing", 10, 1)
    seqs = [u.seq for u in [first, *rest]]
    assert seqs == sorted(set(seqs))
    assert rest[-1].final
    assert "synthesizing" in [u.status for u in rest]
    assert stream.connections == 1


async def test_dashboard_stream_yields_every_story_of_the_user(
    gateway: GatewayProcess, new_story: NewStory, redis_publisher: RedisProgressPublisher, database: Database
) -> None:
    story = await new_story()
    second = uuid.uuid4()
    await database.insert_story(second, story.user)
    await publish(redis_publisher, story.id, "generating", 40)

    async with dashboard_updates(gateway.ws, story.token) as stream:
        snapshot = await take_until_story(stream, story.id, "generating")
        await publish(redis_publisher, second, "failed", 60)
        later = await take_until_story(stream, second, "failed")

    assert [(u.story_id, u.progress_percent) for u in snapshot] == [(str(story.id), 40)]
    assert [(u.story_id, u.status, u.seq) for u in later] == [(str(second), "failed", 1)]


async def take_until_story(stream: ProgressStream, story: uuid.UUID, status: str) -> list[ProgressUpdate]:
    taken: list[ProgressUpdate] = []
    async with asyncio.timeout(timeout(5)):
        async for update in stream:
            taken.append(update)
            if update.story_id == str(story) and update.status == status:
                break
    return taken


@pytest.mark.parametrize("case", ["expired token", "another user's story"])
async def test_auth_errors_raise_without_retrying(
    gateway: GatewayProcess, new_story: NewStory, case: str
) -> None:
    story = await new_story()
    if case == "expired token":
        token, expected = JwtTokenIssuer(SECRET).issue(story.user, ttl_seconds=-60), (4001, "token_expired")
    else:
        token, expected = JwtTokenIssuer(SECRET).issue(uuid.uuid4(), ttl_seconds=600), (4003, "forbidden")

    stream = story_updates(gateway.ws, str(story.id), token, backoff=FAST)
    with pytest.raises(AuthError) as raised:
        await asyncio.wait_for(anext(aiter(stream)), timeout(5))

    assert (raised.value.code, raised.value.reason) == expected
    assert stream.connections == 1


@pytest.fixture
def same_port(gateway: GatewayProcess) -> Iterator[list[GatewayProcess]]:
    processes = [gateway]
    yield processes
    for process in processes[1:]:
        if process.process is not None:
            process.stop(signal.SIGKILL)


async def test_stream_survives_a_server_restart_on_the_same_port(
    same_port: list[GatewayProcess], new_story: NewStory, redis_publisher: RedisProgressPublisher
) -> None:
    old = same_port[0]
    story = await new_story()
    await publish(redis_publisher, story.id, "generating", 20)

    async with story_updates(old.ws, str(story.id), story.token, backoff=FAST) as stream:
        updates = aiter(stream)
        assert (await anext(updates)).seq == 1
        assert await asyncio.to_thread(old.stop, signal.SIGTERM, 5) == 0
        await publish(redis_publisher, story.id, "synthesizing", 70)  # while no server runs
        same_port.append(await asyncio.to_thread(GatewayProcess(old.env, port=old.port).start, ready=True))
        final = await publish(redis_publisher, story.id, "complete", 100)
        rest = await take_until(stream, "complete", seconds=10)

    assert rest[-1].seq == final
    assert [u.seq for u in rest] == sorted({u.seq for u in rest})
    assert stream.connections >= 2


async def test_token_renewed_in_band_keeps_the_stream_past_the_first_exp(
    gateway: GatewayProcess, new_story: NewStory, redis_publisher: RedisProgressPublisher
) -> None:
    story = await new_story()
    issuer = JwtTokenIssuer(SECRET)
    short = issuer.issue(story.user, ttl_seconds=3)
    exp = time.time() + 3
    handed_out: list[str] = []

    async def get_token() -> str:
        handed_out.append(issuer.issue(story.user, ttl_seconds=600))
        return handed_out[-1]

    await publish(redis_publisher, story.id, "analyzing", 5)
    async with story_updates(gateway.ws, str(story.id), short, get_token=get_token) as stream:
        updates = aiter(stream)
        assert (await anext(updates)).seq == 1
        await asyncio.sleep(max(0.0, exp + 1.0 - time.time()))  # the clock runs past the first exp
        await publish(redis_publisher, story.id, "complete", 100)
        rest = await take_until(stream, "complete")

    assert len(handed_out) == 1
    assert rest[-1].progress_percent == 100
    assert stream.connections == 1


async def test_a_malformed_frame_is_skipped_and_the_stream_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    good = {"story_id": "s", "status": "generating", "progress_percent": 40, "current_step": "", "seq": 4}
    frames = ["{not json", json.dumps({**good, "story_id": 5}), '{"status": "complete"}', json.dumps(good)]

    with caplog.at_level(logging.WARNING, logger="codestory_progress_client"):
        async with scripted_gateway(frames) as stand_in, story_updates(stand_in.url, "s", "t") as stream:
            update = await asyncio.wait_for(anext(aiter(stream)), timeout(5))

    assert (update.story_id, update.progress_percent, update.seq) == ("s", 40, 4)
    assert stream.malformed == 3
    assert stream.connections == 1
    assert stand_in.paths == ["/ws/stories/s/progress"]
    skipped = [r.getMessage() for r in caplog.records if "malformed" in r.getMessage()]
    assert len(skipped) == 3, skipped
