"""The command line: `codestory-progress serve | demo | publish | revoke | token | init-db | watch`."""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
from collections.abc import Callable, Collection, Sequence
from typing import TypeVar

from redis.exceptions import RedisClusterException, RedisError
from sqlalchemy.exc import SQLAlchemyError

from adapters.jwt_tokens import JwtTokenIssuer
from adapters.postgres_stories import create_schema
from codestory_progress_worker import STATUSES, ProgressReporter
from domain.progress import InvalidUpdate, parse_story_id
from entrypoints.app import create_app
from entrypoints.container import Container
from entrypoints.demo_command import demo_settings, run_demo
from entrypoints.logs import configure_logging
from entrypoints.server import raise_file_limit, run_server
from entrypoints.services import resolve
from entrypoints.settings import SERVE_NEEDS, Settings, SettingsError, load_settings, settings_help
from entrypoints.watch import add_watch_command
from entrypoints.workers import run_workers

T = TypeVar("T")


class ArgumentError(ValueError):
    """A bad argument, found before anything reached Redis."""


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (SettingsError, InvalidUpdate, ArgumentError) as exc:
        print(f"codestory-progress {args.command}: {exc}", file=sys.stderr)
        return 2
    except (RedisError, RedisClusterException, OSError, SQLAlchemyError) as exc:
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


def _demo(args: argparse.Namespace) -> int:
    return run_demo(demo_settings(_settings(()), args.host, args.port), args.step_seconds)


def _publish(args: argparse.Namespace) -> None:
    """One update through the worker SDK (sync), as a worker's shell would send it."""
    settings = _settings({"REDIS_URL"})
    owner = parse_story_id(args.user, "--user") if args.user else None
    if settings.redis_mode == "cluster" and owner is None:
        raise SettingsError("--user USER_ID is required with REDIS_MODE=cluster (the owner's channel)")
    with _reporter(settings) as reporter:
        sent = _checked(
            lambda: reporter.publish(args.story_id, args.status, args.percent, args.step, owner=owner)
        )
    print(sent.to_json())


def _revoke(args: argparse.Namespace) -> None:
    """Every gateway re-checks the story's owner at once: it moved to another user, or was deleted."""
    settings = _settings({"REDIS_URL"})
    with _reporter(settings) as reporter:
        heard = _checked(lambda: reporter.revoke(args.story_id))
    print(f"revoked {args.story_id}: {heard} gateway subscriber(s) heard it")


def _reporter(settings: Settings) -> ProgressReporter:
    return ProgressReporter.from_url(
        settings.redis_url,
        prefix=settings.redis_key_prefix,
        ttl_seconds=settings.snapshot_ttl_seconds,
        cluster=settings.redis_mode == "cluster",
    )


def _checked(call: Callable[[], T]) -> T:
    """The SDK's `ValueError` for a bad value (raised before anything reaches Redis) as a usage error."""
    try:
        return call()
    except ValueError as exc:
        raise ArgumentError(str(exc)) from None


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
    publish.add_argument("status", choices=STATUSES)
    publish.add_argument("percent", type=int, choices=range(101), metavar="percent")
    publish.add_argument("step")
    publish.add_argument("--user", metavar="USER_ID", help="the story's owner (required in cluster mode)")
    publish.set_defaults(run=_publish)
    revoke = command("revoke", "tell every gateway to re-check a story's owner now (REDIS_URL)")
    revoke.add_argument("story_id")
    revoke.set_defaults(run=_revoke)
    token = command("token", "sign a token for a user (JWT_SECRET)")
    token.add_argument("user_id")
    token.add_argument("--ttl", type=_lifetime, default=3600.0, help="lifetime in seconds")
    token.set_defaults(run=_token)
    command("init-db", "create the stories table in DATABASE_URL (development)").set_defaults(run=_init_db)
    add_watch_command(commands)
    return parser
