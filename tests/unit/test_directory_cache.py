"""CachingDirectory: a reconnect storm costs a few queries, and an answer is trusted for its TTL only."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from adapters.memory import MemoryStoryDirectory
from domain.access.directory_cache import RETRY_SECONDS, Answers
from domain.errors import DirectoryUnavailable
from testkit.directories import TTL, GatedDirectory, cache_over, until_asked


async def test_concurrent_lookups_of_one_story_share_one_query() -> None:
    story, owner = uuid.uuid4(), uuid.uuid4()
    directory = MemoryStoryDirectory({story: owner})
    cached, _, _ = cache_over(directory)

    owners = await asyncio.gather(*(cached.owner_of(story) for _ in range(500)))

    assert set(owners) == {owner}
    assert directory.lookups == 1
    assert await cached.owner_of(story) == owner
    assert directory.lookups == 1


async def test_concurrent_lookups_of_different_stories_are_batched_into_one_query() -> None:
    owners = {uuid.uuid4(): uuid.uuid4() for _ in range(300)}
    directory = MemoryStoryDirectory(owners)
    cached, _, _ = cache_over(directory)

    found = await asyncio.gather(*(cached.owner_of(story) for story in owners))

    assert found == list(owners.values())
    assert directory.lookups == 1


async def test_a_lookup_that_arrives_during_a_batch_joins_the_next_one() -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    directory = GatedDirectory({first: uuid.uuid4(), second: uuid.uuid4()})
    cached, _, _ = cache_over(directory)

    early = asyncio.ensure_future(cached.owner_of(first))
    await until_asked(directory, 1)
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
    cached, _, _ = cache_over(directory)

    assert await cached.owner_of(story) is None
    directory.add(story, owner)

    assert await cached.owner_of(story) == owner


async def test_an_owner_is_trusted_for_the_ttl_then_asked_again_and_a_move_is_reported() -> None:
    story, owner, buyer = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    directory = MemoryStoryDirectory({story: owner})
    cached, clock, changes = cache_over(directory)
    assert await cached.owner_of(story) == owner

    directory.add(story, buyer)
    clock.now += TTL - 1
    trusted = await cached.owner_of(story)
    clock.now += 1

    assert trusted == owner
    assert cached.known_owner(story) is None  # expired: the dispatch path must look it up
    assert await cached.owner_of(story) == buyer
    assert directory.lookups == 2
    assert changes == [(story, owner, buyer)]


async def test_a_deleted_story_is_reported_and_forgotten() -> None:
    story, owner = uuid.uuid4(), uuid.uuid4()
    directory = MemoryStoryDirectory({story: owner})
    cached, clock, changes = cache_over(directory)
    await cached.owner_of(story)

    del directory.owners[story]
    clock.now += TTL

    assert await cached.owner_of(story) is None
    assert cached.last_owner(story) is None
    assert changes == [(story, owner, None)]


async def test_while_the_directory_is_down_the_last_answer_stands() -> None:
    story, owner, unseen = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    directory = MemoryStoryDirectory({story: owner, unseen: owner})
    cached, clock, changes = cache_over(directory)
    await cached.owner_of(story)
    listed = await cached.stories_of(owner)

    directory.fail()
    clock.now += TTL * 3
    served = await cached.owner_of(story)
    asked = directory.lookups
    served_again = await cached.owner_of(story)  # within RETRY_SECONDS of the failure: no query

    assert served == served_again == owner
    assert directory.lookups == asked
    assert cached.known_owner(story) == owner
    assert await cached.stories_of(owner) == listed
    clock.now += RETRY_SECONDS
    assert cached.known_owner(story) is None
    with pytest.raises(DirectoryUnavailable):
        await cached.owner_of(uuid.uuid4())
    assert changes == []


async def test_a_failed_lookup_reaches_every_waiter_and_is_retried_next_time() -> None:
    story, owner = uuid.uuid4(), uuid.uuid4()
    directory = MemoryStoryDirectory({story: owner})
    cached, _, _ = cache_over(directory)
    directory.fail()

    results = await asyncio.gather(*(cached.owner_of(story) for _ in range(3)), return_exceptions=True)

    assert all(isinstance(r, DirectoryUnavailable) for r in results)
    directory.recover()
    assert await cached.owner_of(story) == owner


async def test_the_owners_remembered_are_bounded() -> None:
    owner = uuid.uuid4()
    stories = [uuid.uuid4() for _ in range(5)]
    cached, _, _ = cache_over(MemoryStoryDirectory(dict.fromkeys(stories, owner)), size=3)

    for story in stories:
        await cached.owner_of(story)

    assert [cached.known_owner(s) for s in stories] == [None, None, owner, owner, owner]


@pytest.mark.parametrize("waiters", [1, 20])
async def test_a_waiter_that_gives_up_does_not_cancel_the_others(waiters: int) -> None:
    story, owner = uuid.uuid4(), uuid.uuid4()
    cached, _, _ = cache_over(MemoryStoryDirectory({story: owner}))
    impatient = asyncio.ensure_future(cached.owner_of(story))
    patient = [asyncio.ensure_future(cached.owner_of(story)) for _ in range(waiters)]
    impatient.cancel()

    assert await asyncio.gather(*patient) == [owner] * waiters


async def test_answers_apply_in_the_order_asked_so_an_old_answer_never_wins() -> None:
    story, seller, buyer = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    directory = GatedDirectory({story: seller})
    cached, _, changes = cache_over(directory)
    seen: list[Answers] = []

    old = asyncio.ensure_future(cached.owner_of(story))
    await until_asked(directory, 1)
    directory.add(story, buyer)
    check = asyncio.ensure_future(cached.confirm([story], [], seen.append))
    await asyncio.sleep(0)
    directory.gate.set()
    await asyncio.gather(old, check)

    assert await old == seller
    assert seen == [{story: buyer}]
    assert cached.last_owner(story) == buyer
    assert changes == [(story, seller, buyer)]


async def test_confirm_asks_past_the_cache_and_names_every_story_asked_or_listed() -> None:
    mine, gone, user = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    listed = uuid.uuid4()
    directory = MemoryStoryDirectory({mine: user, gone: user, listed: user})
    cached, _, changes = cache_over(directory)
    await cached.owner_of(gone)
    del directory.owners[gone]
    seen: list[Answers] = []

    await cached.confirm([mine, gone], [user], seen.append)

    assert seen == [{mine: user, gone: None, listed: user}]
    assert directory.lookups == 2
    assert changes == [(gone, user, None)]
    assert sorted(await cached.stories_of(user)) == sorted([mine, listed])
