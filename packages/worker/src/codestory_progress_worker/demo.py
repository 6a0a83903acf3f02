"""A tiny worker that runs one story slowly and honours a cancel: for trying the gateway by hand and
for end-to-end tests (kill it mid-story to see `stalled`; cancel from the page to see `failed`).

    python -m codestory_progress_worker.demo STORY_ID --owner USER_ID [--step-seconds 0.5] [--steps 40]

It reads REDIS_URL, REDIS_KEY_PREFIX and REDIS_MODE (`cluster`) as the gateway does (options win),
publishes one update every `--step-seconds` through analyzing, generating and synthesizing, then
`complete`, with heartbeats every `--heartbeat-seconds`. Each update is printed (`seq status
percent`) as it goes; the last line is `outcome: complete` or `outcome: cancelled` (exit 0 for
both; 2 for a bad argument).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence

from codestory_progress_worker.blocks import CANCELLED_STEP
from codestory_progress_worker.reporter import ProgressReporter, StoryProgress
from codestory_progress_worker.updates import story_uuid

PHASES = ("analyzing", "generating", "synthesizing")


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m codestory_progress_worker.demo", description=__doc__.split("\n")[0]
    )
    parser.add_argument("story_id", type=lambda text: story_uuid(text, "story_id"))
    parser.add_argument("--owner", required=True, type=lambda text: story_uuid(text, "owner"))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--prefix", default=os.environ.get("REDIS_KEY_PREFIX", ""))
    parser.add_argument("--cluster", action="store_true", default=os.environ.get("REDIS_MODE") == "cluster")
    parser.add_argument("--step-seconds", type=float, default=0.5)
    parser.add_argument("--steps", type=int, default=40, help="updates before complete (at least 1)")
    parser.add_argument("--heartbeat-seconds", type=float, default=1.0)
    parsed = parser.parse_args(argv)
    if parsed.steps < 1 or parsed.step_seconds < 0:
        parser.error("--steps must be at least 1 and --step-seconds at least 0")
    return parsed


def say(line: str) -> None:
    """One line on stdout, at once (a test or a person reads it through a pipe)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def pause(story: StoryProgress, seconds: float) -> bool:
    """Wait `seconds`, or less when a publish or a heartbeat sees a cancel; False if it did."""
    deadline = time.monotonic() + seconds
    while not story.cancel_requested and (left := deadline - time.monotonic()) > 0:
        time.sleep(min(left, 0.05))
    return not story.cancel_requested


def walk(story: StoryProgress, steps: int, step_seconds: float) -> None:
    """`steps` updates, `step_seconds` apart, then `complete`; a cancel seen by an update or a
    heartbeat ends the walk at once (the block then publishes `failed`)."""
    for index in range(steps):
        phase = PHASES[index * len(PHASES) // steps]
        update = story.update(phase, index * 99 // steps, f"Step {index + 1} of {steps} ({phase})")
        say(f"{update.seq} {update.status} {update.progress_percent}")
        if not pause(story, step_seconds):
            return  # cancelled: the block ends the story failed
    done = story.update("complete", 100, "Your story is ready")
    say(f"{done.seq} {done.status} {done.progress_percent}")


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(argv)
    with ProgressReporter.from_url(
        args.redis_url, prefix=args.prefix, cluster=args.cluster, heartbeat_seconds=args.heartbeat_seconds
    ) as reporter:
        with reporter.story(args.story_id, owner=args.owner) as story:
            walk(story, args.steps, args.step_seconds)
        last = story.last
    outcome = "none" if last is None else "cancelled" if last.current_step == CANCELLED_STEP else last.status
    say(f"outcome: {outcome}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
