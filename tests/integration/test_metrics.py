"""Each metric an operator acts on, against the real server: `serve` in a subprocess on real Redis and
PostgreSQL, driven by real WebSocket clients, read back from its own `/metrics`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import connect

from adapters.json_codec import JsonCodec
from adapters.jwt_tokens import JwtTokenIssuer
from adapters.redis_progress import RedisKeys, RedisProgressPublisher
from domain.progress import ProgressUpdate, StoryStatus
from testkit.clients import ProgressClient, close_code, http_json
from testkit.metrics import metric_reaches, scrape
from testkit.processes import GatewayProcess
from testkit.redis import RedisServer
from testkit.waiting import timeout, wait_for_condition
from tests.integration.conftest import SECRET, NewStory, StartGateway, redis_client_at


def update(story: uuid.UUID, status: StoryStatus, percent: int, age: float = 0.0) -> ProgressUpdate:
    return ProgressUpdate(story, status, percent, "step", datetime.now(UTC) - timedelta(seconds=age))


async def test_messages_sent_are_counted_by_endpoint(
    start_gateway: StartGateway, new_story: NewStory, redis_publisher: RedisProgressPublisher
) -> None:
    gateway = start_gateway()
    story = await new_story()
    await redis_publisher.publish(update(story.id, StoryStatus.ANALYZING, 5))
    async with (
        connect(gateway.ws + story.path()) as one,
        connect(f"{gateway.ws}/ws/user/stories?token={story.token}") as board,
    ):
        story_client, board_client = ProgressClient(one), ProgressClient(board)
        await story_client.read_seq(1)
        await board_client.read_seq(1)
        last = await redis_publisher.publish(update(story.id, StoryStatus.GENERATING, 50))
        await story_client.read_seq(last.seq or 0)
        await board_client.read_seq(last.seq or 0)

    metrics = await scrape(gateway.http)
    assert metrics.value("gateway_messages_sent_total", endpoint="story") == 2
    assert metrics.value("gateway_messages_sent_total", endpoint="dashboard") == 2


async def test_write_lag_runs_from_updated_at_to_the_socket_write(
    start_gateway: StartGateway, new_story: NewStory, redis_publisher: RedisProgressPublisher
) -> None:
    gateway = start_gateway()
    story = await new_story()
    async with connect(gateway.ws + story.path()) as connection:
        client = ProgressClient(connection)
        await connection.send("ping")
        assert await connection.recv() == "pong"  # subscribed, and no snapshot yet
        published = await redis_publisher.publish(update(story.id, StoryStatus.GENERATING, 40, age=3.0))
        await client.read_seq(published.seq or 0)

    metrics = await scrape(gateway.http)
    assert metrics.value("gateway_write_lag_seconds_count") == 1
    assert metrics.value("gateway_write_lag_seconds_sum") >= 3.0
    assert metrics.value("gateway_write_lag_seconds_bucket", le="2.5") == 0
    assert metrics.value("gateway_write_lag_seconds_bucket", le="5.0") == 1


async def test_connect_time_is_observed_for_each_served_connection(
    start_gateway: StartGateway, new_story: NewStory, redis_publisher: RedisProgressPublisher
) -> None:
    gateway = start_gateway()
    story = await new_story()
    await redis_publisher.publish(update(story.id, StoryStatus.ANALYZING, 5))
    for _ in range(3):
        async with connect(gateway.ws + story.path()) as connection:
            await ProgressClient(connection).read_seq(1)
    async with connect(f"{gateway.ws}/ws/stories/{story.id}/progress?token=bad") as refused:
        assert await close_code(refused) == 4001

    metrics = await scrape(gateway.http)
    assert metrics.value("gateway_connect_seconds_count", endpoint="story") == 3
    assert 0 < metrics.value("gateway_connect_seconds_sum", endpoint="story") < 3 * timeout(2)


async def test_closes_are_counted_by_code(start_gateway: StartGateway, new_story: NewStory) -> None:
    gateway = start_gateway()
    story, other = await new_story(), await new_story()
    async with connect(f"{gateway.ws}/ws/stories/{story.id}/progress?token=garbage") as refused:
        assert await close_code(refused) == 4001
    async with connect(f"{gateway.ws}/ws/stories/{other.id}/progress?token={story.token}") as foreign:
        assert await close_code(foreign) == 4003
    async with connect(gateway.ws + story.path()) as leaving:
        await leaving.send("ping")
        assert await leaving.recv() == "pong"
        await leaving.close(code=1000)

    metrics = await metric_reaches(gateway, "gateway_closes_total", 1, code="1000")
    assert metrics.value("gateway_closes_total", endpoint="story", code="4001") == 1
    assert metrics.value("gateway_closes_total", endpoint="story", code="4003") == 1
    assert metrics.value("gateway_closes_total", endpoint="story", code="1000") == 1


async def test_client_close_codes_outside_the_known_set_are_counted_as_other(
    start_gateway: StartGateway, new_story: NewStory
) -> None:
    """A client picks its own close code: 60 distinct ones make one series, not 60."""
    gateway = start_gateway()
    story = await new_story()
    codes = [*range(3000, 3030), *range(4100, 4130)]
    for code in codes:
        async with connect(gateway.ws + story.path()) as leaving:
            await leaving.send("ping")
            assert await leaving.recv() == "pong"
            await leaving.close(code=code)
    async with connect(gateway.ws + story.path()) as normal:
        await normal.close(code=1000)

    metrics = await metric_reaches(gateway, "gateway_closes_total", len(codes) + 1)
    series = {labels["code"] for labels, _ in metrics.samples["gateway_closes_total"]}
    assert series == {"other", "1000"}
    assert metrics.value("gateway_closes_total", endpoint="story", code="other") == len(codes)


async def test_authentication_failures_are_counted_by_reason(
    start_gateway: StartGateway, new_story: NewStory
) -> None:
    gateway = start_gateway()
    story = await new_story()
    expired = JwtTokenIssuer(SECRET).issue(story.user, ttl_seconds=-60)
    foreign = JwtTokenIssuer(SECRET, audience="billing-service").issue(story.user)  # JWT_AUDIENCE unset
    for token in ("", "not-a-jwt", expired, foreign):
        query = f"?token={token}" if token else ""
        async with connect(f"{gateway.ws}/ws/user/stories{query}") as refused:
            assert await close_code(refused) == 4001

    metrics = await metric_reaches(gateway, "gateway_auth_failures_total", 4)
    assert metrics.value("gateway_auth_failures_total", reason="no_token") == 1
    assert metrics.value("gateway_auth_failures_total", reason="bad_audience") == 1
    assert metrics.value("gateway_auth_failures_total", reason="expired") == 1
    assert metrics.value("gateway_auth_failures_total", reason="malformed") == 1


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


async def test_a_resubscription_counts_a_snapshot_resync(
    start_gateway: StartGateway, new_story: NewStory, private_redis: RedisServer, key_prefix: str
) -> None:
    """The gateway's subscription is cut (CLIENT KILL on a private Redis, never the shared one)."""
    gateway = start_gateway(REDIS_URL=private_redis.url)
    story = await new_story()
    async with (
        redis_client_at(private_redis.url) as admin,
        connect(gateway.ws + story.path()) as connection,
    ):
        await connection.send("ping")
        assert await connection.recv() == "pong"
        before = (await scrape(gateway.http)).value("gateway_snapshot_resyncs_total")
        assert await admin.execute_command("CLIENT", "KILL", "TYPE", "pubsub") >= 1
        await metric_reaches(gateway, "gateway_snapshot_resyncs_total", before + 1)
        published = await RedisProgressPublisher(admin, JsonCodec(), RedisKeys(key_prefix), 60).publish(
            update(story.id, StoryStatus.COMPLETE, 100)
        )
        await ProgressClient(connection).read_seq(published.seq or 0)


async def test_every_broker_message_is_counted_valid_or_not(
    start_gateway: StartGateway,
    new_story: NewStory,
    redis_client: Redis,
    redis_keys: RedisKeys,
    redis_publisher: RedisProgressPublisher,
) -> None:
    gateway = start_gateway()
    await wait_for_condition(lambda: _ready(gateway), 10, "the gateway's broker subscription")
    story = await new_story()
    await redis_publisher.publish(update(story.id, StoryStatus.ANALYZING, 5))
    assert await redis_client.publish(redis_keys.story_channel(story.id), b"{not json") == 1
    await redis_publisher.publish(update(story.id, StoryStatus.GENERATING, 10))

    metrics = await metric_reaches(gateway, "gateway_broker_messages_total", 3)
    assert metrics.value("gateway_broker_messages_total") == 3
    assert metrics.value("gateway_updates_received_total") == 2


async def _ready(gateway: GatewayProcess) -> bool:
    status, _ = await http_json(gateway.http + "/readyz")
    return status == 200


async def test_the_process_collector_is_on_the_apps_registry(start_gateway: StartGateway) -> None:
    gateway = start_gateway()

    metrics = await scrape(gateway.http)

    assert metrics.value("process_resident_memory_bytes") > 1_000_000
    assert metrics.value("process_open_fds") > 3
    assert metrics.value("process_cpu_seconds_total") > 0
    assert "python_info" in metrics.names()
