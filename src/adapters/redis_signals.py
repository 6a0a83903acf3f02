"""The `WorkerSignals` port over Redis, standalone and cluster: the workers' liveness keys read in one
round trip, and the owner's cancel recorded and signalled in one script.

Names are the SDK's (`codestory_progress_worker.keys`): `story:{id}:alive` holds the worker's last
heartbeat (epoch ms), `story:{id}:cancel` the request (JSON, 24 h), and the channel of the same
name carries the story id to a subscribed worker. In cluster mode every one of them carries the
story's hash tag, so the script runs on the story's shard, and its SPUBLISH goes to the same slot.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar
from uuid import UUID

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from adapters.redis_cluster import ClusterKeys
from adapters.redis_cluster_subscription import BROKER_ERRORS
from adapters.redis_progress import MGET_KEYS, RedisKeys
from domain.errors import FeedUnavailable
from domain.values import CancelRequest

T = TypeVar("T")

CANCEL_TTL_SECONDS = 86_400
# KEYS[1] the cancel key; ARGV the request's JSON, the story id, the TTL. The channel has the key's
# name. SET NX: the first request stands (a repeat is still answered `cancel ok`).
_CANCEL = """
redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[3])
redis.call('{publish}', KEYS[1], ARGV[2])
return 1
"""
CANCEL_SCRIPT = _CANCEL.format(publish="PUBLISH")
CLUSTER_CANCEL_SCRIPT = _CANCEL.format(publish="SPUBLISH")


def cancel_record(request: CancelRequest) -> str:
    return json.dumps({"user_id": str(request.user_id), "requested_at": request.requested_at.isoformat()})


def heartbeat(raw: bytes | None) -> int | None:
    """A liveness value as the SDK writes it (decimal epoch ms); anything else reads as none."""
    if raw is None or not raw.isdigit() or len(raw) > 16:
        return None
    return int(raw)


class _Signals:
    def __init__(self, keys: RedisKeys | ClusterKeys, script: Any, timeout: float) -> None:
        self._keys = keys
        self._script = script
        self._timeout = timeout

    async def cancel(self, request: CancelRequest) -> None:
        key = self._keys.cancel(request.story_id)
        args = [cancel_record(request), str(request.story_id), CANCEL_TTL_SECONDS]
        await self._bounded(self._script, [key], args)

    async def _bounded(self, command: Callable[..., Awaitable[T]], *args: Any) -> T:
        try:
            async with asyncio.timeout(self._timeout):
                return await command(*args)
        except (*BROKER_ERRORS, TimeoutError) as exc:
            raise FeedUnavailable(f"redis command failed: {exc!r}") from exc


class RedisWorkerSignals(_Signals):
    def __init__(self, client: Redis, keys: RedisKeys, timeout: float = 2.0) -> None:
        super().__init__(keys, client.register_script(CANCEL_SCRIPT), timeout)
        self._client = client

    async def liveness(self, story_ids: Sequence[UUID]) -> list[int | None]:
        """MGETs of 500 keys, pipelined: one round trip however many."""
        keys = [self._keys.alive(s) for s in story_ids]
        pipe = self._client.pipeline(transaction=False)
        for start in range(0, len(keys), MGET_KEYS):
            pipe.mget(keys[start : start + MGET_KEYS])
        replies: list[list[bytes | None]] = await self._bounded(pipe.execute) if keys else []
        return [heartbeat(raw) for reply in replies for raw in reply]


class ClusterWorkerSignals(_Signals):
    def __init__(self, client: RedisCluster, keys: ClusterKeys, timeout: float = 2.0) -> None:
        super().__init__(keys, client.register_script(CLUSTER_CANCEL_SCRIPT), timeout)
        self._client = client

    async def liveness(self, story_ids: Sequence[UUID]) -> list[int | None]:
        """One MGET per slot, all in one pipeline (one round trip to each master, in parallel)."""
        if not story_ids:
            return []
        raw = await self._bounded(self._client.mget_nonatomic, [self._keys.alive(s) for s in story_ids])
        return [heartbeat(value) for value in raw]
