"""The hub against a failing or misbehaving broker: it restarts, resyncs, and drops what is not an update."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from uuid import UUID

import pytest

from adapters.json_codec import JsonCodec
from domain.aio.backoff import Backoff
from domain.errors import FeedUnavailable
from domain.progress import StoryStatus
from testkit.waiting import timeout
from tests.unit.conftest import MakeRig, Rig, eventually, progress, update

FAST = Backoff(base=0.01, cap=0.05)


async def test_the_listener_restarts_after_a_broker_failure_and_is_ready_again(make_rig: MakeRig) -> None:
    rig = await make_rig(backoff=FAST)

    rig.broker.fail()
    await eventually(lambda: not rig.hub.ready)
    await eventually(lambda: rig.metrics.counts["listener_restarts"] >= 1)
    rig.broker.recover()
    await eventually(lambda: rig.hub.ready)
    socket = rig.open_story()
    await eventually(lambda: rig.hub.subscriber_count == 1)
    await rig.publish(percent=1)
    await socket.wait_for(lambda s: len(s.sent) >= 1, timeout(2))

    assert [m["progress_percent"] for m in progress(socket)] == [1]


async def test_an_update_published_while_resubscribing_reaches_the_subscriber(make_rig: MakeRig) -> None:
    rig = await make_rig(backoff=FAST)
    await rig.publish(percent=10)
    socket = rig.open_story()
    await socket.wait_for(lambda s: len(s.sent) >= 1, timeout(2))

    rig.broker.fail()
    await eventually(lambda: not rig.hub.ready)
    with pytest.raises(FeedUnavailable):
        await rig.publish(percent=15)
    rig.broker.recover()
    latest = await rig.publish(status=StoryStatus.GENERATING, percent=40)  # before the listener is back
    await socket.wait_for(lambda s: progress(s)[-1]["seq"] == latest.seq, timeout(2))

    assert progress(socket)[-1] == json.loads(JsonCodec().encode(latest))
    assert rig.metrics.counts["listener_restarts"] >= 1
    assert socket.closed is None


async def test_a_subscriber_connected_while_the_broker_is_down_gets_the_snapshot_after_recovery(
    make_rig: MakeRig,
) -> None:
    rig = await make_rig(backoff=FAST)
    await rig.publish(percent=70)
    rig.broker.fail()
    await eventually(lambda: not rig.hub.ready)

    socket = rig.open_story()
    await eventually(lambda: rig.hub.subscriber_count == 1)
    rig.broker.recover()
    await socket.wait_for(lambda s: len(s.sent) >= 1, timeout(2))

    assert [(m["progress_percent"], m["seq"]) for m in progress(socket)] == [(70, 1)]


def _wire(story: UUID, **changes: object) -> bytes:
    valid = json.loads(JsonCodec().encode(update(story, StoryStatus.GENERATING, 40)))
    return json.dumps({**valid, **changes}).encode()


INVALID: dict[str, tuple[Callable[[UUID], bytes], str]] = {
    "not-json": (lambda story: b"{not json", "payload"),
    "not-an-object": (lambda story: b"[1, 2]", "payload"),
    "percent-a-string": (lambda story: _wire(story, progress_percent="40"), "progress_percent"),
    "percent-250": (lambda story: _wire(story, progress_percent=250), "progress_percent"),
    "unknown-status": (lambda story: _wire(story, status="sleeping"), "status"),
    "naive-timestamp": (lambda story: _wire(story, updated_at="2026-01-01T00:00:00"), "updated_at"),
    "another-story-on-this-channel": (lambda story: _wire(uuid.uuid4()), "story_id"),
}


@pytest.mark.parametrize("case", INVALID)
async def test_an_invalid_broker_message_is_dropped_counted_and_delivery_goes_on(rig: Rig, case: str) -> None:
    make_payload, field = INVALID[case]
    socket = rig.open_story()
    await eventually(lambda: rig.hub.subscriber_count == 1)

    rig.broker.publish_raw(f"story:{rig.story}", make_payload(rig.story))
    await rig.publish(percent=42)
    await socket.wait_for(lambda s: len(s.sent) >= 1, timeout(2))

    assert [m["progress_percent"] for m in progress(socket)] == [42]
    assert rig.metrics.counts[f"rejected:{field}"] == 1
    assert rig.metrics.counts["listener_restarts"] == 0


async def test_a_deeply_nested_message_is_dropped_without_restarting_the_listener(rig: Rig) -> None:
    """1 kB of '[' on a channel is not an update: dropped and counted, and the listener keeps running."""
    socket = rig.open_story()
    await eventually(lambda: rig.hub.subscriber_count == 1)

    rig.broker.publish_raw(f"story:{rig.story}", b"[" * 1000 + b"]" * 1000)
    await rig.publish(percent=42)
    await socket.wait_for(lambda s: len(s.sent) >= 1, timeout(2))

    assert rig.metrics.counts["rejected:payload"] == 1
    assert rig.metrics.counts["listener_restarts"] == 0
