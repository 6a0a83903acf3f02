"""The browser client's npm package as an application gets it: `npm pack`, unpacked under
node_modules/, resolved through its `exports` (by Node, and by an import map in Chromium), served
from the application's own origin, following a story on the real gateway."""

from __future__ import annotations

import asyncio
import json
import tarfile
import uuid
from pathlib import Path

import pytest
from playwright.async_api import Page

from testkit.browser import ms
from testkit.client_page import ClientPage, events_of
from testkit.node import CLIENT_JS, npm_pack, run_module
from testkit.postgres import Database
from testkit.processes import GatewayProcess
from testkit.static_files import static_site
from tests.e2e.conftest import Publisher, Tokens, new_story

pytestmark = pytest.mark.asyncio(loop_scope="session")

NAME = "@codestory/progress-client"
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><script type="importmap">{import_map}</script></head>
<body>an application that installed {name}</body></html>
"""
NODE_IMPORT_JS = f"""
const client = await import({json.dumps(NAME)});
console.log(JSON.stringify(Object.keys(client).sort()));
"""
EXPORTS = ["AUTH_CODES", "RETRYABLE_CODES", "closeAction", "connectDashboard", "connectStory"]
EXPORTS += ["isNewer", "parseCancelAnswer", "parseUpdate", "reconnectDelay", "tokenExpiry"]


def install(tarball: Path, site: Path) -> Path:
    """What `npm install` does with the tarball: its `package/` folder becomes node_modules/NAME."""
    with tarfile.open(tarball) as archive:
        archive.extractall(site / "unpacked", filter="data")
    target = site / "node_modules" / NAME
    target.parent.mkdir(parents=True)
    (site / "unpacked" / "package").rename(target)
    return target


def import_map(package: Path) -> str:
    """An import map from the package's own `exports`, as a bundler-less application writes one."""
    manifest = json.loads((package / "package.json").read_text(encoding="utf-8"))
    entry = manifest["exports"]["."]["default"].removeprefix("./")
    return json.dumps({"imports": {manifest["name"]: f"/node_modules/{manifest['name']}/{entry}"}})


async def test_the_packed_module_follows_a_story_from_an_application_s_origin(
    page: Page,
    gateway: GatewayProcess,
    tokens: Tokens,
    database: Database,
    publisher: Publisher,
    tmp_path: Path,
) -> None:
    tarball, files = await asyncio.to_thread(npm_pack, tmp_path)
    package = install(tarball, tmp_path / "site")
    (tmp_path / "site" / "index.html").write_text(PAGE.format(import_map=import_map(package), name=NAME))
    user = uuid.uuid4()
    story = await new_story(database, user)
    await publisher.publish(story, "analyzing", 10, "Cloning the repository")

    with static_site(tmp_path / "site") as origin:
        await page.goto(f"{origin}/index.html", timeout=ms(10))
        client = await ClientPage.loaded(page, NAME, gateway.ws)
        await client.story("story", story, token=tokens.valid(user))
        await client.seq("story", story, 1)
        final = await publisher.publish(story, "complete", 100, "Your story is ready")
        view = await client.seq("story", story, final.seq)

    served = await (await page.request.get(f"{gateway.http}/client.js", timeout=ms(5))).body()
    served_transports = await (
        await page.request.get(f"{gateway.http}/client-transports.js", timeout=ms(5))
    ).body()
    exports = await asyncio.to_thread(run_module, NODE_IMPORT_JS, None, tmp_path / "site")
    assert files == ["README.md", "client-transports.js", "client.d.ts", "client.js", "package.json"]
    assert (package / "client.js").read_bytes() == served == (CLIENT_JS / "client.js").read_bytes()
    transports = (package / "client-transports.js").read_bytes()
    assert transports == served_transports == (CLIENT_JS / "client-transports.js").read_bytes()
    assert exports == EXPORTS
    assert [u["status"] for u in events_of(view, "update")] == ["analyzing", "complete"]
    assert (view["state"]["status"], view["state"]["seq"]) == ("complete", final.seq)
