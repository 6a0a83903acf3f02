"""`TokenVerifierContract` over JWT, HS256 as `serve` runs by default (the in-memory run is in tests/unit)."""

from __future__ import annotations

from uuid import UUID

import pytest

from adapters.jwt_tokens import JwtTokenIssuer, JwtTokenVerifier
from tests.contracts.tokens import TokenPorts, TokenVerifierContract
from tests.integration.conftest import SECRET


@pytest.fixture
def token_ports() -> TokenPorts:
    issuer = JwtTokenIssuer(SECRET)

    def issue(user_id: UUID, ttl_seconds: float) -> str:
        return issuer.issue(user_id, ttl_seconds=ttl_seconds)

    return TokenPorts(verifier=JwtTokenVerifier(SECRET), issue=issue)


class TestJwtTokenVerifier(TokenVerifierContract):
    pass
