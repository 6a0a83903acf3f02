"""Logging for the server: one stderr handler, text or one JSON object a line, tokens redacted.

Every record made inside a connection carries that connection's id, endpoint and user id (from
`domain.connection.log_context.CONNECTION`); the line that ends a connection also carries its close code and
reason. uvicorn's loggers go through the same handler, so its lines are redacted too.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

from domain.connection.log_context import CONNECTION

_SECRETS = re.compile(r"(token=|bearer,\s*|auth\s+)[A-Za-z0-9_\-.=%]+", re.IGNORECASE)
_CONNECTION_FIELDS = ("conn_id", "endpoint", "user_id", "close_code", "close_reason")


def redact(text: str) -> str:
    return _SECRETS.sub(r"\1[redacted]", text)


class RedactTokens(logging.Filter):
    """uvicorn logs WebSocket URLs with their query string; no token may reach a log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class ConnectionFields(logging.Filter):
    """Copy the current connection (if any) onto the record, and a text rendering of it."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = CONNECTION.get()
        if context is not None:
            record.conn_id = context.id
            record.endpoint = context.endpoint
            if context.user_id is not None:
                record.user_id = context.user_id
        fields = [f"{name}={value}" for name in _CONNECTION_FIELDS if (value := getattr(record, name, None))]
        record.connection = f" [{' '.join(fields)}]" if fields else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the connection fields, and the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _CONNECTION_FIELDS:
            if (value := getattr(record, name, None)) is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO", log_format: str = "text") -> None:
    handler = logging.StreamHandler()
    handler.addFilter(RedactTokens())
    handler.addFilter(ConnectionFields())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s%(connection)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
