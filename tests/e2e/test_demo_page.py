"""The `demo` command end to end: the URL it prints opens a page whose bars reach their final states."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Page

from testkit.browser import ms
from testkit.processes import ROOT, free_port, port_open
from testkit.waiting import timeout

pytestmark = pytest.mark.asyncio(loop_scope="session")

SCREENSHOT = ROOT / "artifacts" / "e2e" / "demo-complete.png"
READY = re.compile(r"Demo ready\. Open (http://\S+)")


@dataclass
class Demo:
    process: asyncio.subprocess.Process
    url: str
    log: Path

    async def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), timeout(10))


@pytest_asyncio.fixture(loop_scope="session")
async def demo() -> AsyncIterator[Demo]:
    port = free_port()
    stderr, log = tempfile.mkstemp(prefix="demo-", suffix=".log")
    try:
        process = await asyncio.create_subprocess_exec(
            *[sys.executable, "-m", "entrypoints", "demo", "--port", str(port), "--step-seconds", "0.2"],
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )
    finally:
        os.close(stderr)
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout(20))
        found = READY.search(line.decode())
        assert found, f"the demo printed {line!r}, not its URL (log: {log})"
        assert port_open("127.0.0.1", port), "the demo printed its URL before it listened"
        yield Demo(process, found.group(1), Path(log))
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_demo_page_shows_progress_to_the_end(demo: Demo, page: Page) -> None:
    assert "#token=" in demo.url
    assert "&story=" in demo.url
    response = await page.goto(demo.url, timeout=ms(10))
    assert response is not None
    assert response.ok

    await page.wait_for_function(
        """() => {
          const bar = document.querySelector('#featured .story');
          return bar && bar.dataset.percent === '100' && bar.dataset.status === 'complete';
        }""",
        timeout=ms(20),
        polling=50,
    )
    await page.wait_for_function(
        """() => {
          const rows = document.querySelectorAll('#dashboard .story');
          return rows.length >= 3 && [...rows].some((r) => r.dataset.status === 'failed');
        }""",
        timeout=ms(30),
        polling=50,
    )
    featured = await page.evaluate(
        """() => {
          const bar = document.querySelector('#featured .story');
          return {story: bar.dataset.story, percent: bar.dataset.percent, status: bar.dataset.status,
                  width: bar.querySelector('.fill').style.width,
                  step: bar.querySelector('.step').textContent,
                  conn: document.getElementById('story-conn').textContent};
        }"""
    )
    dashboard = await page.evaluate(
        """() => [...document.querySelectorAll('#dashboard .story')].map((r) => ({
              story: r.dataset.story, status: r.dataset.status, percent: Number(r.dataset.percent)}))"""
    )
    assert featured["story"] in demo.url
    assert (featured["percent"], featured["status"], featured["width"]) == ("100", "complete", "100%")
    assert featured["step"] == "Your story is ready"
    assert featured["conn"] == "live"
    assert len(dashboard) >= 3
    assert featured["story"] in {row["story"] for row in dashboard}
    assert "failed" in {row["status"] for row in dashboard}
    assert all(0 <= row["percent"] <= 100 for row in dashboard)

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        SCREENSHOT.unlink()
    await page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.is_file()
    assert SCREENSHOT.stat().st_size > 0

    assert await demo.stop() == 0, demo.log.read_text(errors="replace")


async def test_demo_page_runs_on_server_sent_events_with_transport_sse(demo: Demo, page: Page) -> None:
    websockets: list[str] = []
    page.on("websocket", lambda ws: websockets.append(ws.url))
    response = await page.goto(demo.url + "&transport=sse", timeout=ms(10))
    assert response is not None
    assert response.ok

    await page.wait_for_function(
        """() => {
          const bar = document.querySelector('#featured .story');
          return bar && bar.dataset.status === 'complete';
        }""",
        timeout=ms(20),
        polling=50,
    )
    label = await page.evaluate(
        """() => { const l = document.getElementById('story-conn');
                   return {text: l.textContent, transport: l.dataset.transport,
                           dashboard: document.getElementById('dash-conn').dataset.transport}; }"""
    )
    assert label == {"text": "live (Server-Sent Events)", "transport": "sse", "dashboard": "sse"}
    assert websockets == [], "no WebSocket was opened"
    assert await demo.stop() == 0, demo.log.read_text(errors="replace")
