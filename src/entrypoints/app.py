"""The Litestar application factory: routes, the lifespan that owns the container's resources."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

from litestar import Litestar
from litestar.di import Provide

from entrypoints.container import Container
from entrypoints.http_handlers import client_module, client_transports, demo_page, healthz, metrics, readyz
from entrypoints.services import Services, provide_services, resolve_services
from entrypoints.sse_handlers import cancel_story, cors_config, sse_story_progress, sse_user_stories
from entrypoints.ws_handlers import story_progress, user_stories

Companion = Callable[[Services], AbstractAsyncContextManager[None]]


def create_app(container: Container, companions: Sequence[Companion] = ()) -> Litestar:
    """`companions` run beside the services while the app is up (the demo's simulated worker)."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        try:
            app.state.services = services = await resolve_services(container)
            async with AsyncExitStack() as stack:
                for companion in companions:
                    await stack.enter_async_context(companion(services))
                yield
        finally:
            if (shutdown := container.shutdown_resources()) is not None:
                await shutdown

    handlers: list[Any] = [story_progress, user_stories, sse_story_progress, sse_user_stories, cancel_story]
    handlers += [healthz, readyz, metrics, client_module, client_transports]
    settings = container.settings()
    if settings.demo_page:
        handlers.append(demo_page)
    return Litestar(
        route_handlers=handlers,
        cors_config=cors_config(settings),
        dependencies={"services": Provide(provide_services, sync_to_thread=False)},
        lifespan=[lifespan],
        logging_config=None,
        openapi_config=None,
    )
