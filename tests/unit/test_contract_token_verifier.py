"""`TokenVerifierContract` over the in-memory tokens (the JWT run is in tests/integration)."""

from __future__ import annotations

import pytest

from adapters.memory import MemoryTokens
from tests.contracts.tokens import TokenPorts, TokenVerifierContract


@pytest.fixture
def token_ports() -> TokenPorts:
    tokens = MemoryTokens()
    return TokenPorts(verifier=tokens, issue=tokens.issue)


class TestMemoryTokens(TokenVerifierContract):
    pass
