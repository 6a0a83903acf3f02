"""SSE streams over the gateway on the fakes: the response begins only once the session serves, so
every refusal is an HTTP answer; `Last-Event-ID` skips a snapshot the client holds, and a story
that ended there gets 204; the direct path writes each update framed once; the token's expiry
ends the stream with `event: close`; metrics count the endpoints apart."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from domain.errors import Closure
from domain.progress import StoryStatus
from entrypoints.event_stream import EventFrames
from entrypoints.sse_socket import SseClientSocket
from entrypoints.transport import TRANSPORT
from testkit.asgi import AsgiExchange
from testkit.waiting import timeout
from tests.unit.conftest import Rig, eventually

S = StoryStatus


@dataclass
class FakeSeam:
    """The server's end of an SSE response, as `sse_transport.SseTransport` offers it."""

    chunked: bool = True
    keeps_up: bool = True
    written: list[bytes] = field(default_factory=list)
    closure: Closure | None = None
    streams: int = 0

    def streaming(self) -> None:
        self.streams += 1

    def write_now(self, data: bytes) -> bool:
        if not self.keeps_up or self.closure is not None:
            return False
        self.written.append(data)
        return True

    def close_now(self, closure: Closure) -> None:
        self.closure = closure


@dataclass
class Streams:
    rig: Rig
    frames: EventFrames = field(default_factory=EventFrames)
    opened: list[tuple[AsgiExchange, asyncio.Task[None]]] = field(default_factory=list)

    def story(
        self,
        token: str | None,
        *,
        story: object = None,
        resume: int | None = None,
        seam: FakeSeam | None = None,
    ) -> AsgiExchange:
        raw = str(story or self.rig.story)
        return self._open(
            lambda socket: self.rig.gateway.story(socket, token, raw, via="sse", resume=resume), True, seam
        )

    def dashboard(self, token: str) -> AsgiExchange:
        return self._open(lambda socket: self.rig.gateway.dashboard(socket, token, via="sse"), False, None)

    def _open(
        self, serve: Callable[[SseClientSocket], Any], with_id: bool, seam: FakeSeam | None
    ) -> AsgiExchange:
        exchange = AsgiExchange()
        scope: dict[str, Any] = {"type": "http", "extensions": {TRANSPORT: seam} if seam else {}}
        socket = SseClientSocket(scope, exchange.receive, exchange.send, self.frames, with_id=with_id)
        self.opened.append((exchange, asyncio.create_task(serve(socket))))
        return exchange

    async def ended(self, exchange: AsgiExchange) -> None:
        task = next(task for each, task in self.opened if each is exchange)
        async with asyncio.timeout(timeout(2)):
            await asyncio.shield(task)


@pytest.fixture
async def streams(rig: Rig) -> AsyncIterator[Streams]:
    made = Streams(rig)
    yield made
    for exchange, _ in made.opened:
        exchange.leave()
    await asyncio.gather(*(task for _, task in made.opened))


async def test_the_stream_begins_with_its_head_and_a_retry_hint_then_the_snapshot(
    rig: Rig, streams: Streams
) -> None:
    await rig.publish(percent=10)
    exchange = streams.story(rig.tokens.issue(rig.user))
    await exchange.wait_for(lambda e: len(e.progress()) == 1, timeout(2))
    await rig.publish(status=S.GENERATING, percent=40)
    await exchange.wait_for(lambda e: len(e.progress()) == 2, timeout(2))

    assert exchange.status == 200
    assert exchange.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert (exchange.headers["cache-control"], exchange.headers["x-accel-buffering"]) == ("no-store", "no")
    assert exchange.events()[0].retry is not None
    assert [(e.id, e.json()["status"]) for e in exchange.progress()] == [
        ("1", "analyzing"),
        ("2", "generating"),
    ]
    assert rig.metrics.open["sse_story"] == 1


@pytest.mark.parametrize(
    ("case", "status", "reason"),
    [
        ("no token", 401, "invalid_token"),
        ("expired", 401, "token_expired"),
        ("foreign story", 403, "forbidden"),
        ("directory down", 503, "unavailable"),
    ],
)
async def test_a_refusal_is_an_http_answer_with_the_close_code_s_reason(
    rig: Rig, streams: Streams, case: str, status: int, reason: str
) -> None:
    token: str | None = rig.tokens.issue(rig.user)
    story = rig.story
    if case == "no token":
        token = None
    elif case == "expired":
        token = rig.tokens.issue(rig.user, ttl_seconds=-1)
    elif case == "foreign story":
        story = uuid.uuid4()
        rig.directory.add(story, uuid.uuid4())
    else:
        story = uuid.uuid4()  # not cached: the directory must answer
        rig.directory.add(story, rig.user)
        rig.directory.fail()
    exchange = streams.story(token, story=story)
    await streams.ended(exchange)

    assert exchange.status == status
    assert exchange.headers["content-type"] == "application/json"
    assert json.loads(exchange.body)["reason"] == reason
    assert json.loads(exchange.body)["code"] == {401: 4001, 403: 4003, 503: 1013}[status]
    assert ("retry-after" in exchange.headers) is (status == 503)
    assert exchange.complete


async def test_a_user_over_their_share_gets_429(make_rig: Any) -> None:
    rig: Rig = await make_rig()
    quota = rig.container.quota()  # the gateway's share of the process: the test fills it
    streams = Streams(rig)
    for _ in range(quota.limit):
        assert quota.acquire(rig.user)
    exchange = streams.story(rig.tokens.issue(rig.user))
    await streams.ended(exchange)
    for _ in range(quota.limit):
        quota.release(rig.user)

    assert (exchange.status, exchange.headers["retry-after"]) == (429, "1")
    assert json.loads(exchange.body) == {"code": 4029, "reason": "too_many_connections"}


async def test_last_event_id_at_the_held_seq_sends_no_snapshot_but_later_updates(
    rig: Rig, streams: Streams
) -> None:
    for percent in (10, 20):
        await rig.publish(percent=percent)
    resumed = streams.story(rig.tokens.issue(rig.user), resume=2)
    behind = streams.story(rig.tokens.issue(rig.user), resume=1)
    await behind.wait_for(lambda e: len(e.progress()) == 1, timeout(2))
    await eventually(lambda: rig.hub.subscriber_count == 2)
    await rig.publish(status=S.GENERATING, percent=30)
    await resumed.wait_for(lambda e: len(e.progress()) == 1, timeout(2))

    assert [e.id for e in resumed.progress()] == ["3"]
    assert resumed.status == 200
    assert [e.id for e in behind.progress()][:1] == ["2"]


async def test_a_story_that_ended_at_the_held_seq_gets_204_and_no_subscription(
    rig: Rig, streams: Streams
) -> None:
    await rig.publish(status=S.GENERATING, percent=50)
    await rig.publish(status=S.COMPLETE, percent=100)
    finished = streams.story(rig.tokens.issue(rig.user), resume=2)
    past = streams.story(rig.tokens.issue(rig.user), resume=5)
    await streams.ended(finished)
    await streams.ended(past)
    before = streams.story(rig.tokens.issue(rig.user), resume=1)
    await before.wait_for(lambda e: len(e.progress()) == 1, timeout(2))

    assert (finished.status, finished.body, past.status) == (204, b"", 204)
    assert rig.metrics.counts["closed:finished"] == 2
    assert [(e.id, e.json()["status"]) for e in before.progress()] == [("2", "complete")]


async def test_updates_go_straight_to_the_seam_framed_once_for_all_streams(
    rig: Rig, streams: Streams
) -> None:
    seams = [FakeSeam(), FakeSeam()]
    exchanges = [streams.story(rig.tokens.issue(rig.user), seam=seam) for seam in seams]
    for exchange in exchanges:
        await exchange.wait_for(lambda e: e.status == 200, timeout(2))
    await eventually(lambda: rig.hub.subscriber_count == 2)
    await rig.publish(percent=10)
    await eventually(lambda: all(seam.written for seam in seams))

    first, second = (seam.written[0] for seam in seams)
    assert first is second, "one framing for every stream"
    size, body = first.split(b"\r\n", 1)
    assert (int(size, 16), body[-2:]) == (len(body) - 2, b"\r\n"), "one chunk"
    assert body.startswith(b"event: progress\nid: 1\ndata: {")
    assert all(seam.streams == 1 for seam in seams)
    assert all(len(exchange.progress()) == 0 for exchange in exchanges), "nothing went through ASGI"


async def test_a_stream_whose_peer_is_behind_gets_its_updates_from_a_sender(
    rig: Rig, streams: Streams
) -> None:
    seam = FakeSeam(keeps_up=False)
    exchange = streams.story(rig.tokens.issue(rig.user), seam=seam)
    await eventually(lambda: rig.hub.subscriber_count == 1)
    await rig.publish(percent=10)
    await exchange.wait_for(lambda e: len(e.progress()) == 1, timeout(2))

    assert seam.written == []
    assert exchange.progress()[0].id == "1"


async def test_the_token_s_expiry_ends_the_stream_with_a_close_event(rig: Rig, streams: Streams) -> None:
    plain = streams.story(rig.tokens.issue(rig.user, ttl_seconds=0.3))
    seam = FakeSeam()
    direct = streams.story(rig.tokens.issue(rig.user, ttl_seconds=0.3), seam=seam)
    await streams.ended(plain)
    await streams.ended(direct)

    assert [e.json() for e in plain.events() if e.event == "close"] == [
        {"code": 4001, "reason": "token_expired"}
    ]
    assert plain.complete
    assert seam.closure is Closure.TOKEN_EXPIRED


async def test_dashboard_streams_carry_no_id(rig: Rig, streams: Streams) -> None:
    await rig.publish(percent=10)
    exchange = streams.dashboard(rig.tokens.issue(rig.user))
    await exchange.wait_for(lambda e: len(e.progress()) == 1, timeout(2))

    assert [(e.id, e.json()["seq"]) for e in exchange.progress()] == [(None, 1)]
    assert rig.metrics.open["sse_dashboard"] == 1


async def test_a_client_that_leaves_ends_its_session(rig: Rig, streams: Streams) -> None:
    exchange = streams.story(rig.tokens.issue(rig.user))
    await eventually(lambda: rig.hub.subscriber_count == 1)
    exchange.leave()
    await streams.ended(exchange)

    assert rig.hub.subscriber_count == 0
    assert rig.metrics.counts["close_code:1001"] == 1
    assert rig.metrics.open["sse_story"] == 0
