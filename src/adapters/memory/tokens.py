"""In-memory tokens: opaque ones, verified by the verifier that issued them."""

from __future__ import annotations

import itertools
import time
from uuid import UUID

from domain.errors import AuthFailure, TokenRefused
from domain.values import Principal


class MemoryTokens:
    """Verifier of opaque tokens it issued itself; `exp` works as in JWT, in epoch seconds."""

    def __init__(self) -> None:
        self._issued: dict[str, Principal] = {}
        self._numbers = itertools.count(1)

    def issue(self, user_id: UUID, ttl_seconds: float = 3600.0) -> str:
        token = f"memory-token-{next(self._numbers)}"
        self._issued[token] = Principal(user_id, time.time() + ttl_seconds)
        return token

    def verify(self, token: str) -> Principal:
        principal = self._issued.get(token)
        if principal is None:
            raise TokenRefused(AuthFailure.BAD_SIGNATURE)  # not one it signed
        if principal.expires_at <= time.time():
            raise TokenRefused(AuthFailure.EXPIRED)
        return principal
