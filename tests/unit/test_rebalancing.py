"""Rebalancing `serve --workers N` after a replacement: how many sockets each worker is asked to
close, the load board that carries counts and orders across the fork, and the supervisor's timing."""

from __future__ import annotations

import multiprocessing

from hypothesis import given
from hypothesis import strategies as st

from entrypoints.rebalancing import Rebalancer, Rebalancing, shed_orders
from entrypoints.worker_place import NOT_SERVING, LoadBoard

POLICY = Rebalancing()


def busiest_after(counts: list[int], orders: list[int]) -> float:
    """The expected load of the busiest worker once the closed sockets reconnected, spread evenly."""
    back = sum(orders) / len(counts)
    return max(count - shed for count, shed in zip(counts, orders, strict=True)) + back


def test_the_survivor_of_two_hands_its_excess_to_the_replacement() -> None:
    orders = shed_orders([372, 128], POLICY)

    assert orders[1] == 0
    assert busiest_after([372, 128], orders) <= 250 * 1.05
    assert orders[0] < 2 * (372 - 250)  # fewer closes than balancing exactly would take


def test_an_even_enough_load_is_left_alone() -> None:
    assert shed_orders([260, 240], POLICY) == [0, 0]  # within 20 % of the mean
    assert shed_orders([12, 2], POLICY) == [0, 0]  # fewer than 10 connections above the mean
    assert shed_orders([0, 0, 0], POLICY) == [0, 0, 0]


@given(st.lists(st.integers(min_value=0, max_value=50_000), min_size=2, max_size=8))
def test_orders_never_exceed_what_a_worker_holds_and_meet_the_target(counts: list[int]) -> None:
    orders = shed_orders(counts, POLICY)
    mean = sum(counts) / len(counts)

    assert all(0 <= shed <= count for shed, count in zip(orders, counts, strict=True))
    if any(orders):
        assert orders[counts.index(min(counts))] == 0
        assert busiest_after(counts, orders) <= mean * (1 + POLICY.target) + 1e-9


def test_the_board_carries_counts_and_orders_across_the_fork() -> None:
    board = LoadBoard(2)
    child = multiprocessing.get_context("fork").Process(target=board.report, args=(1, 42))
    child.start()
    child.join()
    board.order(1, 7)

    assert child.exitcode == 0
    assert board.connections() == [NOT_SERVING, 42]
    assert board.take_order(1) == 7
    assert board.take_order(1) == 0
    board.vacate(1)
    assert board.connections() == [NOT_SERVING, NOT_SERVING]


def test_the_supervisor_orders_once_every_worker_serves_after_the_settle_time() -> None:
    board = LoadBoard(2)
    rebalancer = Rebalancer(board, Rebalancing(settle_seconds=0.0))
    board.report(0, 40)
    rebalancer.tick()
    assert board.take_order(0) == 0  # nothing replaced: nothing to do

    rebalancer.replaced()
    rebalancer.tick()  # the replacement has not reported yet: later
    assert rebalancer.due is not None
    assert board.take_order(0) == 0
    board.report(1, 0)
    rebalancer.tick()

    assert board.take_order(0) == 38
    assert board.take_order(1) == 0
    assert rebalancer.due is None  # one pass per replacement: no loop of closes
