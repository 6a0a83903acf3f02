"""RepeatThrottle and the handler: a warning repeated within the window is counted, not written;
one line then says how many were suppressed. The clock is the test's own: no waiting."""

from __future__ import annotations

import io
import json
import logging

from entrypoints.log_throttle import RepeatThrottle
from entrypoints.logs import GatewayHandler, JsonFormatter, TextFormatter
from testkit.waiting import Clock


def warning(story: int, line: int = 10, level: int = logging.WARNING) -> logging.LogRecord:
    return logging.LogRecord(
        "domain.hub", level, "/src/hub.py", line, "no owner found for story %s", (story,), None
    )


def handler(clock: Clock, max_sites: int = 1000) -> tuple[GatewayHandler, io.StringIO]:
    stream = io.StringIO()
    written = GatewayHandler(RepeatThrottle(window=10.0, max_sites=max_sites, clock=clock))
    written.setStream(stream)
    written.setFormatter(TextFormatter())
    return written, stream


def test_5000_repeats_write_one_line_then_one_count_line() -> None:
    clock = Clock()
    written, stream = handler(clock)

    for story in range(5000):
        clock.now += 0.001
        written.handle(warning(story))
    assert stream.getvalue().count("\n") == 1
    clock.now += 10
    written.handle(logging.LogRecord("x", logging.INFO, "/x.py", 1, "later", None, None))

    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[0].endswith("no owner found for story 0")
    assert lines[1].endswith(
        "4999 more like this suppressed within 10 s; the last: no owner found for story 4999"
    )
    assert " WARNING domain.hub: " in lines[1]
    assert lines[2].endswith("later")


def test_after_the_window_the_warning_is_written_again() -> None:
    clock = Clock()
    throttle = RepeatThrottle(window=10.0, clock=clock)

    assert throttle.admit(warning(1)) == (True, [])
    clock.now += 9.9
    assert throttle.admit(warning(2)) == (False, [])
    clock.now += 0.1
    admitted, counts = throttle.admit(warning(3))

    assert admitted
    assert [c.getMessage() for c in counts] == [
        "1 more like this suppressed within 10 s; the last: no owner found for story 2"
    ]


def test_a_window_that_suppressed_nothing_writes_no_count_line() -> None:
    clock = Clock()
    throttle = RepeatThrottle(window=10.0, clock=clock)
    throttle.admit(warning(1))
    clock.now += 11

    assert throttle.admit(warning(2)) == (True, [])
    assert throttle.flush() == []


def test_call_sites_and_levels_are_throttled_apart_and_info_never() -> None:
    throttle = RepeatThrottle(window=10.0, clock=Clock())

    assert throttle.admit(warning(1, line=10))[0]
    assert throttle.admit(warning(1, line=11))[0]
    assert throttle.admit(warning(1, line=10, level=logging.ERROR))[0]
    assert all(throttle.admit(warning(n, level=logging.INFO))[0] for n in range(100))
    assert not throttle.admit(warning(2, line=10))[0]


def test_the_call_sites_remembered_are_bounded_and_the_oldest_is_summed_up() -> None:
    clock = Clock()
    throttle = RepeatThrottle(window=10.0, max_sites=3, clock=clock)
    throttle.admit(warning(1, line=1))
    throttle.admit(warning(2, line=1))  # suppressed

    counts = [c for line in range(2, 50) for c in throttle.admit(warning(line, line=line))[1]]

    assert len(throttle._sites) == 3
    assert [c.getMessage() for c in counts] == [
        "1 more like this suppressed within 10 s; the last: no owner found for story 2"
    ]


def test_closing_the_handler_writes_the_pending_counts_in_json() -> None:
    clock = Clock()
    written, stream = handler(clock)
    written.setFormatter(JsonFormatter())
    for story in range(3):
        written.handle(warning(story))

    written.close()

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line.get("suppressed") for line in lines] == [None, 2]
    assert lines[1]["level"] == "WARNING"
