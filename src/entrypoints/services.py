"""The bridge from the container to Litestar: resolved once in the lifespan, injected by type."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from litestar.datastructures import State

from adapters.prometheus_metrics import PrometheusMetrics
from adapters.prometheus_workers import ProcessScrape, WorkersScrape
from domain.gateway import Gateway
from domain.health import Readiness
from domain.hub.hub import ProgressHub
from domain.ports import ProgressFeed, StoryDirectory
from entrypoints.client_socket import FrameCache
from entrypoints.container import Container
from entrypoints.event_stream import EventFrames
from entrypoints.settings import Settings


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    gateway: Gateway
    hub: ProgressHub
    feed: ProgressFeed
    directory: StoryDirectory
    metrics: PrometheusMetrics
    scrape: ProcessScrape | WorkersScrape
    frames: FrameCache
    event_frames: EventFrames
    readiness: Readiness


async def resolve(provider: Any) -> Any:
    """Async Resources make their dependants return futures; overrides with `Object` do not."""
    value = provider()
    return await value if inspect.isawaitable(value) else value


async def resolve_services(container: Container) -> Services:
    return Services(
        settings=container.settings(),
        gateway=await resolve(container.gateway),
        hub=await resolve(container.hub),
        feed=await resolve(container.feed),
        directory=await resolve(container.directory),
        metrics=await resolve(container.metrics),
        scrape=await resolve(container.scrape),
        frames=FrameCache(),
        event_frames=EventFrames(),
        readiness=await resolve(container.readiness),
    )


def provide_services(state: State) -> Services:
    services: Services = state.services
    return services
