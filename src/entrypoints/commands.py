"""What each command of the command line does, from its parsed arguments (see `cli.py`).

Every command reads its configuration through `settings.py`'s declarations; the worker commands
(`publish`, `revoke`) go through the worker SDK, as a worker's shell would.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Callable, Collection
from typing import TypeVar

from adapters.jwt_tokens import JwtTokenIssuer
from adapters.postgres_stories import create_schema
from codestory_progress_worker import ProgressReporter
from domain.progress import parse_story_id
from entrypoints.app import create_app
from entrypoints.container import Container
from entrypoints.demo_command import demo_settings, run_demo
from entrypoints.logs import configure_logging
from entrypoints.server import raise_file_limit, run_server
from entrypoints.services import resolve
from entrypoints.setting_checks import SettingsError
from entrypoints.settings import SERVE_NEEDS, Settings, load_settings
from entrypoints.workers import run_workers

T = TypeVar("T")


class ArgumentError(ValueError):
    """A bad argument, found before anything reached Redis."""


def settings_for(needs: Collection[str]) -> Settings:
    """The one way a command reads its configuration: the declarations of `settings.py`."""
    return load_settings(os.environ, needs)


def serve(args: argparse.Namespace) -> int:
    settings = settings_for(SERVE_NEEDS)
    workers = args.workers if args.workers is not None else settings.workers
    configure_logging(settings.log_level, settings.log_format)
    raise_file_limit()
    if workers > 1:
        return run_workers(workers, settings)
    run_server(create_app(Container(settings=settings)), settings)
    return 0


def demo(args: argparse.Namespace) -> int:
    settings = demo_settings(settings_for(()), args.host, args.port, args.stalled_after_seconds)
    return run_demo(settings, args.step_seconds)


def publish(args: argparse.Namespace) -> None:
    """One update through the worker SDK (sync), as a worker's shell would send it."""
    settings = settings_for({"REDIS_URL"})
    owner = parse_story_id(args.user, "--user") if args.user else None
    if settings.redis_mode == "cluster" and owner is None:
        raise SettingsError("--user USER_ID is required with REDIS_MODE=cluster (the owner's channel)")
    with _reporter(settings) as reporter:
        sent = _checked(
            lambda: reporter.publish(args.story_id, args.status, args.percent, args.step, owner=owner)
        )
    print(sent.to_json())


def revoke(args: argparse.Namespace) -> None:
    """Every gateway re-checks the story's owner at once: it moved to another user, or was deleted."""
    settings = settings_for({"REDIS_URL"})
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


def token(args: argparse.Namespace) -> None:
    settings = settings_for({"JWT_SECRET"})
    if settings.jwt_algorithms[0] not in {"HS256", "HS384", "HS512"}:
        raise SettingsError("JWT_SECRET is required to sign tokens (a public key cannot sign)")
    issuer: JwtTokenIssuer = Container(settings=settings).token_issuer()
    print(issuer.issue(parse_story_id(args.user_id, "user_id"), ttl_seconds=args.ttl))


def init_db(args: argparse.Namespace) -> None:
    container = Container(settings=settings_for({"DATABASE_URL"}))

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
