"""Tokens as docs/protocol.md says: JWT, `sub` a user UUID, `exp` required, algorithms fixed by config."""

from __future__ import annotations

import time
from collections.abc import Sequence
from uuid import UUID

import jwt

from domain.errors import AccessDenied, Closure
from domain.values import Principal


class JwtTokenVerifier:
    def __init__(
        self,
        key: str,
        algorithms: Sequence[str] = ("HS256",),
        audience: str | None = None,
        issuer: str | None = None,
    ) -> None:
        self._key = key
        self._algorithms = list(algorithms)
        self._audience = audience
        self._issuer = issuer

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["exp", "sub"], "verify_aud": self._audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise AccessDenied(Closure.TOKEN_EXPIRED, "token expired") from None
        except jwt.PyJWTError as exc:
            raise AccessDenied(Closure.INVALID_TOKEN, type(exc).__name__) from None
        try:
            user_id = UUID(str(claims["sub"]))
        except ValueError:
            raise AccessDenied(Closure.INVALID_TOKEN, "sub is not a UUID") from None
        return Principal(user_id=user_id, expires_at=float(claims["exp"]))


class JwtTokenIssuer:
    """Signs tokens for the demo, the `token` command and tests; the gateway itself never issues any."""

    def __init__(
        self, key: str, algorithm: str = "HS256", audience: str | None = None, issuer: str | None = None
    ) -> None:
        self._key = key
        self._algorithm = algorithm
        self._audience = audience
        self._issuer = issuer

    def issue(self, user_id: UUID, ttl_seconds: float = 3600.0) -> str:
        claims: dict[str, object] = {"sub": str(user_id), "exp": int(time.time() + ttl_seconds)}
        if self._audience:
            claims["aud"] = self._audience
        if self._issuer:
            claims["iss"] = self._issuer
        return jwt.encode(claims, self._key, algorithm=self._algorithm)
