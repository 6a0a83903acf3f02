"""The log formatters: no token in any part of a record, in either format; one record never forges
another line; each line about a connection carries its fields."""

from __future__ import annotations

import json
import logging
import sys
import uuid

import pytest

from adapters.jwt_tokens import JwtTokenIssuer
from domain.connection.log_context import CONNECTION, ConnectionContext
from entrypoints.log_redaction import escape, redact
from entrypoints.logs import ConnectionFields, JsonFormatter, TextFormatter

JWT = JwtTokenIssuer("k" * 32).issue(uuid.UUID(int=1))
SIGNATURE = JWT.rsplit(".", 1)[1]
FORMATTERS = [pytest.param(TextFormatter(), id="text"), pytest.param(JsonFormatter(), id="json")]


def record(msg: str, *args: object, exc_info: object = None) -> logging.LogRecord:
    return logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, msg, args, exc_info)  # type: ignore[arg-type]


TOKEN_LINES = [
    f'127.0.0.1:5000 - "WebSocket /ws/user/stories?token={JWT}" [accepted]',
    f'127.0.0.1:5000 - "WebSocket /ws/user/stories?%74oken={JWT}" [accepted]',
    f'127.0.0.1:5000 - "WebSocket /ws/user/stories?tok%65n={JWT}" [accepted]',
    f'127.0.0.1:5000 - "WebSocket /ws/user/stories?TOKEN={JWT}" [accepted]',
    f'127.0.0.1:5000 - "WebSocket /ws/user/stories?%2574oken={JWT}" [accepted]',
    f"/ws/stories/abc/progress?x=1&token={JWT}&y=2",
    f"/ws/stories/abc/progress?x=1&access_token=opaque-secret-{SIGNATURE}",
    f"/ws/stories/abc/progress?other={JWT.replace('.', '%2E')}",
    f"< GET /ws/user/stories?token={JWT} HTTP/1.1",
    f"< Sec-WebSocket-Protocol: bearer, {JWT}",
    f"< Sec-WebSocket-Protocol: bearer ,{JWT}",
    f"< Sec-WebSocket-Protocol: bearer,{JWT}",
    f"< Sec-WebSocket-Protocol:  Bearer  ,  {JWT} ",
    f"< Sec-WebSocket-Protocol: opaque-secret-{SIGNATURE}",
    f"< Authorization: Bearer {JWT}",
    f"client said auth {JWT}",
    f"< TEXT 'AUTH  {JWT}' [190 bytes]",
    f"< TEXT 'auth {JWT[:40]}...{SIGNATURE}' [400 bytes]",
    f"< TEXT 'auth {JWT[:30]}' [35 bytes, continued]",
    f"< CONT '{JWT[30:]}' [150 bytes]",
    f"TOKEN={JWT}",
    f"scope {{'subprotocols': ['bearer', '{JWT}'], 'query_string': b'token={JWT}'}}",
]


@pytest.mark.parametrize("line", TOKEN_LINES)
def test_every_form_of_a_token_is_redacted(line: str) -> None:
    redacted = redact(line)

    assert JWT not in redacted
    assert SIGNATURE not in redacted
    assert "[redacted]" in redacted


@pytest.mark.parametrize(
    "line",
    [
        "story 6f1c: 3 subscribers",
        '127.0.0.1:5000 - "WebSocket /ws/stories/6f1c/progress?x=1" [accepted]',
        "> Sec-WebSocket-Protocol: bearer",
        "> TEXT 'auth ok' [7 bytes]",
        "< TEXT 'status' [6 bytes]",
        "Authentication failed: token_expired",
    ],
)
def test_a_line_without_a_token_is_left_as_it_is(line: str) -> None:
    assert redact(line) == line


def test_the_query_names_that_authenticate_are_redacted_keeping_the_rest() -> None:
    assert redact("/ws/user/stories?a=1&%74oken=abc&b=2") == "/ws/user/stories?a=1&%74oken=[redacted]&b=2"


@pytest.mark.parametrize("formatter", FORMATTERS)
def test_a_token_in_the_arguments_is_redacted(formatter: logging.Formatter) -> None:
    entry = record('%s - "WebSocket %s" %s', "127.0.0.1:5000", f"/ws/user/stories?token={JWT}", "[accepted]")

    line = formatter.format(entry)

    assert JWT not in line
    assert "WebSocket /ws/user/stories?token=[redacted]" in line


def _failed(message: str) -> logging.LogRecord:
    try:
        raise ValueError(message)
    except ValueError:
        return record("connection failed", exc_info=sys.exc_info())


@pytest.mark.parametrize("formatter", FORMATTERS)
def test_a_traceback_is_redacted_in_both_formats(formatter: logging.Formatter) -> None:
    line = formatter.format(_failed(f"bad request /ws/user/stories?%74oken={JWT} bearer, {JWT}"))

    assert "Traceback (most recent call last)" in line
    assert "ValueError: bad request" in line
    assert JWT not in line
    assert SIGNATURE not in line


FORGED = "story:6f1c\n2026-12-01 10:00:00,000 CRITICAL domain.gateway: forged\r\x1b[2J\u2028\x85end"


def test_a_text_record_is_one_line_whatever_its_message_holds() -> None:
    line = TextFormatter().format(record("dropped message on %s: %s", FORGED, "payload"))

    assert "\n" not in line
    assert len(line.splitlines()) == 1
    assert "story:6f1c\\n2026-12-01 10:00:00,000 CRITICAL" in line
    assert "\\x1b[2J\\u2028\\x85end" in line


def test_a_text_traceback_keeps_its_lines_but_each_is_indented() -> None:
    line = TextFormatter().format(_failed(FORGED))

    head, *traceback = line.split("\n")
    assert head.endswith("uvicorn.error: connection failed")
    assert traceback[0] == "  | Traceback (most recent call last):"
    assert all(t.startswith("  | ") for t in traceback)
    assert (
        "  | 2026-12-01 10:00:00,000 CRITICAL domain.gateway: forged\\r\\x1b[2J\\u2028\\x85end" in traceback
    )
    assert len(line.splitlines()) == len(traceback) + 1


def test_a_json_record_is_one_line_and_keeps_the_text_exactly() -> None:
    line = JsonFormatter().format(record("dropped message on %s", FORGED))

    assert len(line.splitlines()) == 1
    assert "\u2028" not in line
    assert "\x85" not in line
    assert json.loads(line)["message"] == f"dropped message on {FORGED}"


def test_escape_writes_every_control_character_visibly() -> None:
    assert escape("a\tb\x00c\x7fd\u202ee") == "a\\tb\\x00c\\x7fd\\u202ee"
    assert escape("plain, ünïcode ✓") == "plain, ünïcode ✓"


def test_a_record_inside_a_connection_carries_its_fields_in_both_formats() -> None:
    user = uuid.UUID(int=7)
    context = ConnectionContext("story", user_id=str(user))
    reset = CONNECTION.set(context)
    try:
        entry = record("connection closed")
        entry.close_code, entry.close_reason = 4003, "forbidden"
        ConnectionFields().filter(entry)
    finally:
        CONNECTION.reset(reset)

    line = json.loads(JsonFormatter().format(entry))
    text = TextFormatter().format(entry)

    assert line["conn_id"] == context.id
    assert (line["endpoint"], line["user_id"]) == ("story", str(user))
    assert (line["close_code"], line["close_reason"], line["message"]) == (
        4003,
        "forbidden",
        "connection closed",
    )
    assert text.endswith(
        f"connection closed [conn_id={context.id} endpoint=story user_id={user} close_code=4003 "
        "close_reason=forbidden]"
    )


def test_a_record_outside_any_connection_has_no_connection_fields() -> None:
    entry = record("listener started")

    ConnectionFields().filter(entry)

    assert TextFormatter().format(entry).endswith("uvicorn.error: listener started")
    assert json.loads(JsonFormatter().format(entry)).keys() == {"time", "level", "logger", "message"}
