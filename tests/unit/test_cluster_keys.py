"""Cluster key and channel names: one hash tag per story, so its keys and channel share a slot."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from redis.crc import key_slot

from adapters.redis_cluster import ClusterKeys
from codestory_progress_worker.scripts import CLUSTER_PUBLISH_SCRIPT
from domain.values import Topic

STORY = uuid.UUID("0b7c7f52-7a4e-4c1c-9d7e-1f7f0f5a9a11")
USER = uuid.UUID("5d2f4a8e-3b1c-4e6f-8a9d-2c7b1e0f4d33")


def test_names_carry_the_id_as_a_literal_hash_tag_after_the_prefix() -> None:
    keys = ClusterKeys("app:")

    assert keys.snapshot(STORY) == f"app:story:{{{STORY}}}:progress"
    assert keys.counter(STORY) == f"app:story:{{{STORY}}}:seq"
    assert keys.story_channel(STORY) == f"app:story:{{{STORY}}}"
    assert keys.user_channel(USER) == f"app:user:{{{USER}}}"


def test_a_storys_keys_and_channel_share_one_slot() -> None:
    keys = ClusterKeys("app:")
    names = [keys.snapshot(STORY), keys.counter(STORY), keys.story_channel(STORY)]

    assert len({key_slot(name.encode()) for name in names}) == 1


@pytest.mark.parametrize("topic", [Topic("story", STORY), Topic("user", USER)])
def test_a_topic_survives_the_round_trip_through_its_channel(topic: Topic) -> None:
    keys = ClusterKeys("app:")

    assert keys.topic_of(keys.channel(topic)) == topic


@pytest.mark.parametrize(
    "channel",
    [f"story:{{{STORY}}}", f"app:story:{STORY}", "app:story:{not-a-uuid}", f"app:team:{{{USER}}}"],
)
def test_a_channel_not_of_ours_has_no_topic(channel: str) -> None:
    assert ClusterKeys("app:").topic_of(channel) is None


def test_the_cluster_script_publishes_on_the_sharded_channel_and_returns_the_body() -> None:
    assert "redis.call('SPUBLISH', ARGV[2], body)" in CLUSTER_PUBLISH_SCRIPT
    assert "'PUBLISH'" not in CLUSTER_PUBLISH_SCRIPT
    assert CLUSTER_PUBLISH_SCRIPT.rstrip().endswith("return {seq, body}")


def test_the_protocol_doc_shows_the_script_as_it_runs() -> None:
    """Workers in other languages copy the script from docs/protocol.md: it must be this one."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()
    lines = [line.removeprefix("   ") for line in doc.splitlines()]

    assert CLUSTER_PUBLISH_SCRIPT.strip() in "\n".join(lines)
