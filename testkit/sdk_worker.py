"""A worker that uses the SDK (sync API) as a real one does, for the e2e tests: it holds one story
in a block, heartbeating, and publishes a step every `--step-seconds` until the story's last
percent, or until its owner cancels it (the block then publishes `failed`, `Cancelled by the user`).

    python -m testkit.sdk_worker REDIS_URL PREFIX STORY_ID [--heartbeat-seconds S] [--step-seconds S]

It prints `published <seq>` after each update and `cancelled` once the block swallowed the
cancel, flushed at once, so a test can follow it, and kill it mid-story.
"""

from __future__ import annotations

import argparse
import sys
import time

from codestory_progress_worker import ProgressReporter, StoryCancelled

STEPS = 400  # long enough that only a kill or a cancel ends it within a test


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sdk_worker")
    parser.add_argument("redis_url")
    parser.add_argument("prefix")
    parser.add_argument("story_id")
    parser.add_argument("--heartbeat-seconds", type=float, default=0.5)
    parser.add_argument("--step-seconds", type=float, default=0.2)
    args = parser.parse_args(argv)
    reporter = ProgressReporter.from_url(
        args.redis_url, prefix=args.prefix, heartbeat_seconds=args.heartbeat_seconds
    )
    with reporter, reporter.story(args.story_id) as story:
        for step in range(STEPS):
            try:
                update = story.update("generating", min(99, step // 4), f"Writing part {step}")
            except StoryCancelled:
                print("cancelled", flush=True)  # noqa: T201 (the protocol with the test)
                raise
            print(f"published {update.seq}", flush=True)  # noqa: T201
            time.sleep(args.step_seconds)
        story.update("complete", 100, "Done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
