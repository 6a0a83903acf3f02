"""Reconnect delays: exponential, capped, and jittered so a fleet never reconnects in step."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.aio.backoff import Backoff


@settings(max_examples=200, deadline=None)
@given(
    st.floats(min_value=0.001, max_value=10),
    st.floats(min_value=0.001, max_value=60),
    st.integers(min_value=0, max_value=10_000),
    st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_a_delay_is_between_half_and_all_of_the_capped_ceiling(
    base: float, cap: float, attempt: int, jitter: float
) -> None:
    ceiling = min(cap, base * 2.0 ** min(attempt, 32))

    delay = Backoff(base=base, cap=cap, rng=lambda: jitter).delay(attempt)

    assert ceiling / 2 <= delay <= ceiling
    assert delay <= cap


def test_delays_double_until_the_cap() -> None:
    fixed = Backoff(base=0.1, cap=1.0, rng=lambda: 1.0)

    assert [fixed.delay(n) for n in range(6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]


def test_the_jitter_spreads_delays_of_the_same_attempt() -> None:
    low, high = Backoff(rng=lambda: 0.0), Backoff(rng=lambda: 0.999)

    assert low.delay(3) < high.delay(3)
    assert low.delay(3) > 0
