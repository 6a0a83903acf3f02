"""Progress over a Redis Cluster (`REDIS_MODE=cluster`), as docs/protocol.md's "Redis Cluster mode" says.

A story's snapshot, counter and sharded channel share the hash tag `{<story_id>}`, so the atomic
publish is one script on one shard; the update then goes to the owner's sharded channel
`user:{<user_id>}` too, for dashboards. The client is built without retries, so a failure reaches
the hub, which resubscribes and resyncs on its own terms.

redis-py 8.1.0's cluster pub/sub, checked against its source and history:
- it has the asyncio `ClusterPubSub` (new in 8.0, #3736), per-node connections from the node's own
  pool (#4037), slot-grouped resubscription without CROSSSLOT (#4038), and channel migration when
  the client's slot map changes (`on_slots_changed`);
- it lacks #4076 (after 8.1): the map changes only when a *command* of the client meets an error or
  a MOVED, so a pure subscriber whose master dies keeps its channels pinned to the dead node (it
  answers connection refused, never MOVED) and hears nothing after the promotion; a slot that
  moves (Redis then drops its sharded subscriptions) is not followed either; one failing node
  makes the round-robin read raise for every node; and nothing serializes the reader with
  `ssubscribe` on the same socket. `ClusterProgressFeed` therefore treats an error or a dropped
  subscription as the end of its pubsub, re-reads the slot map and subscribes anew, and
  serializes reads and (un)subscribes itself. tests/integration/test_redis_cluster.py shows
  both gaps (failover, slot migration) against a bare `ClusterPubSub`.
- `max_connections` is per node and raises `MaxConnectionsError` when exhausted: 8.1 has no
  waiting pool for the cluster client (`ClusterNode.acquire_connection` never waits).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from uuid import UUID

from redis.asyncio.cluster import RedisCluster
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from adapters.json_codec import JsonCodec
from codestory_progress_worker import keys
from codestory_progress_worker.aio import AsyncClusterBackend
from domain.progress import ProgressUpdate
from domain.values import Topic

logger = logging.getLogger(__name__)


class ClusterKeys(keys.ClusterKeys):
    """The SDK's names with their literal hash tag (the prefix before `story:`, outside the braces),
    and what the feed needs: a topic's channel, and the topic of a channel."""

    def channel(self, topic: Topic) -> str:
        return self.story_channel(topic.id) if topic.kind == "story" else self.user_channel(topic.id)

    def topic_of(self, channel: str) -> Topic | None:
        """The topic a channel of ours stands for; None for any other name."""
        for kind in ("story", "user"):
            head = f"{self.prefix}{kind}:{{"
            if channel.startswith(head) and channel.endswith("}"):
                try:
                    return Topic(kind, UUID(channel[len(head) : -1]))
                except ValueError:
                    return None
        return None


class ClusterProgressPublisher:
    """The SDK's cluster backend behind the `ProgressPublisher` port: store and publish on the
    story's shard, then the same body on the owner's channel."""

    def __init__(self, client: RedisCluster, codec: JsonCodec, keys: ClusterKeys, ttl_seconds: int) -> None:
        self._backend = AsyncClusterBackend(client, prefix=keys.prefix, ttl_seconds=ttl_seconds)
        self._codec = codec

    async def publish(self, update: ProgressUpdate, owner: UUID | None = None) -> ProgressUpdate:
        """`ValueError` without an owner: cluster mode publishes on the owner's channel too."""
        unsequenced = replace(update, seq=None)
        receipt = await self._backend.publish(update.story_id, owner, self._codec.encode(unsequenced))
        return replace(unsequenced, seq=receipt.seq)


@asynccontextmanager
async def open_redis_cluster(url: str, max_connections: int = 100) -> AsyncIterator[RedisCluster]:
    """No retries inside redis-py (a failure must reach the hub); bounded connect and read times.

    `url` names any node; the client learns the others. The slot map is read once here: redis-py
    8.1 fails commands that run concurrently before it is initialised (redis-py#3935). A cluster
    that does not answer yet is not fatal: the client then initialises on first use."""
    client = RedisCluster.from_url(
        url,
        socket_connect_timeout=2.0,
        socket_timeout=5.0,
        socket_keepalive=True,
        health_check_interval=10,
        retry=Retry(NoBackoff(), 0),
        max_connections=max_connections,
    )
    try:
        await client.initialize()
    except (RedisError, OSError) as exc:
        logger.warning("the Redis Cluster does not answer yet (%r); connecting on first use", exc)
    try:
        yield client
    finally:
        await client.aclose()
