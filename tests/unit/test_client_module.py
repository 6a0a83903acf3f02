"""`GET /client.js`: the browser client is served in every mode, as JavaScript, cached and revalidated;
the file served is the npm package's one copy (packages/client/js)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from entrypoints.app import create_app
from entrypoints.container import Container
from entrypoints.settings import Settings
from testkit.node import CLIENT_JS
from testkit.processes import ROOT
from testkit.waiting import timeout

KEY = "unit-test-secret-of-at-least-32-bytes!"


@pytest.fixture
def client() -> Iterator[TestClient[Litestar]]:
    container = Container(settings=Settings(jwt_key=KEY, backend="memory", demo_page=False))
    with TestClient(app=create_app(container), timeout=timeout(5)) as test_client:
        yield test_client


def test_client_module_is_served_as_javascript_with_cache_headers(client: TestClient[Litestar]) -> None:
    response = client.get("/client.js")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["etag"].startswith('"')
    source = resources.files("entrypoints").joinpath("static/client.js").read_bytes()
    assert response.content == source
    assert b"export function connectStory(" in source
    assert b"export function connectDashboard(" in source


def test_client_module_revalidates_by_etag(client: TestClient[Litestar]) -> None:
    etag = client.get("/client.js").headers["etag"]

    again = client.get("/client.js", headers={"If-None-Match": etag})
    stale = client.get("/client.js", headers={"If-None-Match": '"something-else"'})

    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert stale.status_code == 200
    assert stale.content.startswith(b"//")


def test_type_declarations_ship_beside_the_module() -> None:
    declarations = resources.files("entrypoints").joinpath("static/client.d.ts").read_text(encoding="utf-8")

    assert "export function connectStory(" in declarations
    assert "export function connectDashboard(" in declarations
    assert "onAuthError?" in declarations
    assert "getToken?" in declarations


@pytest.mark.parametrize("name", ["client.js", "client-transports.js", "client.d.ts"])
def test_the_gateway_ships_the_npm_package_s_one_copy(client: TestClient[Litestar], name: str) -> None:
    link = ROOT / "src" / "entrypoints" / "static" / name  # in git: a link to the package's file
    package_file = CLIENT_JS / name

    assert package_file.is_file()
    assert not package_file.is_symlink()
    assert link.is_symlink()
    assert link.resolve() == package_file.resolve()
    assert resources.files("entrypoints").joinpath(f"static/{name}").read_bytes() == package_file.read_bytes()
    if name.endswith(".js"):
        assert client.get(f"/{name}").content == package_file.read_bytes()


def test_the_npm_package_exports_the_module_and_its_types() -> None:
    manifest = json.loads((CLIENT_JS / "package.json").read_text(encoding="utf-8"))

    assert manifest["name"] == "@codestory/progress-client"
    assert manifest["type"] == "module"
    assert manifest["exports"]["."] == {"types": "./client.d.ts", "default": "./client.js"}
    assert (manifest["main"], manifest["types"]) == ("./client.js", "./client.d.ts")
    assert sorted(manifest["files"]) == ["client-transports.js", "client.d.ts", "client.js"]
    assert "dependencies" not in manifest


def test_the_module_s_transports_are_served_beside_it_with_the_same_caching(
    client: TestClient[Litestar],
) -> None:
    module = client.get("/client.js").content
    transports = client.get("/client-transports.js")

    assert b'from "./client-transports.js"' in module  # resolved next to /client.js
    assert transports.status_code == 200
    assert transports.headers["content-type"] == "text/javascript; charset=utf-8"
    assert transports.headers["cache-control"] == "public, max-age=300"
    assert (
        client.get("/client-transports.js", headers={"If-None-Match": transports.headers["etag"]}).status_code
        == 304
    )
    assert b"export class SseTransport" in transports.content
