"""CachingDirectory's story lists: one query for a storm of dashboards, kept true by every later
answer about their stories, and bounded."""

from __future__ import annotations

import asyncio
import uuid

from adapters.memory import MemoryStoryDirectory
from testkit.directories import TTL, cache_over


async def test_a_users_list_is_one_query_for_a_storm_of_dashboards_and_teaches_the_owners() -> None:
    owner = uuid.uuid4()
    stories = [uuid.uuid4() for _ in range(10_000)]
    directory = MemoryStoryDirectory(dict.fromkeys(stories, owner))
    cached, clock, _ = cache_over(directory)

    lists = await asyncio.gather(*(cached.stories_of(owner) for _ in range(300)))
    clock.now += TTL - 1
    later = await cached.stories_of(owner)

    assert directory.lookups == 1
    assert all(listed is lists[0] for listed in [*lists, later])  # one tuple, shared
    assert sorted(lists[0]) == sorted(stories)
    assert all(cached.known_owner(s) == owner for s in stories)
    clock.now += 1
    await cached.stories_of(owner)
    assert directory.lookups == 2


async def test_a_list_follows_every_later_answer_about_its_stories() -> None:
    seller, buyer = uuid.uuid4(), uuid.uuid4()
    sold, kept, created = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    directory = MemoryStoryDirectory({sold: seller, kept: seller})
    cached, clock, changes = cache_over(directory)
    await cached.stories_of(seller)
    await cached.stories_of(buyer)

    directory.add(sold, buyer)
    directory.add(created, seller)
    clock.now += TTL
    await asyncio.gather(cached.owner_of(sold), cached.owner_of(created))
    clock.now -= TTL  # the lists are still trusted: only the answers about stories moved them

    assert sorted(await cached.stories_of(seller)) == sorted([kept, created])
    assert list(await cached.stories_of(buyer)) == [sold]
    assert changes == [(sold, seller, buyer)]


async def test_a_story_that_left_a_list_is_reported_when_the_list_is_read_again() -> None:
    seller, buyer, story = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    directory = MemoryStoryDirectory({story: seller})
    cached, clock, changes = cache_over(directory, size=1)
    await cached.stories_of(seller)
    directory.add(other := uuid.uuid4(), buyer)
    await cached.owner_of(other)  # the story's owner on record is pushed out (size 1)
    assert cached.last_owner(story) is None

    directory.add(story, buyer)
    clock.now += TTL
    listed = await cached.stories_of(seller)

    assert listed == ()
    assert changes == [(story, seller, None)]  # it is no longer the seller's: its new owner is asked later


async def test_the_lists_kept_are_bounded_in_story_ids() -> None:
    users = {uuid.uuid4(): [uuid.uuid4(), uuid.uuid4()] for _ in range(4)}
    huge = uuid.uuid4()
    owners = {story: user for user, stories in users.items() for story in stories}
    owners.update({uuid.uuid4(): huge for _ in range(6)})
    directory = MemoryStoryDirectory(owners)
    cached, _, _ = cache_over(directory, listed=5)

    for user in [*users, huge]:
        await cached.stories_of(user)
    asked = directory.lookups
    for user in list(users)[2:]:
        assert len(await cached.stories_of(user)) == 2
    kept = directory.lookups == asked
    assert len(await cached.stories_of(huge)) == 6  # answered, but over the bound: not kept

    assert kept
    assert directory.lookups == asked + 1
