"""Health, readiness, metrics, the browser client and the demo page."""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources
from typing import Any

from litestar import MediaType, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import SkipValidation
from prometheus_client import CONTENT_TYPE_LATEST

from entrypoints.services import Services


@get("/healthz", media_type=MediaType.JSON)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", media_type=MediaType.JSON)
async def readyz(services: NamedDependency[SkipValidation[Services]]) -> Response[dict[str, object]]:
    down = await services.readiness.down()  # a probe at most 1 s old, shared by every caller
    if down:
        return Response({"status": "unavailable", "down": down}, status_code=503)
    return Response({"status": "ready", "down": []}, status_code=200)


@get("/metrics")
async def metrics(services: NamedDependency[SkipValidation[Services]]) -> Response[bytes]:
    return Response(await services.scrape.render(), media_type=CONTENT_TYPE_LATEST)


@get("/", media_type=MediaType.HTML)
async def demo_page() -> str:
    return resources.files("entrypoints").joinpath("static/demo.html").read_text(encoding="utf-8")


CLIENT_HEADERS = {"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"}


CLIENT_MODULES = ("client.js", "client-transports.js")  # the module, and the one it imports


@cache
def _client_module(name: str) -> tuple[bytes, str]:
    """A module's bytes and their ETag, read once: the files ship with the package."""
    body = resources.files("entrypoints").joinpath(f"static/{name}").read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _module_response(request: Request[Any, Any, Any], name: str) -> Response[bytes]:
    body, etag = _client_module(name)
    headers = {**CLIENT_HEADERS, "ETag": etag}
    if etag in request.headers.get("if-none-match", ""):
        return Response(b"", status_code=304, headers=headers)
    return Response(body, media_type="text/javascript", headers=headers)


@get("/client.js")
async def client_module(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The browser client (served in every mode), cached 5 minutes and revalidated by ETag."""
    return _module_response(request, "client.js")


@get("/client-transports.js")
async def client_transports(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The client's transports, which `/client.js` imports (same caching)."""
    return _module_response(request, "client-transports.js")
