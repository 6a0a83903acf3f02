"""The supervisor's restart policy: a worker that ran steadily, or died quickly once, is replaced at
once; one whose replacements keep dying quickly waits longer each time, up to a bound."""

from __future__ import annotations

from entrypoints.supervisor import MAX_DELAY, restart_delay


def test_first_quick_death_is_replaced_at_once_then_delays_double_up_to_the_bound() -> None:
    delays = [restart_delay(deaths) for deaths in range(9)]

    assert delays[:2] == [0.0, 0.0]
    assert delays[2:7] == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert delays[7:] == [MAX_DELAY, MAX_DELAY]
