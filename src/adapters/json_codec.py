"""The wire format: msgspec, with its encoders and decoders built up front.

A valid update, as the shipped publisher writes it, is decoded and validated in one pass of
msgspec's typed decoder (about three times faster than decoding then checking field by field);
anything else takes the general path, so every payload gets the same verdict and the same
`InvalidUpdate` naming its field as before. A payload over `MAX_UPDATE_BYTES` is refused before any
decoding (`too_big`), and a `seq` over `MAX_SEQ` is invalid on both paths.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Annotated

import msgspec

from domain.progress import (
    MAX_SEQ,
    MAX_UPDATE_BYTES,
    InvalidUpdate,
    ProgressUpdate,
    RejectReason,
    StoryStatus,
    parse_update,
)

logger = logging.getLogger(__name__)


class _WireUpdate(msgspec.Struct):
    story_id: uuid.UUID
    status: StoryStatus
    progress_percent: Annotated[int, msgspec.Meta(ge=0, le=100)]
    current_step: str
    updated_at: Annotated[datetime, msgspec.Meta(tz=True)]
    seq: Annotated[int, msgspec.Meta(ge=0, le=MAX_SEQ)] | None = None


class _WireOut(msgspec.Struct, omit_defaults=True):
    """The wire's field order; `updated_at` keeps Python's ISO form (`+00:00`, as the contract shows)."""

    story_id: uuid.UUID
    status: str
    progress_percent: int
    current_step: str
    updated_at: str
    seq: int | None = None
    stalled: bool = False  # omitted unless true


class JsonCodec:
    def __init__(self) -> None:
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder()
        self._typed = msgspec.json.Decoder(_WireUpdate)

    def encode(self, update: ProgressUpdate) -> str:
        return self.encode_bytes(update).decode()

    def encode_bytes(self, update: ProgressUpdate) -> bytes:
        """The same bytes as encoding `update.to_wire()`, without building the dict."""
        return self._encoder.encode(
            _WireOut(
                update.story_id,
                update.status.value,
                update.progress_percent,
                update.current_step,
                update.updated_at.isoformat(),
                update.seq,
                update.stalled,
            )
        )

    def decode(self, raw: bytes | str) -> ProgressUpdate:
        """Raises `InvalidUpdate` naming the field, `payload` when it is not JSON at all."""
        size = len(raw) if isinstance(raw, bytes) else len(raw.encode(errors="replace"))
        if size > MAX_UPDATE_BYTES:
            raise InvalidUpdate(RejectReason.TOO_BIG, f"{size} bytes, over {MAX_UPDATE_BYTES}")
        try:
            wire = self._typed.decode(raw)
        except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
            return self._decode_checked(raw)
        return ProgressUpdate(
            wire.story_id, wire.status, wire.progress_percent, wire.current_step, wire.updated_at, wire.seq
        )

    def decode_snapshot(self, raw: bytes | None) -> ProgressUpdate | None:
        """A stored snapshot, or None when there is none or it is not a valid update (logged)."""
        if raw is None:
            return None
        try:
            return self.decode(raw)
        except InvalidUpdate as exc:
            logger.warning("ignored an invalid snapshot: %s", exc)
            return None

    def _decode_checked(self, raw: bytes | str) -> ProgressUpdate:
        try:
            data = self._decoder.decode(raw)
        except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
            raise InvalidUpdate(RejectReason.PAYLOAD, "not JSON (or not UTF-8, or nested too deep)") from None
        return parse_update(data)
