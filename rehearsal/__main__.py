"""`python -m rehearsal` (`make rehearse`): the six workflow files through the local forge, end to end."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from rehearsal.engine import RehearsalFailed
from rehearsal.story import Story, StoryFailed
from rehearsal.world import PROJECT, World, WorldBusy


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rehearsal", description=__doc__)
    parser.add_argument(
        "--fast", action="store_true", help="2 months, a small model, retraining on the first drift"
    )
    parser.add_argument("--work", type=Path, default=PROJECT / ".rehearsal" / "work", help="scratch folder")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="`make test`'s cut: the PR and the drift tick side by side, then v1 and its promotion "
        "(every workflow file runs; the retraining PR is gated, not merged)",
    )
    parser.add_argument(
        "--workflows-from",
        metavar="REF[:FILES]",
        help="rehearse this project's workflow files (all, or FILES=a.yml,b.yml) as they were at REF",
    )
    parser.add_argument(
        "--summary", type=Path, default=PROJECT / ".rehearsal" / "summary.json", help="summary JSON path"
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    started = time.monotonic()
    try:
        with World(args.work, fast=args.fast, workflows_from=args.workflows_from) as world:
            story = Story(world)
            try:
                story.tell(story.quick_steps() if args.quick else story.steps())
            finally:
                story.write_summary(args.summary)
            story.write_summary(args.summary, passed=True)
    except (RehearsalFailed, StoryFailed) as e:
        print(f"rehearsal failed: {e}", file=sys.stderr)
        print(f"summary so far: {args.summary}", file=sys.stderr)
        return 1
    except WorldBusy as e:
        print(f"rehearsal not started: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rehearsal interrupted: every service it started was stopped", file=sys.stderr)
        return 130
    print(f"rehearsal passed in {time.monotonic() - started:.0f} s; summary: {args.summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
