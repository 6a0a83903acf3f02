"""`StoryDirectoryContract` over the in-memory directory (the PostgreSQL run is in tests/integration)."""

from __future__ import annotations

from uuid import UUID

import pytest

from adapters.memory import MemoryStoryDirectory
from tests.contracts.stories import DirectoryPorts, StoryDirectoryContract


@pytest.fixture
def directory_ports() -> DirectoryPorts:
    directory = MemoryStoryDirectory()

    async def add(story_id: UUID, owner: UUID) -> None:
        directory.add(story_id, owner)

    return DirectoryPorts(directory=directory, add=add)


class TestMemoryStoryDirectory(StoryDirectoryContract):
    pass
