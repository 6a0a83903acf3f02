"""The command line: `codestory-progress serve | demo | publish | revoke | token | init-db | watch`."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence

from redis.exceptions import RedisClusterException, RedisError
from sqlalchemy.exc import SQLAlchemyError

from codestory_progress_worker import STATUSES
from domain.progress import InvalidUpdate
from entrypoints import commands
from entrypoints.setting_checks import SettingsError
from entrypoints.settings import settings_help
from entrypoints.watch import add_watch_command


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (SettingsError, InvalidUpdate, commands.ArgumentError) as exc:
        print(f"codestory-progress {args.command}: {exc}", file=sys.stderr)
        return 2
    except (RedisError, RedisClusterException, OSError, SQLAlchemyError) as exc:
        print(f"codestory-progress {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


def _workers_argument(raw: str) -> int:
    """`--workers`: a count of processes (it wins over WORKERS)."""
    if not raw.strip().isdigit() or int(raw) < 1:
        raise argparse.ArgumentTypeError("a whole number, at least 1")
    return int(raw)


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
    subcommands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return subcommands.add_parser(
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
    serve.set_defaults(run=commands.serve)
    demo = command("demo", "run on in-memory adapters with a simulated worker")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--step-seconds", type=float, default=0.6)
    demo.add_argument(
        "--stalled-after-seconds", type=float, default=8.0, help="STALLED_AFTER_SECONDS of the demo (8)"
    )
    demo.set_defaults(run=commands.demo)
    publish = command("publish", "publish one update to Redis (REDIS_URL)")
    publish.add_argument("story_id")
    publish.add_argument("status", choices=STATUSES)
    publish.add_argument("percent", type=int, choices=range(101), metavar="percent")
    publish.add_argument("step")
    publish.add_argument("--user", metavar="USER_ID", help="the story's owner (required in cluster mode)")
    publish.set_defaults(run=commands.publish)
    revoke = command("revoke", "tell every gateway to re-check a story's owner now (REDIS_URL)")
    revoke.add_argument("story_id")
    revoke.set_defaults(run=commands.revoke)
    token = command("token", "sign a token for a user (JWT_SECRET)")
    token.add_argument("user_id")
    token.add_argument("--ttl", type=_lifetime, default=3600.0, help="lifetime in seconds")
    token.set_defaults(run=commands.token)
    command("init-db", "create the stories table in DATABASE_URL (development)").set_defaults(
        run=commands.init_db
    )
    add_watch_command(subcommands)
    return parser
