"""`codestory-progress-watch` (also the gateway's `codestory-progress watch`): a story's (or a
dashboard's) progress live in the terminal.

Built on this client, so it reconnects like any other client. A story ends the command: 0 on
`complete`, 1 on `failed`; an auth error (4001/4003) exits 2, another close that retrying cannot
fix 3. Ctrl-C on a story: once stops watching (130, after a short window), twice cancels the
story and watches it end (`failed`, 1); see `interrupts.py`. A dashboard runs until interrupted
(130). `--json` prints one update a line, for CI logs,
and needs nothing beyond the client; the bars need the `watch` extra (`rich`), imported only then.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from codestory_progress_client import (
    AuthError,
    ConnectionRejected,
    ProgressStream,
    ProgressUpdate,
    dashboard_updates,
    story_updates,
)
from codestory_progress_client.interrupts import CANCEL_WINDOW_SECONDS, Interrupts

if TYPE_CHECKING:
    from rich.progress import TaskID

EXIT_COMPLETE, EXIT_FAILED, EXIT_AUTH, EXIT_USAGE, EXIT_REJECTED, EXIT_INTERRUPTED = 0, 1, 2, 2, 3, 130
DESCRIPTION = "show a story's (or --dashboard) progress live"
EPILOG = (
    f"Ctrl-C on a story: press once to stop watching (after {CANCEL_WINDOW_SECONDS:g} s), twice within "
    "that window to cancel the story and watch it end as failed; a third press quits at once. "
    "On a dashboard Ctrl-C stops watching."
)
NO_RICH = "the bars need rich: pip install 'codestory-progress-client[watch]', or use --json"


class View(Protocol):
    def __enter__(self) -> View: ...
    def __exit__(self, *exc: object) -> None: ...
    def show(self, update: ProgressUpdate) -> None: ...


class JsonLines:
    """One update a line on stdout, flushed at once (CI logs, pipes)."""

    def __enter__(self) -> JsonLines:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def show(self, update: ProgressUpdate) -> None:
        sys.stdout.write(update.to_json() + "\n")
        sys.stdout.flush()


class Bars:
    """A rich progress bar per story: one line each, updated in place."""

    def __init__(self) -> None:
        from rich.console import Console  # noqa: PLC0415 (the optional extra)
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn  # noqa: PLC0415

        self._progress = Progress(
            TextColumn("[bold]{task.fields[story]}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[status]:<12}"),
            TextColumn("{task.description}"),
            console=Console(),
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> Bars:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def show(self, update: ProgressUpdate) -> None:
        fields: dict[str, Any] = {"status": update.status}
        if (task := self._tasks.get(update.story_id)) is None:
            task = self._progress.add_task(
                update.current_step, total=100, story=update.story_id[:8], **fields
            )
            self._tasks[update.story_id] = task
        self._progress.update(
            task, completed=update.progress_percent, description=update.current_step, **fields
        )


def main(argv: Sequence[str] | None = None) -> int:
    """`codestory-progress-watch`: the console script of this distribution."""
    parser = argparse.ArgumentParser(prog="codestory-progress-watch", description=DESCRIPTION, epilog=EPILOG)
    add_arguments(parser)
    return run_watch(parser.parse_args(argv))


def add_watch_command(commands: Any) -> None:
    """Register `watch` on another CLI's subparsers (the gateway's `codestory-progress watch`)."""
    watch = commands.add_parser("watch", help=DESCRIPTION, description=DESCRIPTION, epilog=EPILOG)
    add_arguments(watch)
    watch.set_defaults(run=run_watch)


def add_arguments(watch: argparse.ArgumentParser) -> None:
    watch.add_argument("story_id", nargs="?", help="the story to follow (omit with --dashboard)")
    watch.add_argument("--dashboard", action="store_true", help="every story of the token's user")
    watch.add_argument("--json", action="store_true", help="one update a line instead of bars")
    watch.add_argument("--url", help="ws://host:port (default from HOST and PORT, or ws://127.0.0.1:8000)")
    watch.add_argument("--token", help="the JWT (default: the CODESTORY_TOKEN environment variable)")


def default_url(env: Mapping[str, str]) -> str:
    host = env.get("HOST") or "127.0.0.1"
    host = "127.0.0.1" if host in {"0.0.0.0", "::"} else host  # noqa: S104 (a bind-all address, not bound here)
    return f"ws://{host}:{env.get('PORT') or 8000}"


def run_watch(args: argparse.Namespace) -> int:
    if bool(args.story_id) == bool(args.dashboard):
        return _usage("give a STORY_ID or --dashboard, not both")
    token = args.token or os.environ.get("CODESTORY_TOKEN")
    if not token:
        return _usage("a token is required: --token or CODESTORY_TOKEN")
    url = args.url or default_url(os.environ)
    stream = dashboard_updates(url, token) if args.dashboard else story_updates(url, args.story_id, token)
    try:
        view: View = JsonLines() if args.json else Bars()
    except ModuleNotFoundError:
        return _usage(NO_RICH)
    try:
        return asyncio.run(_watch(stream, view, until_final=not args.dashboard))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


async def _watch(stream: ProgressStream, view: View, *, until_final: bool) -> int:
    """Follow the stream; on a story, Ctrl-C as `Interrupts` says (a dashboard: Ctrl-C quits)."""
    if not until_final:
        return await _follow(stream, view, until_final=False)
    interrupts = Interrupts(stream.cancel, _say)
    with interrupts.installed():
        follow = asyncio.create_task(_follow(stream, view, until_final=True), name="watch-follow")
        quit_ = asyncio.create_task(interrupts.quit.wait(), name="watch-quit")
        await asyncio.wait({follow, quit_}, return_when=asyncio.FIRST_COMPLETED)
        for task in (follow, quit_):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return follow.result() if not follow.cancelled() else EXIT_INTERRUPTED


async def _follow(stream: ProgressStream, view: View, *, until_final: bool) -> int:
    """Show updates (until the story ends, with `until_final`); map the stream's errors to exit codes."""
    try:
        with view:
            async with stream:
                async for update in stream:
                    view.show(update)
                    if until_final and update.final:
                        return EXIT_COMPLETE if update.status == "complete" else EXIT_FAILED
    except AuthError as exc:
        return _fail(f"{exc} (a new token is needed, or the story is not yours)", EXIT_AUTH)
    except ConnectionRejected as exc:
        return _fail(str(exc), EXIT_REJECTED)
    return EXIT_REJECTED


def _say(message: str) -> None:
    sys.stderr.write(f"watch: {message}\n")
    sys.stderr.flush()


def _usage(message: str) -> int:
    return _fail(message, EXIT_USAGE)


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"watch: {message}\n")
    return code
