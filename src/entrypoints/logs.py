"""Logging for the server: one stderr handler, text or one JSON object a line.

Every record made inside a connection carries that connection's id, endpoint and user id (from
`domain.connection.log_context.CONNECTION`); the line that ends a connection also carries its
close code and reason. uvicorn's and websockets' loggers go through the same handler. Whatever the format, the
formatter redacts tokens and escapes control characters in every part of a record (message,
traceback, stack), so one record is one line, plus, in the text format, its traceback's lines, each
indented with `  | ` (a line that starts otherwise always starts a record). Repeated warnings are
folded into a count (`log_throttle.py`).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import TextIO

from domain.connection.log_context import CONNECTION
from entrypoints.log_redaction import escape, escape_json, redact
from entrypoints.log_throttle import RepeatThrottle

_CONNECTION_FIELDS = ("conn_id", "endpoint", "user_id", "close_code", "close_reason")
CONTINUATION = "  | "


class ConnectionFields(logging.Filter):
    """Copy the current connection (if any) onto the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = CONNECTION.get()
        if context is not None:
            record.conn_id = context.id
            record.endpoint = context.endpoint
            if context.user_id is not None:
                record.user_id = context.user_id
        return True


def _details(record: logging.LogRecord, formatter: logging.Formatter) -> tuple[str | None, str | None]:
    """The record's traceback and stack, redacted (the traceback's text cached as logging does)."""
    if record.exc_info and not record.exc_text:
        record.exc_text = formatter.formatException(record.exc_info)
    return (
        redact(record.exc_text) if record.exc_text else None,
        redact(record.stack_info) if record.stack_info else None,
    )


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message [connection fields]`, then the traceback's lines, indented."""

    def format(self, record: logging.LogRecord) -> str:
        fields = [f"{name}={value}" for name in _CONNECTION_FIELDS if (value := getattr(record, name, None))]
        connection = f" [{' '.join(fields)}]" if fields else ""
        message = redact(record.getMessage())  # alone: redaction rules may anchor on its start and end
        head = f"{self.formatTime(record)} {record.levelname} {record.name}: {message}{connection}"
        lines = [escape(head)]
        for detail in _details(record, self):
            if detail:
                lines.extend(CONTINUATION + escape(line) for line in detail.split("\n"))
        return "\n".join(lines)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the connection fields, and the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for name in (*_CONNECTION_FIELDS, "suppressed"):
            if (value := getattr(record, name, None)) is not None:
                entry[name] = redact(value) if isinstance(value, str) else value
        exception, stack = _details(record, self)
        if exception:
            entry["exception"] = exception
        if stack:
            entry["stack"] = stack
        return escape_json(json.dumps(entry, ensure_ascii=False, default=str))


class GatewayHandler(logging.StreamHandler[TextIO]):
    """The one handler: writes what the throttle admits, and the count lines it makes."""

    def __init__(self, throttle: RepeatThrottle | None = None) -> None:
        super().__init__()
        self._throttle = throttle or RepeatThrottle()

    def emit(self, record: logging.LogRecord) -> None:
        admitted, counts = self._throttle.admit(record)
        for line in counts:
            super().emit(line)
        if admitted:
            super().emit(record)

    def close(self) -> None:
        self.acquire()
        try:
            for line in self._throttle.flush():
                super().emit(line)
        finally:
            self.release()
        super().close()


def configure_logging(level: str = "INFO", log_format: str = "text") -> None:
    handler = GatewayHandler()
    handler.addFilter(ConnectionFields())
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
