"""The command line: `codestory-progress serve | demo | publish | token | init-db | watch`."""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import secrets
import sys
import uuid
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from adapters.json_codec import JsonCodec
from adapters.jwt_tokens import JwtTokenIssuer
from adapters.memory import MemoryStoryDirectory
from adapters.postgres_stories import create_schema
from domain.ports import ProgressPublisher
from domain.progress import InvalidUpdate, ProgressUpdate, StoryStatus, parse_story_id
from entrypoints.app import Companion, create_app
from entrypoints.container import Container
from entrypoints.demo import DemoWorker
from entrypoints.logs import configure_logging
from entrypoints.server import raise_file_limit, run_server
from entrypoints.services import Services, resolve
from entrypoints.settings import SERVE_NEEDS, Settings, SettingsError, load_settings, settings_help
from entrypoints.watch import add_watch_command
from entrypoints.workers import run_workers


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (SettingsError, InvalidUpdate) as exc:
        print(f"codestory-progress {args.command}: {exc}", file=sys.stderr)
        return 2
    except (RedisError, OSError, SQLAlchemyError) as exc:
        print(f"codestory-progress {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


def _settings(needs: Collection[str]) -> Settings:
    """The one way a command reads its configuration: the declarations of `settings.py`."""
    return load_settings(os.environ, needs)


def _serve(args: argparse.Namespace) -> int:
    settings = _settings(SERVE_NEEDS)
    workers = args.workers if args.workers is not None else settings.workers
    configure_logging(settings.log_level, settings.log_format)
    raise_file_limit()
    if workers > 1:
        return run_workers(workers, settings)
    run_server(create_app(Container(settings=settings)), settings)
    return 0


def _workers_argument(raw: str) -> int:
    """`--workers`: a count of processes (it wins over WORKERS)."""
    if not raw.strip().isdigit() or int(raw) < 1:
        raise argparse.ArgumentTypeError("a whole number, at least 1")
    return int(raw)


def _demo(args: argparse.Namespace) -> None:
    settings = replace(
        _settings(()),
        jwt_key=secrets.token_urlsafe(48),
        jwt_algorithms=("HS256",),
        backend="memory",
        demo_page=True,
        host=args.host,
        port=args.port,
    )
    container = Container(settings=settings)
    user_id, featured = uuid.uuid4(), uuid.uuid4()
    directory = container.directory()
    if not isinstance(directory, MemoryStoryDirectory):
        raise SettingsError("the demo runs on the in-memory directory")
    worker = DemoWorker(container.publisher(), directory, user_id, featured, step_seconds=args.step_seconds)
    token = JwtTokenIssuer(settings.jwt_key).issue(user_id, ttl_seconds=24 * 3600)

    @asynccontextmanager
    async def announce(services: Services) -> AsyncIterator[None]:
        async with worker.running():
            print(
                f"Demo ready. Open http://{args.host}:{args.port}/#token={token}&story={featured}", flush=True
            )
            yield

    configure_logging(settings.log_level, settings.log_format)
    companions: list[Companion] = [announce]
    run_server(create_app(container, companions), settings)


def _publish(args: argparse.Namespace) -> None:
    settings = _settings({"REDIS_URL"})
    owner = parse_story_id(args.user, "--user") if args.user else None
    if settings.redis_mode == "cluster" and owner is None:
        raise SettingsError("--user USER_ID is required with REDIS_MODE=cluster (the owner's channel)")
    container = Container(settings=settings)
    update = ProgressUpdate(
        parse_story_id(args.story_id), StoryStatus(args.status), args.percent, args.step, datetime.now(UTC)
    )

    async def run() -> ProgressUpdate:
        try:
            publisher: ProgressPublisher = await resolve(container.publisher)
            return await publisher.publish(update, owner)
        finally:
            await _shutdown(container)

    print(JsonCodec().encode(asyncio.run(run())))


def _token(args: argparse.Namespace) -> None:
    settings = _settings({"JWT_SECRET"})
    if settings.jwt_algorithms[0] not in {"HS256", "HS384", "HS512"}:
        raise SettingsError("JWT_SECRET is required to sign tokens (a public key cannot sign)")
    issuer: JwtTokenIssuer = Container(settings=settings).token_issuer()
    print(issuer.issue(parse_story_id(args.user_id, "user_id"), ttl_seconds=args.ttl))


def _init_db(args: argparse.Namespace) -> None:
    container = Container(settings=_settings({"DATABASE_URL"}))

    async def run() -> None:
        try:
            await create_schema(await resolve(container.engine))
        finally:
            await _shutdown(container)

    asyncio.run(run())
    print("stories table ready")


async def _shutdown(container: Container) -> None:
    if (closing := container.shutdown_resources()) is not None:
        await closing


def _lifetime(raw: str) -> float:
    """`token --ttl`: a positive, finite number of seconds."""
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"--ttl must be a positive number of seconds, not {raw[:20]!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="codestory-progress",
        description=__doc__,
        epilog=settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return commands.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=settings_help(),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    serve = command("serve", "run the gateway (settings from the environment)")
    serve.add_argument(
        "--workers", type=_workers_argument, help="processes on the one port (default: WORKERS, else 1)"
    )
    serve.set_defaults(run=_serve)
    demo = command("demo", "run on in-memory adapters with a simulated worker")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--step-seconds", type=float, default=0.6)
    demo.set_defaults(run=_demo)
    publish = command("publish", "publish one update to Redis (REDIS_URL)")
    publish.add_argument("story_id")
    publish.add_argument("status", choices=[s.value for s in StoryStatus])
    publish.add_argument("percent", type=int, choices=range(101), metavar="percent")
    publish.add_argument("step")
    publish.add_argument("--user", metavar="USER_ID", help="the story's owner (required in cluster mode)")
    publish.set_defaults(run=_publish)
    token = command("token", "sign a token for a user (JWT_SECRET)")
    token.add_argument("user_id")
    token.add_argument("--ttl", type=_lifetime, default=3600.0, help="lifetime in seconds")
    token.set_defaults(run=_token)
    command("init-db", "create the stories table in DATABASE_URL (development)").set_defaults(run=_init_db)
    add_watch_command(commands)
    return parser
