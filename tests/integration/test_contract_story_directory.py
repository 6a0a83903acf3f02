"""`StoryDirectoryContract` over PostgreSQL, this run's database (the in-memory run is in tests/unit)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.postgres_stories import PostgresStoryDirectory, make_engine
from testkit.postgres import Database
from tests.contracts.stories import DirectoryPorts, StoryDirectoryContract


@pytest.fixture
async def directory_ports(database: Database) -> AsyncIterator[DirectoryPorts]:
    engine = make_engine(database.url)
    try:
        yield DirectoryPorts(directory=PostgresStoryDirectory(engine), add=database.insert_story)
    finally:
        await engine.dispose()


class TestPostgresStoryDirectory(StoryDirectoryContract):
    pass
