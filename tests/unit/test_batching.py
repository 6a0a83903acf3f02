"""BatchedReads: one fetch at a time, in the order asked, and a bounded number of keys waiting."""

from __future__ import annotations

import asyncio

import pytest

from domain.aio.batching import BatchedReads


class Overloaded(Exception):
    pass


class GatedFetch:
    """Fetches that wait for `gate`, recording each batch."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.batches: list[list[int]] = []

    async def __call__(self, keys: list[int]) -> dict[int, str]:
        self.batches.append(keys)
        await self.gate.wait()
        return {k: str(k) for k in keys}


async def test_reads_past_the_waiting_bound_are_refused_at_once_and_the_rest_are_served() -> None:
    fetch = GatedFetch()
    reads: BatchedReads[int, str] = BatchedReads(fetch, Overloaded, max_waiting=10)
    first = asyncio.ensure_future(reads.read([0]))
    while not fetch.batches:  # noqa: ASYNC110 (in flight once recorded)
        await asyncio.sleep(0)

    waiting = [asyncio.ensure_future(reads.read([k, k + 1])) for k in range(1, 11, 2)]
    await asyncio.sleep(0)
    with pytest.raises(Overloaded):
        await reads.read([100])
    again = asyncio.ensure_future(reads.read([1, 2]))  # keys already waiting cost nothing more
    await asyncio.sleep(0)
    assert reads.waiting == 10
    fetch.gate.set()

    assert await first == {0: "0"}
    for k, read in zip(range(1, 11, 2), waiting, strict=True):
        assert {k: str(k), k + 1: str(k + 1)}.items() <= (await read).items()
    assert {1: "1", 2: "2"}.items() <= (await again).items()
    assert fetch.batches == [[0], list(range(1, 11))]
    assert reads.waiting == 0


async def test_a_large_read_joins_the_batch_of_others_asking_for_the_same_keys() -> None:
    fetch = GatedFetch()
    fetch.gate.set()
    reads: BatchedReads[int, str] = BatchedReads(fetch, Overloaded)
    keys = list(range(10_000))

    results = await asyncio.gather(*(reads.read(keys) for _ in range(50)))

    assert fetch.batches == [keys]
    assert all(len(r) == 10_000 for r in results)
