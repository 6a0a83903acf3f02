"""Progress model: what parse_update accepts, what it refuses (naming the field), which update is newer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from domain.progress import InvalidUpdate, ProgressUpdate, StoryStatus, parse_update
from tests.unit.conftest import update

STORY = uuid.uuid4()
T0 = datetime(2026, 11, 25, 20, 43, 58, 123456, tzinfo=UTC)


def wire(**changes: object) -> dict[str, Any]:
    valid: dict[str, Any] = {
        "story_id": str(STORY),
        "status": "generating",
        "progress_percent": 40,
        "current_step": "Writing chapter 2",
        "updated_at": "2026-11-25T20:43:58.123456+00:00",
        "seq": 17,
    }
    return {**valid, **changes}


def test_a_valid_update_is_parsed_into_domain_values() -> None:
    parsed = parse_update(wire())

    assert parsed == ProgressUpdate(STORY, StoryStatus.GENERATING, 40, "Writing chapter 2", T0, 17)


def test_seq_may_be_absent_for_legacy_publishers() -> None:
    data = wire()
    del data["seq"]

    assert parse_update(data).seq is None


@pytest.mark.parametrize("percent", [0, 100])
def test_percent_bounds_are_inclusive(percent: int) -> None:
    assert parse_update(wire(progress_percent=percent)).progress_percent == percent


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"status": "paused"}, "status"),
        ({"status": "GENERATING"}, "status"),
        ({"status": 3}, "status"),
        ({"progress_percent": 101}, "progress_percent"),
        ({"progress_percent": -1}, "progress_percent"),
        ({"progress_percent": 250}, "progress_percent"),
        ({"progress_percent": True}, "progress_percent"),
        ({"progress_percent": 40.0}, "progress_percent"),
        ({"progress_percent": "40"}, "progress_percent"),
        ({"progress_percent": None}, "progress_percent"),
        ({"story_id": "story-1"}, "story_id"),
        ({"story_id": ""}, "story_id"),
        ({"story_id": 12}, "story_id"),
        ({"updated_at": "yesterday"}, "updated_at"),
        ({"updated_at": "2026-11-25T20:43:58"}, "updated_at"),
        ({"updated_at": 1764103438}, "updated_at"),
        ({"current_step": None}, "current_step"),
        ({"current_step": ["a"]}, "current_step"),
        ({"seq": -1}, "seq"),
        ({"seq": 1.5}, "seq"),
        ({"seq": "17"}, "seq"),
        ({"seq": False}, "seq"),
    ],
)
def test_an_invalid_field_is_refused_by_name(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidUpdate) as refused:
        parse_update(wire(**changes))

    assert refused.value.field == field


@pytest.mark.parametrize("payload", [None, [], "update", 40])
def test_a_payload_that_is_not_an_object_is_refused_as_payload(payload: object) -> None:
    with pytest.raises(InvalidUpdate) as refused:
        parse_update(payload)

    assert refused.value.field == "payload"


def test_a_missing_field_is_refused_by_name() -> None:
    data = wire()
    del data["current_step"]

    with pytest.raises(InvalidUpdate, match="current_step: missing"):
        parse_update(data)


def test_a_timestamp_in_another_time_zone_keeps_its_instant() -> None:
    parsed = parse_update(wire(updated_at="2026-11-25T21:43:58.123456+01:00"))

    assert parsed.updated_at == T0
    assert parsed.updated_at.utcoffset() == timezone(timedelta(hours=1)).utcoffset(None)


def test_seq_decides_which_update_is_newer_whatever_the_clocks_say() -> None:
    older = update(STORY, seq=4, at=T0 + timedelta(hours=1))
    newer = update(STORY, seq=5, at=T0)

    assert newer.is_newer_than(older)
    assert not older.is_newer_than(newer)
    assert not newer.is_newer_than(newer)


def test_updated_at_decides_when_either_update_has_no_seq() -> None:
    earlier = update(STORY, seq=9, at=T0)
    later = update(STORY, seq=None, at=T0 + timedelta(seconds=1))

    assert later.is_newer_than(earlier)
    assert not earlier.is_newer_than(later)
    assert not update(STORY, at=T0).is_newer_than(update(STORY, at=T0))


def test_a_live_update_is_stale_only_when_seq_proves_it() -> None:
    held = update(STORY, seq=5)

    assert update(STORY, seq=6).supersedes_live(held)
    assert not update(STORY, seq=5).supersedes_live(held)
    assert not update(STORY, seq=4).supersedes_live(held)


def test_a_seq_less_live_update_keeps_arrival_order_even_with_an_older_clock() -> None:
    held = update(STORY, at=T0)

    assert update(STORY, at=T0 - timedelta(minutes=5)).supersedes_live(held)
    assert update(STORY, seq=1, at=T0 - timedelta(minutes=5)).supersedes_live(held)


def test_terminal_statuses_are_complete_and_failed() -> None:
    assert {s for s in StoryStatus if s.terminal} == {StoryStatus.COMPLETE, StoryStatus.FAILED}
