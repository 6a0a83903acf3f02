"""The one composition root: every adapter and service is built here from `Settings`, lazily.

`backend` selects Redis + PostgreSQL ("real") or the in-memory adapters ("memory"), and
`redis_mode` the feed's kind, with the parts of the hub that go with it (see `domain.hub.reach`);
nothing is opened until something that needs it is resolved, so the demo never touches Redis or
PostgreSQL. The hub's parts are built here too, each given what it needs. Tests swap any provider
with `override`.
"""

from __future__ import annotations

from dependency_injector import containers, providers

from adapters.json_codec import JsonCodec
from adapters.jwt_tokens import JwtTokenIssuer, JwtTokenVerifier
from adapters.memory import MemoryBroker, MemoryStoryDirectory, MemoryWorkerSignals
from adapters.postgres_stories import PostgresStoryDirectory
from adapters.prometheus_metrics import PrometheusMetrics
from adapters.prometheus_workers import ProcessScrape, WorkersScrape
from adapters.redis_cluster import ClusterKeys, ClusterProgressPublisher, open_redis_cluster
from adapters.redis_cluster_feed import ClusterProgressFeed
from adapters.redis_progress import RedisKeys, RedisProgressFeed, RedisProgressPublisher
from adapters.redis_signals import ClusterWorkerSignals, RedisWorkerSignals
from domain.access.directory_cache import CachingDirectory
from domain.access.policy import AccessPolicy
from domain.aio.backoff import Backoff
from domain.aio.tasks import BackgroundTasks
from domain.cancels import Cancels
from domain.connection.quota import ConnectionQuota
from domain.connection.session import SessionLimits, SessionServices
from domain.gateway import Gateway
from domain.health import Readiness
from domain.hub.dashboard_routing import DashboardRouter
from domain.hub.delivery import Delivery
from domain.hub.hub import ProgressHub
from domain.hub.listener import FeedListener
from domain.hub.offers import SnapshotOffers
from domain.hub.ownership import OwnershipChecks
from domain.hub.reach import EveryStory, WatchedTopics
from domain.hub.resync import Resync
from domain.hub.snapshots import LatestFrames, SnapshotReader
from domain.hub.stalled import StalledStories, StallRules
from domain.hub.subscribers import Subscribers
from domain.hub.topics import TopicSubscriptions
from domain.hub.watches import Watches
from entrypoints.resources import open_engine, open_redis, running
from entrypoints.settings import Settings
from entrypoints.worker_place import WorkerPlace


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
    memory_broker = providers.Singleton(
        MemoryBroker,
        codec=codec,
        per_topic=providers.Selector(
            settings.provided.redis_mode, standalone=providers.Object(False), cluster=providers.Object(True)
        ),
    )  # the fake plays either kind of feed, as `redis_mode` says

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
    memory_signals = providers.Singleton(MemoryWorkerSignals)  # the demo's worker heartbeats into it
    signals = providers.Selector(
        settings.provided.backend,
        real=providers.Selector(
            settings.provided.redis_mode,
            standalone=providers.Singleton(RedisWorkerSignals, client=redis, keys=keys),
            cluster=providers.Singleton(ClusterWorkerSignals, client=cluster, keys=cluster_keys),
        ),
        memory=memory_signals,
    )
    memory_directory = providers.Singleton(MemoryStoryDirectory)  # the demo's worker adds stories to it
    directory = providers.Selector(
        settings.provided.backend,
        real=providers.Singleton(PostgresStoryDirectory, engine=engine),
        memory=memory_directory,
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

    # The hub, part by part (domain/hub/): who watches what, the snapshots, the feed's kind, the
    # background work, and the listener that feeds the live delivery.
    backoff = providers.Singleton(Backoff)
    tasks = providers.Singleton(BackgroundTasks)
    subscribers = providers.Singleton(Subscribers, metrics=metrics)
    frames = providers.Singleton(LatestFrames, encoder=codec)
    stall_rules = providers.Singleton(StallRules, after=settings.provided.stalled_after_seconds)
    stalled = providers.Singleton(
        StalledStories, subscribers=subscribers, frames=frames, signals=signals, rules=stall_rules
    )
    snapshot_reader = providers.Singleton(SnapshotReader, feed=feed)
    offers = providers.Singleton(
        SnapshotOffers, reader=snapshot_reader, frames=frames, metrics=metrics, mark=stalled.provided.mark
    )
    resync = providers.Singleton(
        Resync, offers=offers, directory=owners, subscribers=subscribers, metrics=metrics, backoff=backoff
    )
    router = providers.Singleton(DashboardRouter, directory=owners, deliver=subscribers, tasks=tasks)
    reach = providers.Selector(
        settings.provided.redis_mode,
        standalone=providers.Singleton(EveryStory, router=router),
        cluster=providers.Singleton(
            WatchedTopics, topics=providers.Singleton(TopicSubscriptions, feed=feed), router=router
        ),
    )
    ownership = providers.Singleton(
        OwnershipChecks, directory=owners, subscribers=subscribers, offers=offers, resync=resync, tasks=tasks
    )
    delivery = providers.Singleton(
        Delivery, subscribers=subscribers, frames=frames, reach=reach, ownership=ownership, resync=resync
    )
    listener = providers.Singleton(FeedListener, feed=feed, metrics=metrics, backoff=backoff, sink=delivery)
    watches = providers.Singleton(
        Watches, subscribers=subscribers, reach=reach, directory=owners, offers=offers, resync=resync
    )
    hub = providers.Resource(
        running,
        hub=providers.Singleton(
            ProgressHub,
            listener=listener,
            watches=watches,
            subscribers=subscribers,
            background=providers.Dict(
                {"ownership-checks": ownership, "resync": resync, "stalled-checks": stalled}
            ),
            tasks=tasks,
        ),
    )
    limits = providers.Singleton(
        SessionLimits,
        keepalive_seconds=settings.provided.keepalive_seconds,
        slow_client_seconds=settings.provided.slow_client_seconds,
    )
    quota = providers.Singleton(ConnectionQuota, limit=settings.provided.max_connections_per_user)
    cancels = providers.Singleton(
        Cancels, policy=policy, snapshots=snapshot_reader, signals=signals, metrics=metrics
    )
    gateway = providers.Singleton(
        Gateway,
        hub=hub,
        metrics=metrics,
        quota=quota,
        services=providers.Singleton(
            SessionServices, policy=policy, limits=limits, metrics=metrics, cancels=cancels
        ),
    )
    readiness = providers.Singleton(Readiness, hub=hub, feed=feed, directory=directory)
