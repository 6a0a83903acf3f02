"""The one composition root: every adapter and service is built here from `Settings`, lazily.

`backend` selects Redis + PostgreSQL ("real") or the in-memory adapters ("memory"); nothing is
opened until something that needs it is resolved, so the demo never touches Redis or PostgreSQL.
Tests swap any provider with `override`.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

from dependency_injector import containers, providers
from redis.asyncio import BlockingConnectionPool, Redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.json_codec import JsonCodec
from adapters.jwt_tokens import JwtTokenIssuer, JwtTokenVerifier
from adapters.memory import MemoryBroker, MemoryStoryDirectory
from adapters.postgres_stories import PostgresStoryDirectory, make_engine
from adapters.prometheus_metrics import PrometheusMetrics
from adapters.prometheus_workers import ProcessScrape, WorkersScrape
from adapters.redis_cluster import ClusterKeys, ClusterProgressPublisher, open_redis_cluster
from adapters.redis_cluster_feed import ClusterProgressFeed
from adapters.redis_progress import RedisKeys, RedisProgressFeed, RedisProgressPublisher
from domain.access.directory_cache import CachingDirectory
from domain.access.policy import AccessPolicy
from domain.aio.backoff import Backoff
from domain.connection.quota import ConnectionQuota
from domain.connection.session import SessionLimits
from domain.gateway import Gateway
from domain.health import Readiness
from domain.hub.hub import ProgressHub
from domain.hub.subscribers import Subscribers
from domain.ports import Metrics, ProgressFeed
from entrypoints.settings import Settings
from entrypoints.worker_place import WorkerPlace

# A silently dead Redis connection (no reset) is found within about 10 + 3 x 5 = 25 s.
KEEPALIVE = {socket.TCP_KEEPIDLE: 10, socket.TCP_KEEPINTVL: 5, socket.TCP_KEEPCNT: 3}


async def open_redis(url: str, max_connections: int = 64, pool_timeout: float = 2.0) -> AsyncIterator[Redis]:
    """No retries inside redis-py: a failure must reach the hub, which resubscribes and resyncs.
    A burst of connects waits for a pooled connection (bounded) instead of failing: redis-py's
    default pool raises `MaxConnectionsError` at once, which would look like a Redis fault."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=pool_timeout,
        socket_connect_timeout=2.0,
        socket_keepalive=True,
        socket_keepalive_options=KEEPALIVE,
        health_check_interval=10,
        retry=Retry(NoBackoff(), 0),
        protocol=2,  # pub/sub messages as plain replies, read straight off the connection
    )
    client = Redis.from_pool(pool)
    try:
        yield client
    finally:
        await client.aclose()


async def open_engine(url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(url)
    try:
        yield engine
    finally:
        await engine.dispose()


async def run_hub(
    feed: ProgressFeed,
    directory: CachingDirectory,
    encoder: JsonCodec,
    metrics: Metrics,
    subscribers: Subscribers,
    backoff: Backoff,
) -> AsyncIterator[ProgressHub]:
    hub = ProgressHub(feed, directory, encoder, metrics, subscribers, backoff=backoff)
    await hub.start()
    try:
        yield hub
    finally:
        await hub.stop()


def scrape_for(metrics: PrometheusMetrics, worker: WorkerPlace | None) -> ProcessScrape | WorkersScrape:
    """`/metrics` of this process, or, under `serve --workers N`, of every worker."""
    if worker is None:
        return ProcessScrape(metrics)
    return WorkersScrape(metrics, worker.slot, worker.sibling_sockets())


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    worker: providers.Object[WorkerPlace | None] = providers.Object(
        None
    )  # its WorkerPlace, under `serve --workers N` (workers.py gives it)

    codec = providers.Singleton(JsonCodec)
    metrics = providers.Singleton(PrometheusMetrics)
    scrape = providers.Singleton(scrape_for, metrics=metrics, worker=worker)
    keys = providers.Singleton(RedisKeys, prefix=settings.provided.redis_key_prefix)

    redis = providers.Resource(open_redis, url=settings.provided.redis_url)
    engine = providers.Resource(open_engine, url=settings.provided.database_url)
    memory_broker = providers.Singleton(MemoryBroker, codec=codec)

    cluster = providers.Resource(open_redis_cluster, url=settings.provided.redis_url)
    cluster_keys = providers.Singleton(ClusterKeys, prefix=settings.provided.redis_key_prefix)

    feed = providers.Selector(
        settings.provided.backend,
        real=providers.Selector(
            settings.provided.redis_mode,
            standalone=providers.Singleton(RedisProgressFeed, client=redis, codec=codec, keys=keys),
            cluster=providers.Singleton(ClusterProgressFeed, client=cluster, codec=codec, keys=cluster_keys),
        ),
        memory=memory_broker,
    )
    publisher = providers.Selector(
        settings.provided.backend,
        real=providers.Selector(
            settings.provided.redis_mode,
            standalone=providers.Singleton(
                RedisProgressPublisher,
                client=redis,
                codec=codec,
                keys=keys,
                ttl_seconds=settings.provided.snapshot_ttl_seconds,
            ),
            cluster=providers.Singleton(
                ClusterProgressPublisher,
                client=cluster,
                codec=codec,
                keys=cluster_keys,
                ttl_seconds=settings.provided.snapshot_ttl_seconds,
            ),
        ),
        memory=memory_broker,
    )
    directory = providers.Selector(
        settings.provided.backend,
        real=providers.Singleton(PostgresStoryDirectory, engine=engine),
        memory=providers.Singleton(MemoryStoryDirectory),
    )
    owners = providers.Singleton(
        CachingDirectory, directory=directory, ttl=settings.provided.ownership_ttl_seconds
    )
    tokens = providers.Singleton(
        JwtTokenVerifier,
        key=settings.provided.jwt_key,
        algorithms=settings.provided.jwt_algorithms,
        audience=settings.provided.jwt_audience,
        issuer=settings.provided.jwt_issuer,
    )
    token_issuer = providers.Singleton(
        JwtTokenIssuer,
        key=settings.provided.jwt_key,
        algorithm=settings.provided.jwt_algorithms[0],
        audience=settings.provided.jwt_audience,
        issuer=settings.provided.jwt_issuer,
    )
    policy = providers.Singleton(AccessPolicy, tokens=tokens, directory=owners)
    subscribers = providers.Singleton(Subscribers)
    backoff = providers.Singleton(Backoff)
    hub = providers.Resource(
        run_hub,
        feed=feed,
        directory=owners,
        encoder=codec,
        metrics=metrics,
        subscribers=subscribers,
        backoff=backoff,
    )
    limits = providers.Singleton(
        SessionLimits,
        keepalive_seconds=settings.provided.keepalive_seconds,
        slow_client_seconds=settings.provided.slow_client_seconds,
    )
    quota = providers.Singleton(ConnectionQuota, limit=settings.provided.max_connections_per_user)
    gateway = providers.Singleton(
        Gateway, policy=policy, hub=hub, metrics=metrics, limits=limits, quota=quota
    )
    readiness = providers.Singleton(Readiness, hub=hub, feed=feed, directory=directory)
