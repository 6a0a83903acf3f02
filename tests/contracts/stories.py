"""The contract of `StoryDirectory`: who owns a story, which stories a user has, unknown means none.

A test module subclasses `StoryDirectoryContract` and provides a `directory_ports` fixture: the
directory and a way to add a row (`MemoryStoryDirectory.add` or an INSERT into `stories`).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from uuid import UUID

from domain.ports import StoryDirectory
from testkit.waiting import outcome


@dataclass
class DirectoryPorts:
    directory: StoryDirectory
    add: Callable[[UUID, UUID], Awaitable[None]]


class StoryDirectoryContract:
    async def test_owner_of_a_known_story(self, directory_ports: DirectoryPorts) -> None:
        story, owner = uuid.uuid4(), uuid.uuid4()
        await directory_ports.add(story, owner)

        assert await directory_ports.directory.owner_of(story) == owner

    async def test_owner_of_an_unknown_story_is_none(self, directory_ports: DirectoryPorts) -> None:
        await directory_ports.add(uuid.uuid4(), uuid.uuid4())

        assert await directory_ports.directory.owner_of(uuid.uuid4()) is None

    async def test_stories_of_a_user_are_exactly_theirs(self, directory_ports: DirectoryPorts) -> None:
        user, other = uuid.uuid4(), uuid.uuid4()
        mine = [uuid.uuid4() for _ in range(3)]
        for story in mine:
            await directory_ports.add(story, user)
        await directory_ports.add(uuid.uuid4(), other)

        found = await directory_ports.directory.stories_of(user)

        assert sorted(found) == sorted(mine)
        assert all(isinstance(story, UUID) for story in found)

    async def test_stories_of_a_user_without_any_is_empty(self, directory_ports: DirectoryPorts) -> None:
        await directory_ports.add(uuid.uuid4(), uuid.uuid4())

        assert await directory_ports.directory.stories_of(uuid.uuid4()) == []

    async def test_ping_answers_while_the_directory_is_up(self, directory_ports: DirectoryPorts) -> None:
        assert await outcome(directory_ports.directory.ping()) == "answered"

    async def test_owners_of_many_stories_in_one_call(self, directory_ports: DirectoryPorts) -> None:
        known = {uuid.uuid4(): uuid.uuid4() for _ in range(3)}
        for story, owner in known.items():
            await directory_ports.add(story, owner)

        found = await directory_ports.directory.owners_of([*known, uuid.uuid4()])

        assert found == known
        assert await directory_ports.directory.owners_of([]) == {}

    async def test_owners_of_stories_and_of_every_story_of_some_users_in_one_call(
        self, directory_ports: DirectoryPorts
    ) -> None:
        user, other, stranger = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        theirs = {uuid.uuid4(): user for _ in range(3)}
        asked, unasked = uuid.uuid4(), uuid.uuid4()
        for story, owner in [*theirs.items(), (asked, other), (unasked, stranger)]:
            await directory_ports.add(story, owner)

        both = await directory_ports.directory.owners_of([asked, uuid.uuid4()], [user])
        lists_only = await directory_ports.directory.owners_of([], [user, uuid.uuid4()])

        assert both == {**theirs, asked: other}
        assert lists_only == theirs
