"""CachingDirectory: a reconnect storm to one story costs one directory lookup."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import pytest

from adapters.memory import MemoryStoryDirectory
from domain.access.directory_cache import CachingDirectory
from domain.errors import DirectoryUnavailable


async def test_concurrent_lookups_of_one_story_share_one_query() -> None:
    story, owner = uuid.uuid4(), uuid.uuid4()
    directory = MemoryStoryDirectory({story: owner})
    cached = CachingDirectory(directory)

    owners = await asyncio.gather(*(cached.owner_of(story) for _ in range(500)))

    assert set(owners) == {owner}
    assert directory.lookups == 1
    assert await cached.owner_of(story) == owner
    assert directory.lookups == 1


async def test_concurrent_lookups_of_different_stories_are_batched_into_one_query() -> None:
    owners = {uuid.uuid4(): uuid.uuid4() for _ in range(300)}
    directory = MemoryStoryDirectory(owners)
    cached = CachingDirectory(directory)

    found = await asyncio.gather(*(cached.owner_of(story) for story in owners))

    assert found == list(owners.values())
    assert directory.lookups == 1


class GatedDirectory(MemoryStoryDirectory):
    """A directory whose answers wait for `gate`: a query in flight."""

    def __init__(self, owners: dict[uuid.UUID, uuid.UUID]) -> None:
        super().__init__(owners)
        self.gate = asyncio.Event()

    async def owners_of(self, story_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
        found = await super().owners_of(story_ids)
        await self.gate.wait()
        return found


async def test_a_lookup_that_arrives_during_a_batch_joins_the_next_one() -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    directory = GatedDirectory({first: uuid.uuid4(), second: uuid.uuid4()})
    cached = CachingDirectory(directory)

    early = asyncio.ensure_future(cached.owner_of(first))
    while directory.lookups == 0:  # noqa: ASYNC110 (the first batch is in flight once it is counted)
        await asyncio.sleep(0)
    late = asyncio.ensure_future(cached.owner_of(second))
    await asyncio.sleep(0)
    directory.gate.set()
    late_owner = await late

    assert await early == directory.owners[first]
    assert late_owner == directory.owners[second]
    assert directory.lookups == 2


async def test_unknown_stories_are_not_remembered_so_a_late_row_is_found() -> None:
    story, owner = uuid.uuid4(), uuid.uuid4()
    directory = MemoryStoryDirectory()
    cached = CachingDirectory(directory)

    assert await cached.owner_of(story) is None
    directory.add(story, owner)

    assert await cached.owner_of(story) == owner


async def test_listing_a_users_stories_teaches_their_owner() -> None:
    stories, owner = [uuid.uuid4(), uuid.uuid4()], uuid.uuid4()
    directory = MemoryStoryDirectory(dict.fromkeys(stories, owner))
    cached = CachingDirectory(directory)

    assert sorted(await cached.stories_of(owner)) == sorted(stories)

    assert [cached.known_owner(s) for s in stories] == [owner, owner]
    assert directory.lookups == 0


async def test_a_failed_lookup_reaches_every_waiter_and_is_retried_next_time() -> None:
    story, owner = uuid.uuid4(), uuid.uuid4()
    directory = MemoryStoryDirectory({story: owner})
    cached = CachingDirectory(directory)
    directory.fail()

    results = await asyncio.gather(*(cached.owner_of(story) for _ in range(3)), return_exceptions=True)

    assert all(isinstance(r, DirectoryUnavailable) for r in results)
    directory.recover()
    assert await cached.owner_of(story) == owner


async def test_the_cache_is_bounded() -> None:
    owner = uuid.uuid4()
    stories = [uuid.uuid4() for _ in range(5)]
    cached = CachingDirectory(MemoryStoryDirectory(dict.fromkeys(stories, owner)), size=3)

    for story in stories:
        await cached.owner_of(story)

    assert [cached.known_owner(s) for s in stories] == [None, None, owner, owner, owner]


@pytest.mark.parametrize("waiters", [1, 20])
async def test_a_waiter_that_gives_up_does_not_cancel_the_others(waiters: int) -> None:
    story, owner = uuid.uuid4(), uuid.uuid4()
    cached = CachingDirectory(MemoryStoryDirectory({story: owner}))
    impatient = asyncio.ensure_future(cached.owner_of(story))
    patient = [asyncio.ensure_future(cached.owner_of(story)) for _ in range(waiters)]
    impatient.cancel()

    assert await asyncio.gather(*patient) == [owner] * waiters
