"""Server-Sent Events against the real `serve`: the head, the snapshot first then each update with its
`seq` as `id:`, heartbeat comments, the token's expiry as `event: close`, the refusals before the
stream (HTTP statuses with JSON bodies), `Last-Event-ID`, the per-user and process limits, metrics
by endpoint, and the shutdown's `event: close` 1001."""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from contextlib import AsyncExitStack

from redis.asyncio import Redis

from adapters.jwt_tokens import JwtTokenIssuer
from adapters.redis_progress import RedisKeys, RedisProgressPublisher
from domain.progress import StoryStatus
from testkit.metrics import scrape
from testkit.postgres import Database, execute
from testkit.processes import GatewayProcess
from testkit.sse import Event, SseStream, open_stream
from testkit.waiting import wait_for_condition
from tests.contracts.progress import make_update
from tests.integration.conftest import SECRET, NewStory, OwnedStory, StartGateway

S = StoryStatus


def story_url(gateway: GatewayProcess, story: OwnedStory, query: str = "") -> str:
    return f"{gateway.http}/sse/stories/{story.id}/progress{query}"


def bearer(token: str, last_event_id: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    return headers if last_event_id is None else {**headers, "Last-Event-ID": last_event_id}


async def stream(stack: AsyncExitStack, url: str, headers: dict[str, str] | None = None) -> SseStream:
    opened = await open_stream(url, headers)
    stack.callback(opened.close)
    return opened


async def test_a_story_stream_is_the_snapshot_then_every_update_with_its_seq_as_id(
    start_gateway: StartGateway, new_story: NewStory, redis_publisher: RedisProgressPublisher
) -> None:
    gateway = start_gateway()
    story = await new_story()
    await redis_publisher.publish(make_update(story.id, S.ANALYZING, 10))
    async with AsyncExitStack() as stack:
        by_header = await stream(stack, story_url(gateway, story), bearer(story.token))
        by_query = await stream(stack, story_url(gateway, story, f"?token={story.token}"))
        hints = [await s.next() for s in (by_header, by_query)]
        snapshots = [await s.progress() for s in (by_header, by_query)]
        await redis_publisher.publish(make_update(story.id, S.GENERATING, 40))
        await redis_publisher.publish(make_update(story.id, S.COMPLETE, 100))
        later = [[await s.progress(), await s.progress()] for s in (by_header, by_query)]

    for opened in (by_header, by_query):
        assert opened.status == 200
        assert opened.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert opened.headers["cache-control"] == "no-store"
        assert opened.headers["x-accel-buffering"] == "no"
    assert all(hint.retry is not None and 1000 <= hint.retry < 4000 for hint in hints)
    for snapshot, (second, third) in zip(snapshots, later, strict=True):
        assert [(e.event, e.id) for e in (snapshot, second, third)] == [
            ("progress", "1"),
            ("progress", "2"),
            ("progress", "3"),
        ]
        assert [e.json()["status"] for e in (snapshot, second, third)] == [
            "analyzing",
            "generating",
            "complete",
        ]
        assert [e.json()["seq"] for e in (snapshot, second, third)] == [1, 2, 3]


async def test_a_quiet_stream_gets_a_heartbeat_comment_every_keepalive(
    start_gateway: StartGateway, new_story: NewStory
) -> None:
    gateway = start_gateway(KEEPALIVE_SECONDS="0.5")
    story = await new_story()
    async with AsyncExitStack() as stack:
        opened = await stream(stack, story_url(gateway, story), bearer(story.token))
        assert (await opened.next()).retry is not None
        beats = [await opened.next(3), await opened.next(3)]
    assert [beat.comment for beat in beats] == ["ping", "ping"]


async def test_at_the_token_s_expiry_the_stream_ends_with_event_close_4001(
    start_gateway: StartGateway, new_story: NewStory, redis_publisher: RedisProgressPublisher
) -> None:
    gateway = start_gateway()
    story = await new_story()
    await redis_publisher.publish(make_update(story.id, S.GENERATING, 20))
    token = JwtTokenIssuer(SECRET).issue(story.user, ttl_seconds=2)
    async with AsyncExitStack() as stack:
        opened = await stream(stack, story_url(gateway, story), bearer(token))
        assert (await opened.progress()).json()["seq"] == 1
        rest = await opened.until_end(10)
    closes = [e for e in rest if e.event == "close"]
    assert [e.json() for e in closes] == [{"code": 4001, "reason": "token_expired"}]
    assert rest[-1] == closes[0], "nothing follows the close event"


async def test_refusals_come_before_the_stream_as_http_with_the_close_code_s_reason(
    start_gateway: StartGateway, new_story: NewStory
) -> None:
    gateway = start_gateway()
    mine, theirs = await new_story(), await new_story()
    expired = JwtTokenIssuer(SECRET).issue(mine.user, ttl_seconds=-60)
    cases = {
        "no token": (story_url(gateway, mine), {}),
        "garbage": (story_url(gateway, mine), bearer("not-a-jwt")),
        "expired": (story_url(gateway, mine), bearer(expired)),
        "another's story": (story_url(gateway, theirs), bearer(mine.token)),
        "unknown story": (f"{gateway.http}/sse/stories/{uuid.uuid4()}/progress", bearer(mine.token)),
        "not a story id": (f"{gateway.http}/sse/stories/nope/progress", bearer(mine.token)),
        "dashboard, no token": (f"{gateway.http}/sse/user/stories", {}),
    }
    answers = {name: await open_stream(url, headers) for name, (url, headers) in cases.items()}

    def seen(name: str) -> tuple[int, str, object]:
        answer = answers[name]
        answer.close()
        return answer.status, answer.headers["content-type"], json.loads(answer.body)

    json_type = "application/json"
    assert seen("no token") == (401, json_type, {"code": 4001, "reason": "invalid_token"})
    assert seen("garbage") == (401, json_type, {"code": 4001, "reason": "invalid_token"})
    assert seen("expired") == (401, json_type, {"code": 4001, "reason": "token_expired"})
    for name in ("another's story", "unknown story", "not a story id"):
        assert seen(name) == (403, json_type, {"code": 4003, "reason": "forbidden"}), name
    assert seen("dashboard, no token") == (401, json_type, {"code": 4001, "reason": "invalid_token"})
    assert answers["expired"].headers["www-authenticate"] == 'Bearer error="invalid_token"'
    metrics = await scrape(gateway.http)
    assert metrics.value("gateway_closes_total", endpoint="sse_story", code="4001") == 3
    assert metrics.value("gateway_closes_total", endpoint="sse_story", code="4003") == 3
    assert metrics.value("gateway_auth_failures_total", reason="no_token") == 2


async def test_last_event_id_at_the_story_s_seq_skips_the_snapshot_and_a_finished_story_gets_204(
    start_gateway: StartGateway, new_story: NewStory, redis_publisher: RedisProgressPublisher
) -> None:
    gateway = start_gateway()
    running, finished = await new_story(), await new_story()
    for percent in (10, 20):
        await redis_publisher.publish(make_update(running.id, S.GENERATING, percent))
    await redis_publisher.publish(make_update(finished.id, S.GENERATING, 50))
    await redis_publisher.publish(make_update(finished.id, S.COMPLETE, 100))
    async with AsyncExitStack() as stack:
        resumed = await stream(stack, story_url(gateway, running), bearer(running.token, "2"))
        behind = await stream(stack, story_url(gateway, running), bearer(running.token, "1"))
        assert (await resumed.next()).retry is not None
        snapshot_of_behind = await behind.progress()
        await redis_publisher.publish(make_update(running.id, S.SYNTHESIZING, 70))
        first_resumed = await resumed.progress()
    done = await open_stream(story_url(gateway, finished), bearer(finished.token, "2"))
    done.close()
    earlier = await open_stream(story_url(gateway, finished), bearer(finished.token, "1"))
    earlier_end = await earlier.progress()
    earlier.close()

    assert (first_resumed.id, first_resumed.json()["status"]) == ("3", "synthesizing")
    assert snapshot_of_behind.id == "2"
    assert (done.status, done.body) == (204, b"")
    assert (earlier.status, earlier_end.id, earlier_end.json()["status"]) == (200, "2", "complete")


async def test_dashboard_events_carry_no_id_and_ignore_last_event_id(
    start_gateway: StartGateway, new_story: NewStory, redis_publisher: RedisProgressPublisher
) -> None:
    gateway = start_gateway()
    story = await new_story()
    await redis_publisher.publish(make_update(story.id, S.GENERATING, 30))
    async with AsyncExitStack() as stack:
        url = f"{gateway.http}/sse/user/stories"
        dashboard = await stream(stack, url, bearer(story.token, "99"))
        snapshot = await dashboard.progress()
        await redis_publisher.publish(make_update(story.id, S.COMPLETE, 100))
        live = await dashboard.progress()
    assert [(e.id, e.json()["seq"]) for e in (snapshot, live)] == [(None, 1), (None, 2)]


async def test_per_user_and_process_limits_hold_for_streams(
    start_gateway: StartGateway, new_story: NewStory
) -> None:
    gateway = start_gateway(MAX_CONNECTIONS_PER_USER="2", MAX_CONNECTIONS="4")
    mine, theirs = await new_story(), await new_story()
    async with AsyncExitStack() as stack:
        held = [await stream(stack, story_url(gateway, mine), bearer(mine.token)) for _ in range(2)]
        over_user = await stream(stack, story_url(gateway, mine), bearer(mine.token))  # kept alive: 3 open
        other = await stream(stack, f"{gateway.http}/sse/user/stories", bearer(theirs.token))
        for opened in (*held, other):
            assert (await opened.next()).retry is not None
        over_process = await stream(stack, story_url(gateway, theirs), bearer(theirs.token))
        status, _ = await http_status(gateway)

    assert (over_user.status, over_user.headers["retry-after"]) == (429, "1")
    assert over_user.body == b'{"code": 4029, "reason": "too_many_connections"}'
    assert (over_process.status, over_process.headers["retry-after"]) == (503, "1")
    assert over_process.body == b'{"code": 1013, "reason": "unavailable"}\n'
    assert status == 200, "plain requests are still served at the cap"


async def http_status(gateway: GatewayProcess) -> tuple[int, bytes]:
    answer = await open_stream(f"{gateway.http}/healthz")
    answer.close()
    return answer.status, answer.body


async def test_streams_are_counted_by_endpoint_and_end_with_event_close_1001_at_shutdown(
    start_gateway: StartGateway, new_story: NewStory, redis_publisher: RedisProgressPublisher
) -> None:
    gateway = start_gateway()
    story = await new_story()
    await redis_publisher.publish(make_update(story.id, S.GENERATING, 30))
    async with AsyncExitStack() as stack:
        streams = [await stream(stack, story_url(gateway, story), bearer(story.token)) for _ in range(2)]
        dashboard = await stream(stack, f"{gateway.http}/sse/user/stories", bearer(story.token))
        for opened in (*streams, dashboard):
            await opened.progress()

        async def counted() -> bool:
            metrics = await scrape(gateway.http)
            return (
                metrics.value("gateway_connections", endpoint="sse_story"),
                metrics.value("gateway_connections", endpoint="sse_dashboard"),
            ) == (2, 1)

        await wait_for_condition(counted, 5, "2 story streams and 1 dashboard stream counted")
        streams.pop().close()
        await wait_for_condition(
            lambda: _closed_count(gateway, "1001"), 5, "the stream the client closed counted as 1001"
        )
        stopping = asyncio.create_task(asyncio.to_thread(gateway.stop, signal.SIGTERM, 10))
        ends = [await opened.until_end(10) for opened in (*streams, dashboard)]
        assert await stopping == 0

    for rest in ends:
        assert [e.json() for e in rest if e.event == "close"] == [{"code": 1001, "reason": "shutdown"}]


async def _closed_count(gateway: GatewayProcess, code: str) -> bool:
    return (await scrape(gateway.http)).value("gateway_closes_total", endpoint="sse_story", code=code) == 1


async def test_no_token_reaches_the_log_from_a_query_string_or_an_authorization_header(
    start_gateway: StartGateway, new_story: NewStory
) -> None:
    gateway = start_gateway(LOG_LEVEL="DEBUG")
    story = await new_story()
    async with AsyncExitStack() as stack:
        for opened in (
            await stream(stack, story_url(gateway, story, f"?token={story.token}")),
            await stream(stack, story_url(gateway, story), bearer(story.token)),
        ):
            assert (await opened.next()).retry is not None
    refused = await open_stream(story_url(gateway, story, "?token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"))
    refused.close()

    async def all_logged() -> bool:
        return gateway.log().count("connection closed") >= 3

    await wait_for_condition(all_logged, 5, "3 'connection closed' lines")
    log = gateway.log()
    assert story.token not in log
    assert "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0" not in log
    assert "endpoint=sse_story" in log


async def test_a_reader_that_stops_is_merged_then_ended_with_4008_while_another_keeps_up(
    start_gateway: StartGateway, new_story: NewStory, redis_publisher: RedisProgressPublisher
) -> None:
    gateway = start_gateway(SLOW_CLIENT_SECONDS="1")
    story = await new_story()
    await redis_publisher.publish(make_update(story.id, S.GENERATING, 0))
    step = "Writing chapter 2: " + "the keeper finds the letter under the stairs. " * 40  # about 2 KB
    async with AsyncExitStack() as stack:
        stalled = await open_stream(story_url(gateway, story), bearer(story.token), receive_buffer=4096)
        stack.callback(stalled.close)
        reader = await stream(stack, story_url(gateway, story), bearer(story.token))
        await reader.progress()
        for percent in range(1, 100):
            await redis_publisher.publish(make_update(story.id, S.GENERATING, percent, step))
            assert (await reader.progress()).json()["progress_percent"] == percent

        async def ended_slow() -> bool:
            metrics = await scrape(gateway.http)
            return metrics.value("gateway_closes_total", endpoint="sse_story", code="4008") == 1

        waited = await wait_for_condition(ended_slow, 10, "the stalled stream ended with 4008")
        merged = (await scrape(gateway.http)).value("gateway_updates_merged_total")
        await redis_publisher.publish(make_update(story.id, S.COMPLETE, 100))
        final = await reader.progress()
        rest = await stalled.until_end(10)

    progress = [e for e in rest if e.event == "progress"]
    assert final.json()["status"] == "complete"
    assert waited < 1 + 2, "ended within SLOW_CLIENT_SECONDS of the buffer filling (plus the wheel's ticks)"
    assert rest[-1].event == "close"
    assert rest[-1].json() == {"code": 4008, "reason": "slow_client"}
    assert 0 < len(progress) < 99, "it got what was in the buffers, not every update"
    assert merged > 0, "what it could not take waited merged in its outbox"


async def test_a_story_that_moved_ends_its_foreign_streams_with_event_close_4003_and_leaves_dashboards(
    start_gateway: StartGateway,
    new_story: NewStory,
    redis_publisher: RedisProgressPublisher,
    redis_client: Redis,
    redis_keys: RedisKeys,
    database: Database,
) -> None:
    gateway = start_gateway(
        OWNERSHIP_TTL_SECONDS="600", KEEPALIVE_SECONDS="0.5"
    )  # only the revocation re-checks
    story, other = await new_story(), await new_story()
    newcomer = uuid.uuid4()
    await redis_publisher.publish(make_update(story.id, S.GENERATING, 30))
    async with AsyncExitStack() as stack:
        own = await stream(stack, story_url(gateway, story), bearer(story.token))
        dashboard = await stream(stack, f"{gateway.http}/sse/user/stories", bearer(story.token))
        for opened in (own, dashboard):
            await opened.progress()
        await execute(database.dsn, "UPDATE stories SET user_id = $1 WHERE id = $2", newcomer, story.id)
        await redis_client.publish(redis_keys.revocations, str(story.id))
        rest = await own.until_end(5)
        await redis_publisher.publish(make_update(story.id, S.COMPLETE, 100))
        await redis_publisher.publish(make_update(other.id, S.ANALYZING, 5))  # not this user's
        mine = f"{gateway.http}/sse/stories/{story.id}/progress"
        again = await open_stream(mine, bearer(story.token))
        again.close()
        after: list[Event] = []
        while len([e for e in after if e.comment == "ping"]) < 2:  # the dashboard stays open
            after.append(await dashboard.next(3))

    assert [e.json() for e in rest if e.event == "close"] == [{"code": 4003, "reason": "forbidden"}]
    assert (again.status, json.loads(again.body)) == (403, {"code": 4003, "reason": "forbidden"})
    assert [e for e in after if e.event == "progress"] == [], "the story left the old owner's dashboard"


async def test_other_origins_read_streams_under_cors_and_a_foreign_origin_is_refused(
    start_gateway: StartGateway, new_story: NewStory
) -> None:
    app = "https://app.example"
    gateway = start_gateway(ALLOWED_ORIGINS=app)
    story = await new_story()
    preflight_headers = {
        "Origin": app,
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }
    preflight = await open_stream(story_url(gateway, story), preflight_headers, method="OPTIONS")
    preflight.close()
    async with AsyncExitStack() as stack:
        allowed = await stream(stack, story_url(gateway, story), {**bearer(story.token), "Origin": app})
        same_site = await stream(stack, story_url(gateway, story), bearer(story.token))  # no Origin
        assert (await allowed.next()).retry is not None
        assert (await same_site.next()).retry is not None
    foreign = await open_stream(
        story_url(gateway, story), {**bearer(story.token), "Origin": "https://evil.example"}
    )
    foreign.close()

    assert preflight.status in (200, 204)
    assert preflight.headers["access-control-allow-origin"] == app
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    assert allowed.status == same_site.status == 200
    assert allowed.headers["access-control-allow-origin"] == app
    assert (foreign.status, json.loads(foreign.body)) == (403, {"reason": "origin"})
    assert "access-control-allow-origin" not in foreign.headers


async def test_an_sse_request_keeps_the_http_request_bounds(
    start_gateway: StartGateway, new_story: NewStory
) -> None:
    gateway = start_gateway()
    story = await new_story()
    with_body = await open_stream(story_url(gateway, story), {**bearer(story.token), "Content-Length": "5"})
    with_body.close()
    huge = await open_stream(story_url(gateway, story, "?x=" + "a" * 9000), bearer(story.token))
    huge.close()

    assert with_body.status == 413
    assert huge.status == 414
