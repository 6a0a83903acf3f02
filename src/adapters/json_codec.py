"""The wire format: msgspec, with one encoder and one decoder built up front."""

from __future__ import annotations

import msgspec

from domain.progress import InvalidUpdate, ProgressUpdate, parse_update


class JsonCodec:
    def __init__(self) -> None:
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder()

    def encode(self, update: ProgressUpdate) -> str:
        return self.encode_bytes(update).decode()

    def encode_bytes(self, update: ProgressUpdate) -> bytes:
        return self._encoder.encode(update.to_wire())

    def decode(self, raw: bytes | str) -> ProgressUpdate:
        """Raises `InvalidUpdate` naming the field, `payload` when it is not JSON at all."""
        try:
            data = self._decoder.decode(raw)
        except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
            raise InvalidUpdate("payload", "not JSON (or not UTF-8, or nested too deep)") from None
        return parse_update(data)
