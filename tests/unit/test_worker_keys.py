"""The worker SDK names every key and channel exactly as the gateway reads them, in both modes, and
its scripts are the ones the gateway's publishers run."""

from __future__ import annotations

import uuid

import pytest
from redis.crc import key_slot

from adapters import redis_cluster, redis_progress
from codestory_progress_worker import ClusterKeys, StandaloneKeys
from codestory_progress_worker.keys import publish_call
from domain.values import Topic

STORY = uuid.UUID("0b7c7f52-7a4e-4c1c-9d7e-1f7f0f5a9a11")
USER = uuid.UUID("5d2f4a8e-3b1c-4e6f-8a9d-2c7b1e0f4d33")


@pytest.mark.parametrize("prefix", ["", "app:"])
def test_standalone_names_are_the_gateways(prefix: str) -> None:
    sdk, gateway = StandaloneKeys(prefix), redis_progress.RedisKeys(prefix)

    assert sdk.snapshot(STORY) == gateway.snapshot(STORY)
    assert sdk.counter(STORY) == gateway.counter(STORY)
    assert sdk.story_channel(STORY) == gateway.story_channel(STORY)
    assert gateway.story_of(sdk.story_channel(STORY)) == STORY
    assert sdk.revocations == f"{prefix}revocations"


@pytest.mark.parametrize("prefix", ["", "app:"])
def test_cluster_names_are_the_gateways(prefix: str) -> None:
    sdk, gateway = ClusterKeys(prefix), redis_cluster.ClusterKeys(prefix)

    assert sdk.snapshot(STORY) == gateway.snapshot(STORY)
    assert sdk.counter(STORY) == gateway.counter(STORY)
    assert gateway.topic_of(sdk.story_channel(STORY)) == Topic("story", STORY)
    assert gateway.topic_of(sdk.user_channel(USER)) == Topic("user", USER)
    assert sdk.revocations == f"{prefix}revocations"


def test_the_cluster_script_call_stays_on_the_storys_slot() -> None:
    keys, args = publish_call(ClusterKeys("app:"), STORY, "{}", 60)

    assert len({key_slot(name.encode()) for name in [*keys, str(args[1])]}) == 1
    assert args[2] == 60


@pytest.mark.parametrize("prefix", ["", "app:"])
def test_liveness_and_cancel_names_as_agreed(prefix: str) -> None:
    standalone, cluster = StandaloneKeys(prefix), ClusterKeys(prefix)

    assert standalone.alive(STORY) == f"{prefix}story:{STORY}:alive"
    assert standalone.cancel(STORY) == f"{prefix}story:{STORY}:cancel"
    assert standalone.cancel_channel(STORY) == standalone.cancel(STORY)
    assert cluster.alive(STORY) == f"{prefix}story:{{{STORY}}}:alive"
    assert cluster.cancel(STORY) == f"{prefix}story:{{{STORY}}}:cancel"
    assert cluster.cancel_channel(STORY) == cluster.cancel(STORY)


def test_a_cancel_channel_is_no_story_channel_to_the_gateway() -> None:
    assert redis_progress.RedisKeys().story_of(StandaloneKeys().cancel_channel(STORY)) is None


def test_liveness_and_cancel_share_the_storys_slot_in_cluster_mode() -> None:
    keys = ClusterKeys("app:")
    names = [keys.snapshot(STORY), keys.alive(STORY), keys.cancel(STORY), keys.cancel_channel(STORY)]

    assert len({key_slot(name.encode()) for name in names}) == 1
