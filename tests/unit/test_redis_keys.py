"""Standalone key names: a channel names its story only in the exact form the publisher uses."""

from __future__ import annotations

import uuid

import pytest

from adapters.redis_progress import RedisKeys

STORY = uuid.UUID("6f1c2a4e-0d3b-4a51-9a7e-2f1f4a0c9b11")


def test_the_story_of_its_own_channel_is_the_story() -> None:
    keys = RedisKeys("run-1:")

    assert keys.story_of(keys.story_channel(STORY)) == STORY


@pytest.mark.parametrize(
    "channel",
    [
        "run-1:story:6F1C2A4E-0D3B-4A51-9A7E-2F1F4A0C9B11",
        "run-1:story:6f1c2a4e0d3b4a519a7e2f1f4a0c9b11",
        "run-1:story:{6f1c2a4e-0d3b-4a51-9a7e-2f1f4a0c9b11}",
        "story:6f1c2a4e-0d3b-4a51-9a7e-2f1f4a0c9b11",
        "run-1:story:not-a-uuid",
        "run-1:story:6f1c2a4e-0d3b-4a51-9a7e-2f1f4a0c9b11:progress",
    ],
)
def test_any_other_form_names_no_story(channel: str) -> None:
    assert RedisKeys("run-1:").story_of(channel) is None
