"""The names of a story's keys and channels in Redis, as the gateway reads them.

`prefix` must be the gateway's `REDIS_KEY_PREFIX` (empty by default). In cluster mode every name of
a story carries the story id as a literal hash tag, so the story's keys and channel live in one
slot; the prefix goes before `story:`/`user:`, outside the braces.
"""

from __future__ import annotations

from uuid import UUID

ScriptCall = tuple[list[str], list[str | int]]


class StandaloneKeys:
    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.revocations = f"{prefix}revocations"  # PUBLISH a story id: gateways re-check its owner

    def snapshot(self, story_id: UUID) -> str:
        return f"{self.prefix}story:{story_id}:progress"

    def counter(self, story_id: UUID) -> str:
        return f"{self.prefix}story:{story_id}:seq"

    def story_channel(self, story_id: UUID) -> str:
        return f"{self.prefix}story:{story_id}"

    def alive(self, story_id: UUID) -> str:
        """The liveness key: the worker's last heartbeat (epoch ms), with PX = the heartbeat TTL."""
        return f"{self.prefix}story:{story_id}:alive"

    def cancel(self, story_id: UUID) -> str:
        """The cancel key, written by the gateway: JSON {"user_id", "requested_at"}."""
        return f"{self.prefix}story:{story_id}:cancel"

    def cancel_channel(self, story_id: UUID) -> str:
        """PUBLISH the story id here after writing the cancel key (same name as the key)."""
        return self.cancel(story_id)


class ClusterKeys:
    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.revocations = f"{prefix}revocations"  # SPUBLISH a story id: gateways re-check its owner

    def snapshot(self, story_id: UUID) -> str:
        return f"{self.prefix}story:{{{story_id}}}:progress"

    def counter(self, story_id: UUID) -> str:
        return f"{self.prefix}story:{{{story_id}}}:seq"

    def story_channel(self, story_id: UUID) -> str:
        return f"{self.prefix}story:{{{story_id}}}"

    def alive(self, story_id: UUID) -> str:
        """The liveness key, in the story's slot: last heartbeat (epoch ms), PX = the heartbeat TTL."""
        return f"{self.prefix}story:{{{story_id}}}:alive"

    def cancel(self, story_id: UUID) -> str:
        """The cancel key, in the story's slot, written by the gateway: JSON {"user_id", "requested_at"}."""
        return f"{self.prefix}story:{{{story_id}}}:cancel"

    def cancel_channel(self, story_id: UUID) -> str:
        """SPUBLISH the story id here after writing the cancel key (same name as the key, same slot)."""
        return self.cancel(story_id)

    def user_channel(self, user_id: UUID) -> str:
        """The owner's sharded channel: each update goes there too, for the owner's dashboards."""
        return f"{self.prefix}user:{{{user_id}}}"


def publish_call(
    keys: StandaloneKeys | ClusterKeys, story_id: UUID, body: str, ttl_seconds: int, *, cancel: bool = False
) -> ScriptCall:
    """KEYS and ARGV of the publish script (either mode) for one update; `cancel=True` adds the
    story's cancel key as KEYS[3], for the SDK's variants (`scripts.SDK_PUBLISH_SCRIPT`)."""
    names = [keys.snapshot(story_id), keys.counter(story_id)]
    return (
        [*names, keys.cancel(story_id)] if cancel else names,
        [body, keys.story_channel(story_id), ttl_seconds],
    )


def heartbeat_call(
    keys: StandaloneKeys | ClusterKeys, story_id: UUID, now_ms: int, ttl_ms: int
) -> ScriptCall:
    """KEYS and ARGV of `scripts.HEARTBEAT_SCRIPT`: one slot in cluster mode (the story's tag)."""
    return [keys.alive(story_id), keys.cancel(story_id)], [now_ms, ttl_ms]
