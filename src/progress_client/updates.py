"""One progress message, as the client sees it (docs/protocol.md), and its parser."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

FINAL_STATUSES = frozenset({"complete", "failed"})


@dataclass(frozen=True, slots=True)
class ProgressUpdate:
    story_id: str
    status: str
    progress_percent: int
    current_step: str
    updated_at: str
    seq: int | None

    @property
    def final(self) -> bool:
        """`complete` and `failed` are the last update a story ever gets."""
        return self.status in FINAL_STATUSES

    def to_json(self) -> str:
        fields: dict[str, Any] = {
            "story_id": self.story_id,
            "status": self.status,
            "progress_percent": self.progress_percent,
            "current_step": self.current_step,
            "updated_at": self.updated_at,
        }
        if self.seq is not None:
            fields["seq"] = self.seq
        return json.dumps(fields)


def parse_update(text: str) -> ProgressUpdate | None:
    """The update in a text frame, or None for control texts (`ping`, `auth ok`, ...)."""
    if not text.startswith("{"):
        return None
    raw = json.loads(text)
    seq = raw.get("seq")
    return ProgressUpdate(
        story_id=str(raw["story_id"]),
        status=str(raw["status"]),
        progress_percent=int(raw["progress_percent"]),
        current_step=str(raw.get("current_step", "")),
        updated_at=str(raw.get("updated_at", "")),
        seq=int(seq) if seq is not None else None,
    )
