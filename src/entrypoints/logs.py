"""Logging for the server: one stderr handler that redacts tokens from every line, uvicorn's included."""

from __future__ import annotations

import logging
import re

_SECRETS = re.compile(r"(token=|bearer,\s*|auth\s+)[A-Za-z0-9_\-.=%]+", re.IGNORECASE)


class RedactTokens(logging.Filter):
    """uvicorn logs WebSocket URLs with their query string; no token may reach a log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _SECRETS.sub(r"\1[redacted]", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(RedactTokens())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
