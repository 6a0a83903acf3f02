"""The connection a log line is about, so that every line of one connection can be tied together.

The gateway sets `CONNECTION` for the lifetime of each connection (tasks started inside inherit it);
a logging filter in the entrypoints copies its fields onto every record. It never holds a token.
"""

from __future__ import annotations

import secrets
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(slots=True)
class ConnectionContext:
    endpoint: str
    id: str = ""
    user_id: str | None = None

    def __post_init__(self) -> None:
        if not self.id:
            self.id = secrets.token_hex(4)


CONNECTION: ContextVar[ConnectionContext | None] = ContextVar("connection", default=None)
