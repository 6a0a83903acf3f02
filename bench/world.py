"""What a bench run owns: its database, Redis key prefix, stories and tokens; removed at the end.

Updates go through the project's own publish script (SET + PUBLISH + seq, as the shipped
publisher does), many at once in a pipeline, so one bench process can publish to 1,000 stories
ten times a second.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from redis.asyncio import Redis

from adapters.json_codec import JsonCodec
from adapters.jwt_tokens import JwtTokenIssuer
from adapters.redis_progress import RedisKeys
from codestory_progress_worker.scripts import PUBLISH_SCRIPT
from domain.progress import ProgressUpdate, StoryStatus
from testkit.postgres import Database

SECRET = "bench-secret-0123456789abcdef0123456789"  # noqa: S105 (a throwaway key for the bench)
TTL_SECONDS = 3600
STEP_TEXT = "Writing chapter {index}: the lighthouse keeper finds the letter under the stairs"


@dataclass(frozen=True)
class Story:
    story_id: uuid.UUID
    token: str
    owner: uuid.UUID

    def path(self) -> str:
        return f"/ws/stories/{self.story_id}/progress?token={self.token}"

    def sse_path(self) -> str:
        return f"/sse/stories/{self.story_id}/progress?token={self.token}"


@dataclass
class World:
    database: Database
    redis: Redis
    prefix: str = field(default_factory=lambda: f"bench-{uuid.uuid4().hex[:12]}:")
    codec: JsonCodec = field(default_factory=JsonCodec)
    sha: str = ""

    @property
    def keys(self) -> RedisKeys:
        return RedisKeys(self.prefix)

    async def stories(self, count: int) -> list[Story]:
        """`count` new stories of distinct owners, each with a snapshot and a token of its owner."""
        owners = [(uuid.uuid4(), uuid.uuid4()) for _ in range(count)]
        await self.database.insert_stories(owners)
        issuer = JwtTokenIssuer(SECRET)
        stories = [Story(story, issuer.issue(user, ttl_seconds=TTL_SECONDS), user) for story, user in owners]
        await self.publish([update(s.story_id, StoryStatus.ANALYZING, 0, "queued") for s in stories])
        return stories

    async def publish(self, updates: list[ProgressUpdate]) -> None:
        """Each update through the publish script, all in one round trip."""
        if not self.sha:
            self.sha = await self.redis.script_load(PUBLISH_SCRIPT)
        pipe = self.redis.pipeline(transaction=False)
        keys = self.keys
        for each in updates:
            body = self.codec.encode_bytes(each)
            pipe.evalsha(
                self.sha, 2, keys.snapshot(each.story_id), keys.counter(each.story_id), body,
                keys.story_channel(each.story_id), TTL_SECONDS,
            )  # fmt: skip
        await pipe.execute()

    async def publish_at_rate(
        self, stories: list[Story], rate: float, count: int, step: str = STEP_TEXT
    ) -> None:
        """`count` updates to every story, `rate` a second; the last one is `complete`."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        for index in range(count):
            if (delay := start + index / rate - loop.time()) > 0:
                await asyncio.sleep(delay)
            status = StoryStatus.COMPLETE if index == count - 1 else StoryStatus.GENERATING
            percent = index * 100 // max(count - 1, 1)
            text = step.format(index=index)
            await self.publish([update(s.story_id, status, percent, text) for s in stories])

    async def remove_keys(self) -> None:
        keys = [key async for key in self.redis.scan_iter(match=f"{self.prefix}*", count=1000)]
        for start in range(0, len(keys), 1000):
            await self.redis.delete(*keys[start : start + 1000])


def update(story_id: uuid.UUID, status: StoryStatus, percent: int, step: str) -> ProgressUpdate:
    return ProgressUpdate(story_id, status, percent, step, datetime.now(UTC))
