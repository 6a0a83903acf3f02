"""RedactTokens: no token reaches a log line, whether in a query string, a subprotocol or an auth command."""

from __future__ import annotations

import json
import logging
import uuid

import pytest

from adapters.jwt_tokens import JwtTokenIssuer
from domain.connection.log_context import CONNECTION, ConnectionContext
from entrypoints.logs import ConnectionFields, JsonFormatter, RedactTokens

JWT = JwtTokenIssuer("k" * 32).issue(uuid.UUID(int=1))


def record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, msg, args, None)


@pytest.mark.parametrize(
    "line",
    [
        f'127.0.0.1:5000 - "WebSocket /ws/user/stories?token={JWT}" [accepted]',
        f"/ws/stories/abc/progress?x=1&token={JWT}&y=2",
        f"Sec-WebSocket-Protocol: bearer, {JWT}",
        f"Sec-WebSocket-Protocol: Bearer,{JWT}",
        f"client said auth {JWT}",
        f"TOKEN={JWT}",
    ],
)
def test_a_token_in_the_message_is_redacted(line: str) -> None:
    entry = record(line)

    assert RedactTokens().filter(entry) is True
    assert JWT not in entry.getMessage()
    assert "[redacted]" in entry.getMessage()


def test_a_token_in_the_arguments_is_redacted() -> None:
    entry = record('%s - "WebSocket %s" %s', "127.0.0.1:5000", f"/ws/user/stories?token={JWT}", "[accepted]")

    RedactTokens().filter(entry)

    assert entry.getMessage() == '127.0.0.1:5000 - "WebSocket /ws/user/stories?token=[redacted]" [accepted]'


def test_a_line_without_a_token_is_left_as_it_is() -> None:
    entry = record("story %s: %d subscribers", "6f1c", 3)

    RedactTokens().filter(entry)

    assert (entry.msg, entry.args) == ("story %s: %d subscribers", ("6f1c", 3))
    assert entry.getMessage() == "story 6f1c: 3 subscribers"


def test_a_handler_with_the_filter_writes_no_token(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tests.unit.test_logs")
    caplog.handler.addFilter(RedactTokens())

    with caplog.at_level(logging.INFO, logger=logger.name):
        logger.info("GET %s", f"/ws/user/stories?token={JWT}")

    assert JWT not in caplog.text
    assert "token=[redacted]" in caplog.text


def test_a_record_inside_a_connection_carries_its_fields_in_json() -> None:
    context = ConnectionContext("story", user_id=str(uuid.UUID(int=7)))
    reset = CONNECTION.set(context)
    try:
        entry = record("connection closed")
        entry.close_code, entry.close_reason = 4003, "forbidden"
        ConnectionFields().filter(entry)
    finally:
        CONNECTION.reset(reset)

    line = json.loads(JsonFormatter().format(entry))

    assert line["conn_id"] == context.id
    assert (line["endpoint"], line["user_id"]) == ("story", str(uuid.UUID(int=7)))
    assert (line["close_code"], line["close_reason"], line["message"]) == (
        4003,
        "forbidden",
        "connection closed",
    )
    user = uuid.UUID(int=7)
    assert entry.connection == (
        f" [conn_id={context.id} endpoint=story user_id={user} close_code=4003 close_reason=forbidden]"
    )


def test_a_record_outside_any_connection_has_no_connection_fields() -> None:
    entry = record("listener started")

    ConnectionFields().filter(entry)

    assert entry.connection == ""
    assert json.loads(JsonFormatter().format(entry)).keys() == {"time", "level", "logger", "message"}
