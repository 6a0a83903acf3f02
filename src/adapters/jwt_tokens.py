"""Tokens as docs/protocol.md says: JWT, `sub` a user UUID, `exp` required, algorithms fixed by config.

A token that names an audience is refused unless `audience` is one of those it names (PyJWT's own
default, never turned off). Every refusal is a `TokenRefused` with its reason from a fixed set.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from uuid import UUID

import jwt
from jwt import exceptions as refusals

from domain.errors import AuthFailure, TokenRefused
from domain.values import Principal

# Most specific first: PyJWT's errors subclass one another (ExpiredSignatureError is an
# InvalidTokenError; InvalidSignatureError a DecodeError).
_FAILURES: tuple[tuple[type[refusals.PyJWTError], AuthFailure], ...] = (
    (refusals.ExpiredSignatureError, AuthFailure.EXPIRED),
    (refusals.ImmatureSignatureError, AuthFailure.NOT_YET_VALID),
    (refusals.InvalidSignatureError, AuthFailure.BAD_SIGNATURE),
    (refusals.InvalidAlgorithmError, AuthFailure.BAD_ALGORITHM),
    (refusals.MissingRequiredClaimError, AuthFailure.MISSING_CLAIM),
    (refusals.InvalidAudienceError, AuthFailure.BAD_AUDIENCE),
    (refusals.InvalidIssuerError, AuthFailure.BAD_ISSUER),
    (refusals.InvalidSubjectError, AuthFailure.BAD_SUBJECT),
    (refusals.DecodeError, AuthFailure.MALFORMED),
)


def failure_of(error: refusals.PyJWTError) -> AuthFailure:
    """The reason label of a PyJWT error; an error of a newer PyJWT not listed here is `invalid`."""
    return next((failure for kind, failure in _FAILURES if isinstance(error, kind)), AuthFailure.INVALID)


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
                options={"require": ["exp", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise TokenRefused(failure_of(exc)) from None
        try:
            user_id = UUID(str(claims["sub"]))
        except ValueError:
            raise TokenRefused(AuthFailure.BAD_SUBJECT) from None
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
