"""Outbox ordering under any interleaving of offers and pops: per story, the client never goes back,
never misses a status change, and ends holding the latest state."""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.json_codec import JsonCodec
from domain.connection.outbox import Offer, Outbox
from domain.progress import Frame, StoryStatus
from tests.unit.conftest import update

STORIES = [uuid.uuid4() for _ in range(3)]
CODEC = JsonCodec()


@dataclass(frozen=True)
class Publish:
    story: int
    status: StoryStatus
    percent: int


@dataclass(frozen=True)
class Replay:
    """A duplicate or late delivery of an update already offered."""

    story: int
    pick: int


@dataclass(frozen=True)
class Read:
    """The sender drains `count` queued entries (the socket was behind)."""

    count: int


@dataclass(frozen=True)
class Writable:
    """Whether the socket takes a message at once (direct write) from now on."""

    now: bool


story_index = st.integers(0, len(STORIES) - 1)
publish = st.builds(Publish, story_index, st.sampled_from(StoryStatus), st.integers(0, 100))
operations = st.lists(
    st.one_of(
        publish,
        publish,
        st.builds(Replay, story_index, st.integers(0, 1000)),
        st.builds(Read, st.integers(1, 4)),
        st.builds(Writable, st.booleans()),
    ),
    max_size=60,
)


def collapse(statuses: Sequence[str]) -> list[str]:
    return [status for status, _ in itertools.groupby(statuses)]


def read(outbox: Outbox, count: int | None = None) -> list[dict[str, Any]]:
    """What a sender writes: pop, write, done, in order."""
    messages = []
    for entry in itertools.islice(iter(outbox.pop, None), count):
        assert isinstance(entry, Frame)
        messages.append(json.loads(entry.text))
        outbox.done()
    return messages


@settings(max_examples=200, deadline=None)
@given(operations)
def test_per_story_order_status_changes_and_final_state_survive_any_interleaving(
    ops: list[Publish | Replay | Read | Writable],
) -> None:
    outbox = Outbox(limit=10_000)
    offered: dict[str, list[Frame]] = {str(story): [] for story in STORIES}
    received: list[dict[str, Any]] = []
    writable = [True]

    def write_now(entry: Frame | str) -> bool:
        if writable[0] and isinstance(entry, Frame):
            received.append(json.loads(entry.text))
        return writable[0]

    outbox.attach(write_now, lambda: None, lambda closure: None)

    for op in ops:
        match op:
            case Publish(story, status, percent):
                history = offered[str(STORIES[story])]
                sent = update(STORIES[story], status, percent, seq=len(history) + 1)
                history.append(Frame(sent, CODEC.encode_bytes(sent)))
                outbox.offer(history[-1])
            case Replay(story, pick) if history := offered[str(STORIES[story])]:
                assert outbox.offer(history[pick % len(history)]) is Offer.STALE
            case Read(count):
                received.extend(read(outbox, count))
            case Writable(now):
                writable[0] = now
    received.extend(read(outbox))

    for story_id, frames in offered.items():
        mine = [message for message in received if message["story_id"] == story_id]
        assert [m["seq"] for m in mine] == sorted({m["seq"] for m in mine}), "seq must strictly increase"
        assert collapse([m["status"] for m in mine]) == collapse([f.update.status.value for f in frames])
        assert mine[-1:] == [json.loads(f.text) for f in frames[-1:]], "the client ends on the latest state"
