"""Story ownership from the main backend's `stories` table (read only), over SQLAlchemy async + asyncpg.

Every failure to answer, a refused connection, an exhausted pool or a slow query, becomes
`DirectoryUnavailable` within `timeout`, so a connecting client hears 1013 instead of waiting.
No ping on every checkout (a round trip per connect): a pooled connection found dead, after a
PostgreSQL restart, invalidates the pool and the query is run once more on a fresh connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar
from uuid import UUID

from sqlalchemy import Column, MetaData, Table, Uuid, any_, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from domain.errors import DirectoryUnavailable

T = TypeVar("T")
metadata = MetaData()
stories = Table(
    "stories",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("user_id", Uuid, nullable=False, index=True),
)


_IDS = stories.c.id == any_(bindparam("ids", type_=ARRAY(Uuid())))
_USERS = stories.c.user_id == any_(bindparam("users", type_=ARRAY(Uuid())))
# One prepared statement each: a lookup by id never pays for a plan that also scans by user.
OWNERS = select(stories.c.id, stories.c.user_id).where(_IDS)
LISTS = select(stories.c.id, stories.c.user_id).where(_USERS)
OWNERS_AND_LISTS = select(stories.c.id, stories.c.user_id).where(_IDS | _USERS)


def make_engine(url: str, timeout: float = 1.5) -> AsyncEngine:
    """Reads only, one statement each: autocommit, so a lookup is one round trip, not BEGIN,
    SELECT and the ROLLBACK of returning the connection to the pool."""
    return create_async_engine(
        url,
        pool_size=10,
        max_overflow=10,
        pool_timeout=timeout,
        isolation_level="AUTOCOMMIT",
        pool_reset_on_return=None,
        connect_args={"timeout": timeout, "command_timeout": timeout},
    )


class PostgresStoryDirectory:
    def __init__(self, engine: AsyncEngine, timeout: float = 1.5) -> None:
        self._engine = engine
        self._timeout = timeout

    async def owner_of(self, story_id: UUID) -> UUID | None:
        return (await self.owners_of([story_id])).get(story_id)

    async def owners_of(self, story_ids: Sequence[UUID], users: Sequence[UUID] = ()) -> dict[UUID, UUID]:
        """One statement for any number of stories and users (`id = ANY($1) OR user_id = ANY($2)`)."""
        if not story_ids and not users:
            return {}
        statement = OWNERS_AND_LISTS if story_ids and users else OWNERS if story_ids else LISTS

        async def found(conn: AsyncConnection) -> dict[UUID, UUID]:
            rows = await conn.execute(statement, {"ids": list(story_ids), "users": list(users)})
            return {row[0]: row[1] for row in rows}

        return await self._run(found)

    async def stories_of(self, user_id: UUID) -> list[UUID]:
        return list(await self.owners_of((), [user_id]))

    async def ping(self) -> None:
        await self._run(lambda conn: conn.execute(text("select 1")))

    async def _run(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        try:
            async with asyncio.timeout(self._timeout):
                try:
                    return await self._once(work)
                except DBAPIError as exc:
                    if not exc.connection_invalidated:
                        raise
                    return await self._once(work)  # the server restarted: the pool is fresh now
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            raise DirectoryUnavailable(f"postgres: {type(exc).__name__}") from exc

    async def _once(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        async with self._engine.connect() as conn:
            return await work(conn)


async def create_schema(engine: AsyncEngine) -> None:
    """Development only: create `stories` where the main backend has not (never alters an existing one)."""
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
