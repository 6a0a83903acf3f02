"""One progress message, as the client sees it (docs/protocol.md), and its parser."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

FINAL_STATUSES = frozenset({"complete", "failed"})
MAX_SAFE_INTEGER = 2**53 - 1


class MalformedUpdate(ValueError):
    """A text frame that looks like a progress message (it starts with `{`) but is not one. The
    stream skips it and goes on; `parse_update` raises it for callers that parse frames themselves."""


@dataclass(frozen=True, slots=True)
class ProgressUpdate:
    story_id: str
    status: str
    progress_percent: int
    current_step: str
    updated_at: str
    seq: int | None
    stalled: bool = False
    """The gateway's judgement: no update and no liveness refresh from the worker for
    `STALLED_AFTER_SECONDS`. Sent again with the same `seq`; the next update clears it."""

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
        if self.stalled:
            fields["stalled"] = True
        return json.dumps(fields)


def parse_update(text: str) -> ProgressUpdate | None:
    """The update in a text frame, or None for control texts (`ping`, `auth ok`, ...).

    The same judgement as the browser client's `parseUpdate`: `story_id` and `status` strings, an
    integral `progress_percent`, `seq` integral or absent, `current_step` and `updated_at` strings
    or absent; `stalled` counts only as `true`; other fields are ignored. Anything else raises
    `MalformedUpdate`."""
    if not text.startswith("{"):
        return None
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise MalformedUpdate(f"not JSON: {exc}") from None
    seq = raw.get("seq")
    return ProgressUpdate(
        story_id=_string(raw, "story_id", None),
        status=_string(raw, "status", None),
        progress_percent=_integral("progress_percent", raw.get("progress_percent")),
        current_step=_string(raw, "current_step", ""),
        updated_at=_string(raw, "updated_at", ""),
        seq=None if seq is None else _integral("seq", seq),
        stalled=raw.get("stalled") is True,
    )


def _string(raw: dict[str, Any], name: str, default: str | None) -> str:
    value = raw.get(name, default)
    if not isinstance(value, str):
        raise MalformedUpdate(f"{name} is not a string")
    return value


def _integral(name: str, value: object) -> int:
    """A safe integer (|n| < 2^53), also written as `40.0`: JSON has one number type, and the
    browser client reads both alike (`Number.isSafeInteger`)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > MAX_SAFE_INTEGER:
        raise MalformedUpdate(f"{name} is not an integer")
    return value
