"""The progress model: what a worker says about one story, and how to tell which update is newer."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar
from uuid import UUID

T = TypeVar("T")


class StoryStatus(enum.StrEnum):
    ANALYZING = "analyzing"
    GENERATING = "generating"
    SYNTHESIZING = "synthesizing"
    COMPLETE = "complete"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return self in (StoryStatus.COMPLETE, StoryStatus.FAILED)


class InvalidUpdate(ValueError):
    """A payload that is not a progress update; `field` names the culprit so logs say why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
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

    def is_newer_than(self, held: ProgressUpdate) -> bool:
        """Order by `seq` when both carry one, else by `updated_at` (updates of legacy publishers)."""
        if self.seq is not None and held.seq is not None:
            return self.seq > held.seq
        return self.updated_at > held.updated_at

    def supersedes_live(self, held: ProgressUpdate) -> bool:
        """A live update is delivered unless `seq` proves it stale; seq-less ones keep arrival order."""
        if self.seq is not None and held.seq is not None:
            return self.seq > held.seq
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
        raise InvalidUpdate("payload", "not a JSON object")
    return ProgressUpdate(
        story_id=parse_story_id(_required(data, "story_id", str)),
        status=_status(_required(data, "status", str)),
        progress_percent=_percent(data.get("progress_percent")),
        current_step=_required(data, "current_step", str),
        updated_at=_timestamp(_required(data, "updated_at", str)),
        seq=_seq(data.get("seq")),
    )


def parse_story_id(raw: str, field: str = "story_id") -> UUID:
    try:
        return UUID(raw)
    except ValueError:
        raise InvalidUpdate(field, "not a UUID") from None


def _required(data: Mapping[str, object], field: str, kind: type[T]) -> T:
    value = data.get(field)
    if not isinstance(value, kind):
        raise InvalidUpdate(field, "missing" if value is None else f"not a {kind.__name__}")
    return value


def _status(raw: str) -> StoryStatus:
    try:
        return StoryStatus(raw)
    except ValueError:
        raise InvalidUpdate("status", f"unknown status {raw[:32]!r}") from None


def _percent(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidUpdate("progress_percent", "not an integer")
    if not 0 <= value <= 100:
        raise InvalidUpdate("progress_percent", "outside 0-100")
    return value


def _timestamp(raw: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidUpdate("updated_at", "not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        raise InvalidUpdate("updated_at", "has no time zone")
    return parsed


def _seq(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidUpdate("seq", "not a non-negative integer")
    return value
