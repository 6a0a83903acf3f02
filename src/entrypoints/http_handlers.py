"""Health, readiness, metrics and the demo page."""

from __future__ import annotations

from importlib import resources

from litestar import MediaType, Response, get
from litestar.di import NamedDependency
from litestar.params import SkipValidation
from prometheus_client import CONTENT_TYPE_LATEST

from domain.health import down_dependencies
from entrypoints.services import Services


@get("/healthz", media_type=MediaType.JSON)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", media_type=MediaType.JSON)
async def readyz(services: NamedDependency[SkipValidation[Services]]) -> Response[dict[str, object]]:
    down = await down_dependencies(services.hub, services.feed, services.directory)
    if down:
        return Response({"status": "unavailable", "down": down}, status_code=503)
    return Response({"status": "ready", "down": []}, status_code=200)


@get("/metrics")
async def metrics(services: NamedDependency[SkipValidation[Services]]) -> Response[bytes]:
    return Response(services.metrics.render(), media_type=CONTENT_TYPE_LATEST)


@get("/", media_type=MediaType.HTML)
async def demo_page() -> str:
    return resources.files("entrypoints").joinpath("static/demo.html").read_text(encoding="utf-8")
