"""Story ownership from the main backend's `stories` table (read only), over SQLAlchemy async + asyncpg.

Every failure to answer, a refused connection, an exhausted pool or a slow query, becomes
`DirectoryUnavailable` within `timeout`, so a connecting client hears 1013 instead of waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID

from sqlalchemy import Column, MetaData, Table, Uuid, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from domain.errors import DirectoryUnavailable

metadata = MetaData()
stories = Table(
    "stories",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("user_id", Uuid, nullable=False, index=True),
)


def make_engine(url: str, timeout: float = 1.5) -> AsyncEngine:
    return create_async_engine(
        url,
        pool_size=10,
        max_overflow=10,
        pool_timeout=timeout,
        pool_pre_ping=True,
        connect_args={"timeout": timeout, "command_timeout": timeout},
    )


class PostgresStoryDirectory:
    def __init__(self, engine: AsyncEngine, timeout: float = 1.5) -> None:
        self._engine = engine
        self._timeout = timeout

    async def owner_of(self, story_id: UUID) -> UUID | None:
        async with self._connection() as conn:
            owner = await conn.scalar(select(stories.c.user_id).where(stories.c.id == story_id))
        return owner if isinstance(owner, UUID) else None

    async def stories_of(self, user_id: UUID) -> list[UUID]:
        async with self._connection() as conn:
            rows = await conn.scalars(select(stories.c.id).where(stories.c.user_id == user_id))
            return list(rows)

    async def ping(self) -> None:
        async with self._connection() as conn:
            await conn.execute(text("select 1"))

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection]:
        try:
            async with asyncio.timeout(self._timeout), self._engine.connect() as conn:
                yield conn
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            raise DirectoryUnavailable(f"postgres: {type(exc).__name__}") from exc


async def create_schema(engine: AsyncEngine) -> None:
    """Development only: create `stories` where the main backend has not (never alters an existing one)."""
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
