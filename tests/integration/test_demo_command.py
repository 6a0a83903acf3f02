"""`codestory-progress demo` (what `make run` runs) and its port: the URL is printed only once the
demo accepts connections on it; a busy port is one line naming it and `--port`, and a non-zero exit."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import sys

from testkit.processes import ROOT, free_port, http_status, port_open
from testkit.waiting import timeout

READY = re.compile(r"^Demo ready\. Open http://127\.0\.0\.1:(\d+)/#token=\S+&story=\S+$")


async def start_demo(port: int) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "entrypoints", "demo", "--port", str(port)],
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_the_url_is_printed_once_the_demo_listens() -> None:
    port = free_port()
    demo = await start_demo(port)
    try:
        assert demo.stdout is not None
        line = (await asyncio.wait_for(demo.stdout.readline(), timeout(20))).decode().strip()
        listening = port_open("127.0.0.1", port)  # at once: no waiting after the line
        found = READY.match(line)
        assert found, line
        assert (int(found.group(1)), listening) == (port, True)
        assert await asyncio.to_thread(http_status, f"http://127.0.0.1:{port}/healthz") == 200
    finally:
        demo.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(demo.wait(), timeout(10))
    assert code == 0


async def test_a_busy_port_is_one_line_naming_it_and_a_non_zero_exit() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = int(taken.getsockname()[1])
        demo = await start_demo(port)
        out, err = await asyncio.wait_for(demo.communicate(), timeout(20))

    assert demo.returncode == 1
    assert out == b""
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert str(port) in lines[0]
    assert "--port" in lines[0]
    assert "in use" in lines[0]
