"""One update, checked at the source: a bad value raises `ValueError` before anything reaches Redis.

The checks are the gateway's (docs/protocol.md), plus a bound on the step's length: the gateway
drops a whole update over 64 KiB, and a progress bar shows a line, not a page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

STATUSES = ("analyzing", "generating", "synthesizing", "complete", "failed")
TERMINAL = frozenset({"complete", "failed"})
MAX_STEP_LENGTH = 1000  # characters; at most 4,000 bytes of UTF-8, far under the gateway's 64 KiB
DEFAULT_TTL_SECONDS = 604800  # the gateway's SNAPSHOT_TTL_SECONDS default: 7 days
_ERROR_NAME_LENGTH = 80


@dataclass(frozen=True, slots=True)
class Update:
    """What was published for a story, with the `seq` the publish script assigned to it."""

    story_id: UUID
    status: str
    progress_percent: int
    current_step: str
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    seq: int | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def body(self) -> str:
        """The JSON the publish script takes: compact, without `seq`, ending with its closing brace."""
        wire = {
            "story_id": str(self.story_id),
            "status": self.status,
            "progress_percent": self.progress_percent,
            "current_step": self.current_step,
            "updated_at": self.updated_at.isoformat(),
        }
        return json.dumps(wire, separators=(",", ":"), ensure_ascii=False)

    def to_json(self) -> str:
        """As stored and published: the script puts `"seq"` before the closing brace."""
        body = self.body()
        return body if self.seq is None else f'{body[:-1]},"seq":{self.seq}}}'


def make_update(story_id: UUID, status: object, percent: object, step: object) -> Update:
    """A checked update stamped now; `ValueError` names the first bad value."""
    if not isinstance(status, str) or status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {_shown(status)}")
    if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
        raise ValueError(f"progress_percent must be an int from 0 to 100, not {_shown(percent)}")
    if not isinstance(step, str):
        raise ValueError(f"current_step must be a str, not {type(step).__name__}")
    if len(step) > MAX_STEP_LENGTH:
        raise ValueError(f"current_step must be at most {MAX_STEP_LENGTH} characters, not {len(step)}")
    try:
        step.encode()
    except UnicodeEncodeError:
        raise ValueError("current_step must be valid Unicode text (it holds a lone surrogate)") from None
    return Update(story_id, STATUSES[STATUSES.index(status)], percent, step)  # a plain str, even from an enum


def story_uuid(value: object, name: str) -> UUID:
    """A UUID, or its text in any form `uuid.UUID` reads; `ValueError` otherwise."""
    if isinstance(value, UUID):
        return value
    if isinstance(value, str):
        try:
            return UUID(value)
        except ValueError:
            pass
    raise ValueError(f"{name} must be a UUID, not {_shown(value)}")


def failure(last: Update | None, error: BaseException) -> tuple[str, int, str] | None:
    """What a story's block publishes when `error` escapes it: `failed` at the last percent, with
    a step naming only the error's type (its message may hold secrets). None when nothing is due:
    the story already ended, or `error` is no `Exception` (a cancelled task, an interrupt, an
    exit: the worker is going away, not failing the story)."""
    if not isinstance(error, Exception) or (last is not None and last.terminal):
        return None
    kind = type(error).__name__[:_ERROR_NAME_LENGTH]
    return "failed", last.progress_percent if last else 0, f"Stopped by an error ({kind})"


def _shown(value: object) -> str:
    return repr(value)[:40]


def story_and_owner(story_id: object, owner: object, *, requires_owner: bool) -> tuple[UUID, UUID | None]:
    """The story and its owner as UUIDs; in cluster mode the owner is required (its channel)."""
    story = story_uuid(story_id, "story_id")
    if owner is None and requires_owner:
        raise ValueError("owner is required in cluster mode: each update also goes to the owner's channel")
    return story, None if owner is None else story_uuid(owner, "owner")
