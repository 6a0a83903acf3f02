"""Fixtures shared by every layer: this run's Redis, private Redis Cluster, database and key prefix."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from testkit.postgres import Database
from testkit.redis import reachable_redis
from testkit.redis_cluster import RedisCluster


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url, private = reachable_redis()
    yield url
    if private is not None:
        private.stop()


@pytest.fixture
def key_prefix() -> str:
    """Each test's own Redis key and channel prefix, so runs and tests never collide."""
    return f"test-{uuid.uuid4().hex[:12]}:"


@pytest.fixture(scope="session")
def database() -> Iterator[Database]:
    db = Database().create()
    yield db
    db.drop()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    """One private Redis Cluster (3 masters, 3 replicas) for the whole run, started on first use
    and torn down whatever happens. A test that kills nodes brings them back (`revive`) or starts
    its own cluster."""
    cluster = RedisCluster().start()
    try:
        yield cluster
    finally:
        cluster.stop()
