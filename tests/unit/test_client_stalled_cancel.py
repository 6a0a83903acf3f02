"""The Python client's parts of issue 15: the `stalled` flag and its seq rule, the cancel answers,
the requests awaiting them (bounded), and `watch`'s Ctrl-C (once stops, twice cancels)."""

from __future__ import annotations

import asyncio
import json

import pytest

from codestory_progress_client.cancel import (
    CANCELLED,
    MAX_PENDING,
    UNAVAILABLE,
    CancelAnswer,
    CancelRefusal,
    CancelResult,
    PendingCancels,
    parse_cancel_answer,
)
from codestory_progress_client.interrupts import Interrupts
from codestory_progress_client.rules import SeqFilter
from codestory_progress_client.updates import parse_update

BASE = {"story_id": "s", "status": "generating", "progress_percent": 40, "seq": 3}


@pytest.mark.parametrize(
    ("raw", "stalled"), [(True, True), (False, False), (None, False), ("true", False), (1, False)]
)
def test_only_a_true_stalled_counts(raw: object, stalled: bool) -> None:
    update = parse_update(json.dumps({**BASE, "stalled": raw}))

    assert update is not None
    assert update.stalled is stalled


def test_stalled_is_written_only_when_true() -> None:
    stalled = parse_update(json.dumps({**BASE, "stalled": True}))
    plain = parse_update(json.dumps(BASE))
    assert stalled is not None
    assert plain is not None

    assert json.loads(stalled.to_json())["stalled"] is True
    assert "stalled" not in json.loads(plain.to_json())


def test_the_same_seq_is_taken_when_only_stalled_changes() -> None:
    seqs = SeqFilter()

    kept = [
        seqs.accept("a", seq, stalled)
        for seq, stalled in (
            (3, False),
            (3, True),
            (3, True),
            (3, False),
            (3, False),
            (2, True),
            (4, True),
            (5, False),
        )
    ]

    assert kept == [True, True, False, True, False, False, True, True]


def test_stalled_after_a_reconnect_is_the_snapshot() -> None:
    seqs = SeqFilter()
    assert seqs.accept("a", 7, stalled=True)
    seqs.reconnected()

    assert seqs.accept("a", 7, stalled=True)
    assert not seqs.accept("a", 7, stalled=True)
    assert seqs.accept("a", 8)


ANSWERS = {
    "cancel ok": CancelAnswer(None, CANCELLED),
    "cancel refused terminal": CancelAnswer(None, CancelResult(False, CancelRefusal.TERMINAL)),
    "cancel refused forbidden": CancelAnswer(None, CancelResult(False, CancelRefusal.FORBIDDEN)),
    "cancel refused unavailable": CancelAnswer(None, UNAVAILABLE),
    "cancel ok 5e1c": CancelAnswer("5e1c", CANCELLED),
    "cancel refused 5e1c terminal": CancelAnswer("5e1c", CancelResult(False, CancelRefusal.TERMINAL)),
    "cancel refused other": None,
    "cancel refused 5e1c other": None,
    "cancel refused": None,
    "cancel ok a b": None,
    "cancel": None,
    "cancelled ok": None,
    "auth ok": None,
    "ping": None,
}


@pytest.mark.parametrize(("text", "answer"), ANSWERS.items())
def test_cancel_answers_on_both_endpoints(text: str, answer: CancelAnswer | None) -> None:
    assert parse_cancel_answer(text) == answer


async def test_pending_cancels_are_answered_in_order_per_story_and_bounded() -> None:
    pending = PendingCancels()
    first, second, other = pending.expect("a"), pending.expect("a"), pending.expect("b")
    assert first is not None
    assert second is not None
    assert other is not None

    pending.answered(CancelAnswer("b", CANCELLED))
    pending.answered(CancelAnswer("a", CancelResult(False, CancelRefusal.TERMINAL)))
    assert (first.done(), second.done(), other.result()) == (True, False, CANCELLED)
    assert first.result().reason is CancelRefusal.TERMINAL

    fill = [pending.expect(str(n)) for n in range(MAX_PENDING + 5)]
    assert fill.count(None) == 6  # `second` still waits: the bound counts it
    pending.closed()
    assert second.result() == UNAVAILABLE
    assert all(f.result() == UNAVAILABLE for f in fill if f is not None)
    assert pending.expect("c") is not None


class Asked:
    def __init__(self, result: CancelResult) -> None:
        self.result = result
        self.calls = 0
        self.said: list[str] = []
        self.answered = asyncio.Event()

    def say(self, text: str) -> None:
        self.said.append(text)
        self.answered.set()

    async def cancel(self) -> CancelResult:
        self.calls += 1
        return self.result


async def test_one_ctrl_c_stops_watching_after_the_window_without_cancelling() -> None:
    asked = Asked(CANCELLED)
    interrupts = Interrupts(asked.cancel, asked.say, window=0.05)

    interrupts.pressed()
    await asyncio.wait_for(interrupts.quit.wait(), 2)

    assert asked.calls == 0
    assert "again" in asked.said[0]


async def test_two_ctrl_c_cancel_and_keep_watching_a_third_quits() -> None:
    asked = Asked(CANCELLED)
    interrupts = Interrupts(asked.cancel, asked.say, window=0.2)

    interrupts.pressed()
    interrupts.pressed()
    asked.answered.clear()  # the hint is said; now the cancel's outcome
    await asyncio.wait_for(asked.answered.wait(), 2)
    with pytest.raises(TimeoutError):  # past the window: watching goes on (the story's end stops it)
        await asyncio.wait_for(interrupts.quit.wait(), 0.5)

    assert "cancel requested" in asked.said[1]
    interrupts.pressed()
    assert interrupts.quit.is_set()


async def test_a_refused_cancel_says_why_and_stops_watching() -> None:
    asked = Asked(CancelResult(False, CancelRefusal.TERMINAL))
    interrupts = Interrupts(asked.cancel, asked.say, window=5)

    interrupts.pressed()
    interrupts.pressed()
    await asyncio.wait_for(interrupts.quit.wait(), 2)

    assert asked.said[-1] == "cancel refused: terminal"
