"""`codestory-progress watch` against the real `serve`: exit codes 0, 1 and 2, `--json` lines, bars,
and `--dashboard`; and the client distribution's own `codestory-progress-watch`, the same command."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.jwt_tokens import JwtTokenIssuer
from adapters.redis_progress import RedisProgressPublisher
from domain.progress import ProgressUpdate, StoryStatus
from testkit.processes import ROOT, GatewayProcess
from testkit.waiting import timeout
from tests.integration.conftest import SECRET, NewStory, StartGateway


@pytest.fixture
def gateway(start_gateway: StartGateway) -> GatewayProcess:
    return start_gateway()


async def publish(publisher: RedisProgressPublisher, story: uuid.UUID, status: str, percent: int) -> None:
    await publisher.publish(
        ProgressUpdate(story, StoryStatus(status), percent, f"step {percent}", datetime.now(UTC))
    )


GATEWAY_WATCH = (sys.executable, "-m", "entrypoints", "watch")
CLIENT_WATCH = (str(Path(sys.executable).parent / "codestory-progress-watch"),)  # its console script


async def watch(
    *args: str, token: str | None = None, command: tuple[str, ...] = GATEWAY_WATCH
) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if k != "CODESTORY_TOKEN"}
    if token is not None:
        env["CODESTORY_TOKEN"] = token
    return await asyncio.create_subprocess_exec(
        *command,
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def finished(process: asyncio.subprocess.Process) -> tuple[int, str, str]:
    out, err = await asyncio.wait_for(process.communicate(), timeout(15))
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def first_line(process: asyncio.subprocess.Process) -> dict[str, object]:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), timeout(15))
    assert line, "watch printed nothing"
    parsed: dict[str, object] = json.loads(line)
    return parsed


@pytest.mark.parametrize(("final", "code"), [("complete", 0), ("failed", 1)])
async def test_json_mode_prints_one_update_a_line_and_exits_on_the_final_status(
    gateway: GatewayProcess,
    new_story: NewStory,
    redis_publisher: RedisProgressPublisher,
    final: str,
    code: int,
) -> None:
    story = await new_story()
    await publish(redis_publisher, story.id, "generating", 40)
    process = await watch(str(story.id), "--json", "--url", gateway.ws, token=story.token)

    assert (await first_line(process))["progress_percent"] == 40  # connected: the snapshot
    await publish(redis_publisher, story.id, "synthesizing", 80)
    await publish(redis_publisher, story.id, final, 100 if final == "complete" else 80)
    returncode, out, err = await finished(process)

    lines = [json.loads(line) for line in out.splitlines()]
    assert returncode == code, err
    assert [line["status"] for line in lines][-1] == final
    assert "synthesizing" in [line["status"] for line in lines]
    assert [line["seq"] for line in lines] == sorted({line["seq"] for line in lines})
    assert {line["story_id"] for line in lines} == {str(story.id)}


async def test_bars_mode_draws_the_story_and_exits_0_on_complete(
    gateway: GatewayProcess, new_story: NewStory, redis_publisher: RedisProgressPublisher
) -> None:
    story = await new_story()
    await publish(redis_publisher, story.id, "complete", 100)

    returncode, out, err = await finished(
        await watch(str(story.id), "--url", gateway.ws, "--token", story.token)
    )

    assert returncode == 0, err
    assert str(story.id)[:8] in out
    assert "100%" in out
    assert "complete" in out


@pytest.mark.parametrize("case", ["expired token", "another user's story"])
async def test_an_auth_error_exits_2_without_printing_the_token(
    gateway: GatewayProcess, new_story: NewStory, case: str
) -> None:
    story = await new_story()
    user = story.user if case == "expired token" else uuid.uuid4()
    token = JwtTokenIssuer(SECRET).issue(user, ttl_seconds=-60 if case == "expired token" else 600)

    returncode, out, err = await finished(
        await watch(str(story.id), "--json", "--url", gateway.ws, token=token)
    )

    assert returncode == 2
    assert out == ""
    assert ("4001 token_expired" if case == "expired token" else "4003 forbidden") in err
    assert token not in err


async def test_dashboard_json_prints_every_story_until_interrupted(
    gateway: GatewayProcess, new_story: NewStory, redis_publisher: RedisProgressPublisher
) -> None:
    story = await new_story()
    await publish(redis_publisher, story.id, "complete", 100)
    process = await watch("--dashboard", "--json", "--url", gateway.ws, "--token", story.token)

    snapshot = await first_line(process)
    process.send_signal(signal.SIGINT)
    returncode, _, err = await finished(process)

    assert (snapshot["story_id"], snapshot["status"]) == (str(story.id), "complete")
    assert returncode == 130, err


async def test_watch_needs_a_story_or_dashboard_and_a_token() -> None:
    both, _, err_both = await finished(await watch(str(uuid.uuid4()), "--dashboard", "--token", "t"))
    tokenless, _, err_tokenless = await finished(await watch(str(uuid.uuid4())))

    assert (both, tokenless) == (2, 2)
    assert "STORY_ID or --dashboard" in err_both
    assert "CODESTORY_TOKEN" in err_tokenless


async def test_the_client_distribution_s_own_watch_script_follows_a_story_to_complete(
    gateway: GatewayProcess, new_story: NewStory, redis_publisher: RedisProgressPublisher
) -> None:
    story = await new_story()
    await publish(redis_publisher, story.id, "synthesizing", 90)
    process = await watch(
        str(story.id), "--json", "--url", gateway.ws, token=story.token, command=CLIENT_WATCH
    )

    assert (await first_line(process))["progress_percent"] == 90
    await publish(redis_publisher, story.id, "complete", 100)
    returncode, out, err = await finished(process)

    assert returncode == 0, err
    assert [json.loads(line)["status"] for line in out.splitlines()] == ["complete"]  # after the first line
