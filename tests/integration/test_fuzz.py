"""A bounded fuzz run against the real `serve`: malformed HTTP heads and hostile WebSocket frames,
with and without a token, many sockets at a time, for a few seconds. Nothing crashes, nothing is
logged as an error, every socket ends, and the process's file descriptors and memory come back
near where they started.

Deterministic enough to reproduce: the cases come from `random.Random(FUZZ_SEED)` (the seed is in
the failure message); only the interleaving of the sockets varies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
from pathlib import Path

from testkit.clients import http_text
from testkit.fuzz import frames, http_head, upgrade
from testkit.processes import GatewayProcess, rss_bytes, tcp_sockets
from testkit.waiting import timeout, wait_for_condition
from tests.integration.conftest import NewStory, StartGateway

logger = logging.getLogger(__name__)

SEED = int(os.environ.get("FUZZ_SEED", "20261202"))
CASES = 400
AT_ONCE = 40


def around(log: str, needle: str) -> str:
    at = log.find(needle)
    return log[max(at - 300, 0) : at + 3000]


def open_fds(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


async def one_case(rng: random.Random, gateway: GatewayProcess, paths: list[str]) -> str:
    """Send one hostile input, read what comes back for a moment, and leave; how it ended."""
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    try:
        if rng.random() < 0.3:
            payload = [http_head(rng)]
        else:
            payload = [upgrade(rng, gateway.port, rng.choice(paths)), *(frames(rng) for _ in range(3))]
        for chunk in payload:
            writer.write(chunk)
            await writer.drain()
        async with asyncio.timeout(timeout(0.5)):  # a moment: most end by then; the rest are left open
            while await reader.read(65536):
                pass
        return "closed by the server"
    except TimeoutError:
        return "still open"
    except ConnectionError:
        return "reset"
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def test_hostile_heads_and_frames_crash_nothing_and_leak_nothing(
    start_gateway: StartGateway, new_story: NewStory
) -> None:
    gateway = start_gateway(HANDSHAKE_TIMEOUT_SECONDS="1", SLOW_CLIENT_SECONDS="2")
    story = await new_story()
    paths = [
        story.path(),
        f"/ws/stories/{story.id}/progress",
        "/ws/user/stories",
        f"/ws/user/stories?token={story.token}",
    ]
    warm = random.Random(0)
    await asyncio.gather(
        *(one_case(warm, gateway, paths) for _ in range(AT_ONCE))
    )  # what first use allocates
    fds, rss = open_fds(gateway.pid), rss_bytes(gateway.pid)

    rng = random.Random(SEED)
    outcomes: list[str] = []
    pending: set[asyncio.Task[str]] = set()
    for _ in range(CASES):
        if len(pending) >= AT_ONCE:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            outcomes += [task.result() for task in done]
        pending.add(asyncio.create_task(one_case(random.Random(rng.random()), gateway, paths)))
    outcomes += await asyncio.gather(*pending)

    async def all_let_go() -> bool:
        return not (await asyncio.to_thread(tcp_sockets, gateway.pid, gateway.port)).peers

    await wait_for_condition(all_let_go, 5, f"the server to let every fuzz socket go (FUZZ_SEED={SEED})")
    status, _ = await http_text(gateway.http + "/healthz")
    log = gateway.log()
    counts = {outcome: outcomes.count(outcome) for outcome in set(outcomes)}
    growth = rss_bytes(gateway.pid) - rss
    after = open_fds(gateway.pid)
    logger.info("fuzz seed %d: %s; fds %d -> %d; RSS %+.1f MB", SEED, counts, fds, after, growth / 2**20)

    assert status == 200, f"FUZZ_SEED={SEED}"
    assert "Traceback" not in log, f"FUZZ_SEED={SEED}:\n{around(log, 'Traceback')}"
    assert " ERROR " not in log, f"FUZZ_SEED={SEED}:\n{around(log, ' ERROR ')}"
    assert after <= fds + 2, f"FUZZ_SEED={SEED}"
    assert growth < 8 * 2**20, f"FUZZ_SEED={SEED}"
    assert len(outcomes) == CASES
