"""Ownership in cluster mode (`REDIS_MODE=cluster`), against the real `serve` on the private Redis
Cluster: an update heard on `user:{B}` reaches B's dashboard only where the directory agrees that
B owns its story, and a revocation (SPUBLISH on `{prefix}revocations`) closes a moved story's
socket at once."""

from __future__ import annotations

import uuid
from contextlib import AsyncExitStack

from redis.asyncio.cluster import RedisCluster as ClusterClient

from adapters.json_codec import JsonCodec
from adapters.redis_cluster import ClusterKeys, ClusterProgressPublisher
from testkit.clients import closed_within
from testkit.postgres import Database, execute
from testkit.redis_cluster import RedisCluster
from testkit.waiting import timeout
from tests.contracts.progress import make_update
from tests.integration.conftest import (
    NewStory,
    StartClusterGateway,
    client_of,
    dashboard_path,
    issue_token,
    of_story,
)


async def test_an_update_on_a_users_channel_for_another_users_story_is_not_delivered(
    redis_cluster: RedisCluster,
    start_cluster_gateway: StartClusterGateway,
    cluster_publisher: ClusterProgressPublisher,
    cluster_client: ClusterClient,
    new_story: NewStory,
    database: Database,
    key_prefix: str,
) -> None:
    gateway = start_cluster_gateway(redis_cluster)
    known, unseen = await new_story(), await new_story()  # of other users than the dashboard's
    user, theirs, late = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await database.insert_story(theirs, user)
    await cluster_publisher.publish(make_update(known.id, percent=1), known.user)
    await cluster_publisher.publish(make_update(theirs, percent=1), user)
    keys = ClusterKeys(key_prefix)
    async with AsyncExitStack() as stack:
        watcher = await client_of(stack, gateway, known.path())  # so its owner is known here
        await watcher.read_seq(1)
        dashboard = await client_of(stack, gateway, dashboard_path(issue_token(user)))
        await dashboard.read_until(of_story(theirs, 1))

        for forged in (known.id, unseen.id):  # a worker that named the wrong owner, or an attacker
            body = JsonCodec().encode_bytes(make_update(forged, percent=66, seq=50))
            await cluster_client.spublish(keys.user_channel(user), body)
        await database.insert_story(late, user)
        await cluster_publisher.publish(make_update(late, percent=5), user)  # looked up after `unseen`
        await cluster_publisher.publish(make_update(theirs, percent=7), user)
        # Two stories: their updates may arrive in either order (`late` waits for its owner lookup).
        wanted = [of_story(late, 1), of_story(theirs, 2)]
        await dashboard.read_until(lambda _: all(any(w(m) for m in dashboard.received) for w in wanted))

    stories = {m["story_id"] for m in dashboard.received}
    assert stories == {str(theirs), str(late)}
    assert watcher.seqs() == [1]


async def test_a_revocation_published_on_the_sharded_channel_closes_a_moved_story_at_once(
    redis_cluster: RedisCluster,
    start_cluster_gateway: StartClusterGateway,
    cluster_publisher: ClusterProgressPublisher,
    cluster_client: ClusterClient,
    new_story: NewStory,
    database: Database,
    key_prefix: str,
) -> None:
    gateway = start_cluster_gateway(redis_cluster)
    story, buyer = await new_story(), uuid.uuid4()
    await cluster_publisher.publish(make_update(story.id, percent=10), story.user)
    async with AsyncExitStack() as stack:
        watcher = await client_of(stack, gateway, story.path())
        await watcher.read_seq(1)

        await execute(database.dsn, "UPDATE stories SET user_id = $1 WHERE id = $2", buyer, story.id)
        await cluster_client.spublish(ClusterKeys(key_prefix).revocations, str(story.id))
        code, reason, seconds = await closed_within(watcher.connection, 5)

    assert (code, reason) == (4003, "forbidden")
    assert seconds < timeout(1.0)
