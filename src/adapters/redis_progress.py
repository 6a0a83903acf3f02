"""Progress over Redis, as docs/protocol.md says: channel `story:{id}`, snapshot key `story:{id}:progress`.

The publisher is the worker SDK's backend (`codestory_progress_worker`, which holds the one copy
of the publish script): one Lua script writes the snapshot, assigns the next `seq` (from a
counter key beside the snapshot) and publishes, so the snapshot never goes back and every update
has its order.
The feed holds one pattern subscription, and on the same connection the revocations channel
(`{prefix}revocations`); any Redis failure surfaces as `FeedUnavailable` (the client is built
without retries) so the hub can resubscribe and resync on its own terms.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncGenerator, Sequence
from dataclasses import replace
from typing import Any
from uuid import UUID

from redis.asyncio import Redis
from redis.exceptions import RedisError

from adapters.json_codec import JsonCodec
from codestory_progress_worker.aio import AsyncRedisBackend
from codestory_progress_worker.keys import StandaloneKeys
from domain.errors import FeedUnavailable
from domain.progress import InvalidUpdate, ProgressUpdate, RejectReason
from domain.values import FeedEvent, Rejected, Revoked, Subscribed, revocation


class RedisKeys(StandaloneKeys):
    """The SDK's names (the one home of the key scheme), and what the feed needs to read them: the
    pattern it subscribes, and the story of a channel."""

    def __init__(self, prefix: str = "") -> None:
        super().__init__(prefix)
        self.pattern = f"{prefix}story:*"

    def story_of(self, channel: str) -> UUID | None:
        """The story of a channel named exactly as `story_channel(story_id)` names it, else None."""
        head = f"{self.prefix}story:"
        if not channel.startswith(head):
            return None
        try:
            story = UUID(channel[len(head) :])
        except ValueError:
            return None
        return story if self.story_channel(story) == channel else None


class RedisProgressPublisher:
    """The SDK's standalone backend behind the `ProgressPublisher` port, the update encoded once."""

    def __init__(self, client: Redis, codec: JsonCodec, keys: RedisKeys, ttl_seconds: int) -> None:
        self._backend = AsyncRedisBackend(client, prefix=keys.prefix, ttl_seconds=ttl_seconds)
        self._codec = codec

    async def publish(self, update: ProgressUpdate, owner: UUID | None = None) -> ProgressUpdate:
        """`owner` is not needed here: the pattern subscription routes dashboards by owner lookup."""
        unsequenced = replace(update, seq=None)
        receipt = await self._backend.publish(update.story_id, owner, self._codec.encode(unsequenced))
        return replace(unsequenced, seq=receipt.seq)


CHANNELS_REMEMBERED = 100_000
MGET_KEYS = 500  # keys per MGET: a big read never blocks Redis for long


class RedisProgressFeed:
    """Bound: `channels` channel names remembered with their story (100,000), the oldest forgotten first."""

    def __init__(
        self,
        client: Redis,
        codec: JsonCodec,
        keys: RedisKeys,
        timeout: float = 2.0,
        channels: int = CHANNELS_REMEMBERED,
    ) -> None:
        self._client = client
        self._codec = codec
        self._keys = keys
        self._timeout = timeout
        self._channels_remembered = channels
        self._channels: dict[bytes, UUID | None] = {}
        self._revocations = keys.revocations.encode()

    @property
    def channels_remembered(self) -> int:
        return len(self._channels)

    async def events(self) -> AsyncGenerator[FeedEvent, None]:
        """Messages are read straight off the subscribed connection (RESP2 arrays, hiredis-parsed),
        without redis-py's per-message wrapper and timeout: a third of the cost of `get_message`.
        A dead connection is found by the TCP keepalive `open_redis` sets, or by a reset."""
        pubsub = self._client.pubsub()
        try:
            await self._subscribe(pubsub)
            # Idle pooled connections may be dead after a Redis restart; the resync that follows
            # Subscribed must not trip on them.
            await self._client.connection_pool.disconnect(inuse_connections=False)
            connection: Any = pubsub.connection  # set by the subscription just confirmed
            yield Subscribed()
            while True:
                try:
                    reply = await connection.read_response(disable_decoding=True, timeout=math.inf)
                except (RedisError, OSError) as exc:
                    raise FeedUnavailable(f"pubsub read failed: {exc!r}") from exc
                if isinstance(reply, list) and len(reply) == 4 and reply[0] == b"pmessage":
                    if reply[2].endswith(b":cancel"):  # `story:{id}:cancel`: for the story's worker
                        continue
                    yield self._parse(reply[2], reply[3])
                elif isinstance(reply, list) and len(reply) == 3 and reply[0] == b"message":
                    yield self._revoked(reply[1], reply[2])
        finally:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def snapshots(self, story_ids: Sequence[UUID]) -> list[ProgressUpdate]:
        """One round trip however many: MGETs of 500 keys, pipelined."""
        keys = [self._keys.snapshot(s) for s in story_ids]
        if len(keys) <= MGET_KEYS:
            replies = [await self._command(self._client.mget, keys)] if keys else []
        else:
            pipe = self._client.pipeline(transaction=False)
            for start in range(0, len(keys), MGET_KEYS):
                pipe.mget(keys[start : start + MGET_KEYS])
            replies = await self._command(pipe.execute)
        decode = self._codec.decode_snapshot
        return [u for raw in replies for u in map(decode, raw) if u is not None]

    async def ping(self) -> None:
        await self._command(self._client.ping)

    async def _subscribe(self, pubsub: Any) -> None:
        """Return once Redis confirms the pattern and the revocations channel: from then on nothing
        published is missed."""
        try:
            async with asyncio.timeout(self._timeout):
                await pubsub.psubscribe(self._keys.pattern)
                await pubsub.subscribe(self._keys.revocations)
                confirmed: set[str] = set()
                while confirmed != {"psubscribe", "subscribe"}:
                    if (reply := await pubsub.get_message(timeout=self._timeout)) is not None:
                        confirmed.add(reply["type"])
        except (RedisError, OSError, TimeoutError) as exc:
            raise FeedUnavailable(f"subscribe failed: {exc!r}") from exc

    async def _command(self, command: Any, *args: Any) -> Any:
        try:
            async with asyncio.timeout(self._timeout):
                return await command(*args)
        except (RedisError, OSError, TimeoutError) as exc:
            raise FeedUnavailable(f"redis command failed: {exc!r}") from exc

    def _parse(self, channel: bytes, data: bytes) -> ProgressUpdate | Rejected:
        try:
            update = self._codec.decode(data)
        except InvalidUpdate as exc:
            return Rejected.of(channel.decode(errors="replace"), exc)
        if self._story_of(channel) != update.story_id:
            name = channel.decode(errors="replace")
            return Rejected(name, RejectReason.STORY_ID, "differs from the channel's")
        return update

    def _revoked(self, channel: bytes, data: bytes) -> Revoked | Rejected:
        if channel != self._revocations:
            return Rejected(channel.decode(errors="replace"), RejectReason.CHANNEL, "not subscribed")
        return revocation(channel.decode(), data)

    def _story_of(self, channel: bytes) -> UUID | None:
        """The story whose canonical channel this is, remembered (bounded): a story's messages keep
        coming on one channel, and building its name again for each costs more than the lookup."""
        story = self._channels.get(channel)
        if story is None and channel not in self._channels:
            story = self._channels[channel] = self._keys.story_of(channel.decode(errors="replace"))
            if len(self._channels) > self._channels_remembered:
                del self._channels[next(iter(self._channels))]
        return story
