"""The contract of `TokenVerifier`: a good token gives its principal, a bad one says why not.

A test module subclasses `TokenVerifierContract` and provides a `token_ports` fixture: the
verifier and an `issue(user_id, ttl_seconds)` that makes tokens it accepts (or, past `exp`, refuses).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

import pytest

from domain.errors import AccessDenied, Closure
from domain.ports import TokenVerifier


@dataclass
class TokenPorts:
    verifier: TokenVerifier
    issue: Callable[[UUID, float], str]


GARBAGE = [
    pytest.param("", id="empty"),
    pytest.param("garbage", id="one-word"),
    pytest.param("a.b.c", id="three-dots"),
    pytest.param("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", id="jwt-shaped-bad-signature"),
]


class TokenVerifierContract:
    def test_a_valid_token_gives_its_user_and_expiry(self, token_ports: TokenPorts) -> None:
        user = uuid.uuid4()
        before = time.time()
        token = token_ports.issue(user, 600)

        principal = token_ports.verifier.verify(token)

        assert principal.user_id == user
        assert before + 598 <= principal.expires_at <= time.time() + 601

    def test_an_expired_token_is_denied_as_expired(self, token_ports: TokenPorts) -> None:
        token = token_ports.issue(uuid.uuid4(), -60)

        with pytest.raises(AccessDenied) as denied:
            token_ports.verifier.verify(token)

        assert denied.value.closure is Closure.TOKEN_EXPIRED

    @pytest.mark.parametrize("token", GARBAGE)
    def test_garbage_is_denied_as_invalid(self, token_ports: TokenPorts, token: str) -> None:
        with pytest.raises(AccessDenied) as denied:
            token_ports.verifier.verify(token)

        assert denied.value.closure is Closure.INVALID_TOKEN
