"""The progress model: what a worker says about one story, and how to tell which update is newer."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar
from uuid import UUID

T = TypeVar("T")

MAX_SEQ = 2**53  # the largest integer every JSON reader (JavaScript's numbers) holds exactly
MAX_UPDATE_BYTES = 64 * 1024  # a broker message over this is dropped before it is decoded


class StoryStatus(enum.StrEnum):
    ANALYZING = "analyzing"
    GENERATING = "generating"
    SYNTHESIZING = "synthesizing"
    COMPLETE = "complete"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return self in (StoryStatus.COMPLETE, StoryStatus.FAILED)


class RejectReason(enum.StrEnum):
    """Why a broker message is not an update: the field at fault, a fixed set (it labels a metric)."""

    PAYLOAD = "payload"  # not a JSON object at all
    TOO_BIG = "too_big"  # over MAX_UPDATE_BYTES, never decoded
    STORY_ID = "story_id"  # not a UUID, or not the story of its channel
    STATUS = "status"
    PROGRESS_PERCENT = "progress_percent"
    CURRENT_STEP = "current_step"
    UPDATED_AT = "updated_at"
    SEQ = "seq"
    REVOCATION = "revocation"  # a message of the revocations channel that is not a story id
    CHANNEL = "channel"  # a channel this process did not subscribe


class InvalidUpdate(ValueError):
    """A payload that is not a progress update; `field` names the culprit, `reason` says how
    (`name`, when given, is what the message calls the value: a command's argument)."""

    def __init__(self, field: RejectReason, reason: str, name: str | None = None) -> None:
        super().__init__(f"{name or field.value}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ProgressUpdate:
    story_id: UUID
    status: StoryStatus
    progress_percent: int
    current_step: str
    updated_at: datetime
    seq: int | None = None
    stalled: bool = False  # the gateway's judgement (no news from the worker), never the worker's

    def is_newer_than(self, held: ProgressUpdate) -> bool:
        """Order by `seq` when both carry one, else by `updated_at` (updates of legacy publishers).
        The same state with only `stalled` changed counts as newer: the flag is news of its own."""
        if self.seq is not None and held.seq is not None:
            return self.seq > held.seq or (self.seq == held.seq and self.stalled is not held.stalled)
        return self.updated_at > held.updated_at or (
            self.updated_at == held.updated_at and self.stalled is not held.stalled
        )

    def supersedes_live(self, held: ProgressUpdate) -> bool:
        """A live update is delivered unless `seq` proves it stale; seq-less ones keep arrival order."""
        if self.seq is not None and held.seq is not None:
            return self.seq > held.seq or (self.seq == held.seq and self.stalled is not held.stalled)
        return True

    def to_wire(self) -> dict[str, object]:
        wire: dict[str, object] = {
            "story_id": str(self.story_id),
            "status": self.status.value,
            "progress_percent": self.progress_percent,
            "current_step": self.current_step,
            "updated_at": self.updated_at.isoformat(),
        }
        if self.seq is not None:
            wire["seq"] = self.seq
        if self.stalled:
            wire["stalled"] = True
        return wire


@dataclass(frozen=True, slots=True)
class Frame:
    """An update with its wire form, encoded once however many clients receive it."""

    update: ProgressUpdate
    data: bytes

    @property
    def text(self) -> str:
        return self.data.decode()

    def lag(self) -> float:
        """Seconds from the update's `updated_at` until now."""
        return (datetime.now(UTC) - self.update.updated_at).total_seconds()


def parse_update(data: object) -> ProgressUpdate:
    """Validate a decoded JSON value; raises `InvalidUpdate` naming the first bad field."""
    if not isinstance(data, Mapping):
        raise InvalidUpdate(RejectReason.PAYLOAD, "not a JSON object")
    return ProgressUpdate(
        story_id=parse_story_id(_required(data, RejectReason.STORY_ID, str)),
        status=_status(_required(data, RejectReason.STATUS, str)),
        progress_percent=_percent(data.get("progress_percent")),
        current_step=_required(data, RejectReason.CURRENT_STEP, str),
        updated_at=_timestamp(_required(data, RejectReason.UPDATED_AT, str)),
        seq=_seq(data.get("seq")),
    )


def parse_story_id(raw: str, name: str = "story_id") -> UUID:
    try:
        return UUID(raw)
    except ValueError:
        raise InvalidUpdate(RejectReason.STORY_ID, "not a UUID", name) from None


def _required(data: Mapping[str, object], field: RejectReason, kind: type[T]) -> T:
    value = data.get(field.value)
    if not isinstance(value, kind):
        raise InvalidUpdate(field, "missing" if value is None else f"not a {kind.__name__}")
    return value


def _status(raw: str) -> StoryStatus:
    try:
        return StoryStatus(raw)
    except ValueError:
        raise InvalidUpdate(RejectReason.STATUS, f"unknown status {raw[:32]!r}") from None


def _percent(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidUpdate(RejectReason.PROGRESS_PERCENT, "not an integer")
    if not 0 <= value <= 100:
        raise InvalidUpdate(RejectReason.PROGRESS_PERCENT, "outside 0-100")
    return value


def _timestamp(raw: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidUpdate(RejectReason.UPDATED_AT, "not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        raise InvalidUpdate(RejectReason.UPDATED_AT, "has no time zone")
    return parsed


def _seq(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidUpdate(RejectReason.SEQ, "not a non-negative integer")
    if value > MAX_SEQ:
        raise InvalidUpdate(RejectReason.SEQ, "over 2^53")
    return value
