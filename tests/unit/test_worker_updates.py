"""The worker SDK's checks at the source, and the JSON it hands to the publish script."""

from __future__ import annotations

import enum
import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from adapters.json_codec import JsonCodec
from codestory_progress_worker import MAX_STEP_LENGTH
from codestory_progress_worker.updates import failure, make_update, story_and_owner
from domain.progress import ProgressUpdate, StoryStatus

STORY = uuid.UUID("6f1c2c4e-1d2b-4a3f-9c5e-0a1b2c3d4e5f")


def test_the_body_is_what_the_script_expects_and_the_gateway_reads() -> None:
    update = make_update(STORY, "generating", 40, "Writing chapter 2 — «ünïcode» 📖")
    body = update.body()

    assert body.endswith("}")
    assert "seq" not in json.loads(body)
    assert " " not in body.replace(update.current_step, "")  # compact: the script splices at the end
    stamped = replace(update, seq=7).to_json()
    assert stamped == body[:-1] + ',"seq":7}'
    assert JsonCodec().decode(stamped) == ProgressUpdate(
        STORY, StoryStatus.GENERATING, 40, update.current_step, update.updated_at, 7
    )


def test_an_update_is_stamped_now_with_a_time_zone() -> None:
    before = datetime.now(UTC)
    update = make_update(STORY, "analyzing", 5, "Cloning the repository")

    assert before <= update.updated_at <= datetime.now(UTC)
    assert datetime.fromisoformat(json.loads(update.body())["updated_at"]) == update.updated_at


@pytest.mark.parametrize(
    ("status", "percent", "step", "named"),
    [
        ("done", 5, "x", "status"),
        ("ANALYZING", 5, "x", "status"),
        (None, 5, "x", "status"),
        (3, 5, "x", "status"),
        ("analyzing", -1, "x", "progress_percent"),
        ("analyzing", 101, "x", "progress_percent"),
        ("analyzing", True, "x", "progress_percent"),
        ("analyzing", 5.0, "x", "progress_percent"),
        ("analyzing", "5", "x", "progress_percent"),
        ("analyzing", 5, "x" * (MAX_STEP_LENGTH + 1), "current_step"),
        ("analyzing", 5, None, "current_step"),
        ("analyzing", 5, b"bytes", "current_step"),
        ("analyzing", 5, "half a pair \ud800", "current_step"),
    ],
)
def test_a_bad_value_is_a_value_error_naming_it(
    status: object, percent: object, step: object, named: str
) -> None:
    with pytest.raises(ValueError, match=named):
        make_update(STORY, status, percent, step)


def test_the_longest_step_keeps_the_update_far_under_the_gateways_limit() -> None:
    update = make_update(STORY, "complete", 100, "📖" * MAX_STEP_LENGTH)  # 4 bytes a character

    assert len(update.to_json().encode()) < 64 * 1024 // 4


def test_a_status_from_an_enum_is_sent_as_plain_text() -> None:
    class Status(str, enum.Enum):  # noqa: UP042 (older workers' style: str() gives "Status.SYNTHESIZING")
        SYNTHESIZING = "synthesizing"

    update = make_update(STORY, Status.SYNTHESIZING, 70, "Mixing")

    assert type(update.status) is str
    assert json.loads(update.body())["status"] == "synthesizing"
    assert make_update(STORY, StoryStatus.COMPLETE, 100, "Done").status == "complete"


@pytest.mark.parametrize("story", [str(STORY), str(STORY).upper(), STORY.hex, f"{{{STORY}}}", STORY])
def test_a_story_id_in_any_form_uuid_reads(story: object) -> None:
    assert story_and_owner(story, None, requires_owner=False) == (STORY, None)


@pytest.mark.parametrize(
    ("story", "owner", "named"),
    [
        ("not-a-uuid", None, "story_id"),
        (42, None, "story_id"),
        (STORY, "nobody", "owner"),
        (STORY, None, "owner"),
    ],
)
def test_a_bad_story_or_a_missing_owner_in_cluster_mode_is_a_value_error(
    story: object, owner: object, named: str
) -> None:
    with pytest.raises(ValueError, match=named):
        story_and_owner(story, owner, requires_owner=True)


def test_a_failure_names_the_errors_type_never_its_message() -> None:
    last = make_update(STORY, "generating", 45, "Writing chapter 2")

    assert failure(last, ConnectionError("password=hunter2")) == (
        "failed",
        45,
        "Stopped by an error (ConnectionError)",
    )
    assert failure(None, KeyError("x")) == ("failed", 0, "Stopped by an error (KeyError)")


@pytest.mark.parametrize("error", [KeyboardInterrupt(), SystemExit(1), GeneratorExit()])
def test_an_interrupt_or_an_exit_fails_nothing(error: BaseException) -> None:
    assert failure(make_update(STORY, "generating", 45, "x"), error) is None


@pytest.mark.parametrize("status", ["complete", "failed"])
def test_a_finished_story_is_left_as_it_is(status: str) -> None:
    assert failure(make_update(STORY, status, 100, "x"), RuntimeError("late")) is None
