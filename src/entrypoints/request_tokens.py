"""Where a client's token is read: the subprotocol pair `bearer, <JWT>` (WebSocket), the header
`Authorization: Bearer <JWT>` (SSE over fetch), or the query parameter `token` (both; a plain
`EventSource` can set no header).

Only the literal name `token` authenticates: not `TOKEN`, not `%74oken`. A proxy that masks
`token=` in its own access log then covers every token that can work here; the gateway's log
redacts every spelling anyway (see `log_redaction.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import unquote_plus


def subprotocol_token(offered: Sequence[str]) -> str | None:
    """The JWT of `Sec-WebSocket-Protocol: bearer, <JWT>`, however spaced, over one header or two."""
    items = [item.strip() for item in offered if item.strip()]
    return items[1] if len(items) >= 2 and items[0] == "bearer" else None


def query_token(query_string: bytes) -> str | None:
    """The value of the first parameter named exactly `token`, percent-decoded; None without one."""
    for pair in query_string.split(b"&"):
        name, _, value = pair.partition(b"=")
        if name == b"token":
            return unquote_plus(value.decode("latin-1"))
    return None


def bearer_token(authorization: str | None) -> str | None:
    """The JWT of `Authorization: Bearer <JWT>` (the scheme in any case, RFC 7235); None otherwise."""
    scheme, _, credentials = (authorization or "").strip().partition(" ")
    token = credentials.strip()
    return token if scheme.casefold() == "bearer" and token else None
