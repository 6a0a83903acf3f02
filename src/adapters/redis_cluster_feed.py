"""The cluster feed: sharded subscriptions to the watched stories' and users' channels only.

Any broker error ends `events()` with `FeedUnavailable` after closing the pubsub; the next
`events()` re-reads the slot map and subscribes every remembered topic on the current masters.
That is how a failover heals: redis-py 8.1 alone never moves a subscriber's channels off a dead
master (see adapters/redis_cluster.py), and the hub re-offers snapshots on each `Subscribed`.
The sharded revocations channel is always subscribed. Bound: the topics remembered are those
the hub watches (see `TopicSubscriptions`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Collection, Sequence
from typing import Any, TypeVar
from uuid import UUID

from redis.asyncio.cluster import RedisCluster

from adapters.json_codec import JsonCodec
from adapters.redis_cluster import ClusterKeys
from adapters.redis_cluster_subscription import BROKER_ERRORS, ShardedSubscription
from domain.errors import FeedUnavailable
from domain.progress import InvalidUpdate, ProgressUpdate, RejectReason
from domain.values import FeedEvent, OwnerUpdate, Rejected, Revoked, Subscribed, Topic, revocation

T = TypeVar("T")
CHUNK = 500  # snapshot keys per round of MGETs


class ClusterProgressFeed:
    """A `TopicFeed`: only the watched topics' channels are subscribed."""

    def __init__(
        self,
        client: RedisCluster,
        codec: JsonCodec,
        keys: ClusterKeys,
        timeout: float = 2.0,
        poll: float = 0.02,
    ) -> None:
        self._client = client
        self._codec = codec
        self._keys = keys
        self._timeout = timeout
        self._poll = poll  # each node's read wait in the round robin: the worst added latency per node
        self._topics: set[Topic] = set()
        self._live: ShardedSubscription | None = None

    async def events(self) -> AsyncGenerator[FeedEvent, None]:
        await self._bounded(self._refresh_slots)
        subscription = ShardedSubscription(self._client.pubsub(), self._poll)
        self._live = subscription
        try:
            channels = [self._keys.revocations, *(self._keys.channel(t) for t in self._topics)]
            await self._bounded(subscription.subscribe, channels)
            yield Subscribed()
            while True:
                item = await subscription.inbox.get()
                if isinstance(item, BaseException):
                    raise FeedUnavailable(f"sharded pubsub read failed: {item!r}") from item
                yield self._parse(*item)
        finally:
            if self._live is subscription:
                self._live = None
            await subscription.close()

    async def watch(self, topics: Collection[Topic]) -> None:
        """On the live subscription: return once confirmed. Without one, the topics wait for the next
        `events()`; this only checks that their masters answer."""
        self._topics.update(topics)
        channels = [self._keys.channel(t) for t in topics]
        if self._live is not None:
            await self._bounded(self._live.subscribe, channels)
        else:
            await self._bounded(self._ping_masters_of, channels)

    async def unwatch(self, topics: Collection[Topic]) -> None:
        self._topics.difference_update(topics)
        if self._live is not None:
            self._live.unsubscribe([self._keys.channel(t) for t in topics])

    async def snapshots(self, story_ids: Sequence[UUID]) -> list[ProgressUpdate]:
        found: list[ProgressUpdate] = []
        for start in range(0, len(story_ids), CHUNK):
            keys = [self._keys.snapshot(s) for s in story_ids[start : start + CHUNK]]
            raw = await self._bounded(self._client.mget_nonatomic, keys)
            found.extend(u for u in map(self._codec.decode_snapshot, raw) if u is not None)
        return found

    async def ping(self) -> None:
        """Every master serving a watched topic's slot answers; with nothing watched, any node."""
        await self._bounded(self._ping_masters_of, [self._keys.channel(t) for t in self._topics])

    async def _refresh_slots(self) -> None:
        """Learn the current masters: after a failover the cached map still names the dead one."""
        await self._client.initialize()
        await self._client.nodes_manager.initialize()

    async def _ping_masters_of(self, channels: list[str]) -> None:
        await self._client.initialize()  # re-reads the map if an earlier command failed
        if not channels:
            await self._client.ping(target_nodes=RedisCluster.RANDOM)
            return
        masters = {
            node.name: node for node in map(self._client.get_node_from_key, channels) if node is not None
        }
        await self._client.ping(target_nodes=list(masters.values()))

    async def _bounded(self, command: Callable[..., Awaitable[T]], *args: Any) -> T:
        try:
            async with asyncio.timeout(self._timeout):
                return await command(*args)
        except (*BROKER_ERRORS, TimeoutError) as exc:
            raise FeedUnavailable(f"redis cluster command failed: {exc!r}") from exc

    def _parse(self, channel: str, data: bytes) -> ProgressUpdate | OwnerUpdate | Revoked | Rejected:
        if channel == self._keys.revocations:
            return revocation(channel, data)
        topic = self._keys.topic_of(channel)
        try:
            update = self._codec.decode(data)
        except InvalidUpdate as exc:
            return Rejected.of(channel, exc)
        if topic is not None and topic.kind == "user":
            return OwnerUpdate(topic.id, update)
        if topic is None or topic.id != update.story_id:
            return Rejected(channel, RejectReason.STORY_ID, "differs from the channel's")
        return update
