"""The command line: `codestory-progress serve | demo | publish | token | init-db | watch`."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from adapters.json_codec import JsonCodec
from adapters.jwt_tokens import JwtTokenIssuer
from adapters.memory import MemoryStoryDirectory
from adapters.postgres_stories import create_schema, make_engine
from adapters.redis_progress import RedisKeys, RedisProgressPublisher
from domain.progress import InvalidUpdate, ProgressUpdate, StoryStatus, parse_story_id
from entrypoints.app import Companion, create_app
from entrypoints.container import Container, open_redis
from entrypoints.demo import DemoWorker
from entrypoints.logs import configure_logging
from entrypoints.server import run_server
from entrypoints.services import Services
from entrypoints.settings import Settings, SettingsError, load_settings
from entrypoints.watch import add_watch_command
from entrypoints.workers import run_workers


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (SettingsError, InvalidUpdate) as exc:
        print(f"codestory-progress {args.command}: {exc}", file=sys.stderr)
        return 2


def _serve(args: argparse.Namespace) -> int:
    settings = load_settings(os.environ)
    workers = args.workers if args.workers is not None else _workers(os.environ.get("WORKERS", ""))
    configure_logging()
    if workers > 1:
        return run_workers(workers, settings)
    run_server(
        create_app(Container(settings=settings)), settings.host, settings.port, settings.slow_client_seconds
    )
    return 0


def _workers(raw: str) -> int:
    """`--workers` or WORKERS: a count of processes, 1 (no supervisor) when unset."""
    if not raw.strip():
        return 1
    if not raw.strip().isdigit() or int(raw) < 1:
        raise SettingsError(f"WORKERS must be a whole number, at least 1, not {raw[:20]!r}")
    return int(raw)


def _workers_argument(raw: str) -> int:
    try:
        return _workers(raw)
    except SettingsError:
        raise argparse.ArgumentTypeError("a whole number, at least 1") from None


def _demo(args: argparse.Namespace) -> None:
    settings = Settings(
        jwt_key=secrets.token_urlsafe(48), backend="memory", demo_page=True, host=args.host, port=args.port
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

    configure_logging()
    companions: list[Companion] = [announce]
    run_server(create_app(container, companions), args.host, args.port)


def _publish(args: argparse.Namespace) -> None:
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    ttl = int(os.environ.get("SNAPSHOT_TTL_SECONDS") or 604800)
    update = ProgressUpdate(
        parse_story_id(args.story_id), StoryStatus(args.status), args.percent, args.step, datetime.now(UTC)
    )

    async def run() -> ProgressUpdate:
        async with asynccontextmanager(open_redis)(redis_url) as client:
            keys = RedisKeys(os.environ.get("REDIS_KEY_PREFIX", ""))
            return await RedisProgressPublisher(client, JsonCodec(), keys, ttl).publish(update)

    print(JsonCodec().encode(asyncio.run(run())))


def _token(args: argparse.Namespace) -> None:
    secret = os.environ.get("JWT_SECRET", "")
    if len(secret.encode()) < 32:
        raise SettingsError("JWT_SECRET is required (at least 32 bytes)")
    issuer = JwtTokenIssuer(
        secret, audience=os.environ.get("JWT_AUDIENCE"), issuer=os.environ.get("JWT_ISSUER")
    )
    print(issuer.issue(parse_story_id(args.user_id, "user_id"), ttl_seconds=args.ttl))


def _init_db(args: argparse.Namespace) -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgresql+asyncpg://"):
        raise SettingsError("DATABASE_URL must start with postgresql+asyncpg://")

    async def run() -> None:
        engine = make_engine(url, timeout=5.0)
        try:
            await create_schema(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())
    print("stories table ready")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codestory-progress", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the gateway (settings from the environment)")
    serve.add_argument(
        "--workers", type=_workers_argument, help="processes on the one port (default: WORKERS, else 1)"
    )
    serve.set_defaults(run=_serve)
    demo = commands.add_parser("demo", help="run on in-memory adapters with a simulated worker")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--step-seconds", type=float, default=0.6)
    demo.set_defaults(run=_demo)
    publish = commands.add_parser("publish", help="publish one update to Redis (REDIS_URL)")
    publish.add_argument("story_id")
    publish.add_argument("status", choices=[s.value for s in StoryStatus])
    publish.add_argument("percent", type=int, choices=range(101), metavar="percent")
    publish.add_argument("step")
    publish.set_defaults(run=_publish)
    token = commands.add_parser("token", help="sign a token for a user (JWT_SECRET)")
    token.add_argument("user_id")
    token.add_argument("--ttl", type=float, default=3600.0, help="lifetime in seconds")
    token.set_defaults(run=_token)
    commands.add_parser("init-db", help="create the stories table (development)").set_defaults(run=_init_db)
    add_watch_command(commands)
    return parser
