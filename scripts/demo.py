"""`make demo`: the whole GitOps lifecycle on this machine, offline, through the real workflow files.

The six files in .github/workflows run unchanged under act against the rehearsal's local forge
(rehearsal/README.md), with a real S3 server, `mlflow server` and Pushgateway behind them:

  1 seed       the fork's first commit (this project), reproduced; DVC remote on S3 filled
  2 open PR    a params change → pr.yml → pr-comment.yml posts the report comment
  3 merge      release.yml: model-v1 registered, tagged, image built, staging bumped
  4 serve      the released image's bundle served by gunicorn on loopback (the cluster's part)
  5 traffic    real July 2013 flights replayed through the API
    + outcomes July's outcomes joined with the prediction log: live quality pushed, alerts evaluated
  6 promote    the App's promotion PR merged → promote.yml records production; meanwhile a
    + drift    schedule tick → drift.yml: one drift issue and a retraining PR, gated by pr.yml
  7 retrain    the retraining PR merged → release.yml: model-v2
  8 reload     the service reloads v2 under load, no request failing
  9 rollback   promote.yml run by hand (workflow_dispatch): staging back on v1, v1's release latest
 10 ci.yml     the story does not wait for ci.yml's runs (they gate nothing it does next): they
               finish here, and the summary lists every run's result

Then a summary: timings, and what the forge holds (the comment, the issue, the PRs, the tags, the
image in each overlay). No process is left running, also after a failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rehearsal import live
from rehearsal.cluster import Service, ServiceFailed, july_rows
from rehearsal.engine import RehearsalFailed
from rehearsal.story import RELEASE_V1, RELEASE_V2, ROLLBACK, Story, StoryFailed
from rehearsal.world import World

Step = tuple[str, Callable[[], str]]


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _with_service(story: Story, service: Service, *, fast: bool) -> list[Step]:
    def serve() -> str:
        return service.start(story.image_bundle())

    def traffic() -> str:
        params = story.world.clone / "params.yaml"
        return service.traffic(july_rows(params, limit=8000 if fast else None))

    def outcomes() -> str:
        return live.outcomes_step(story.world, story.image_bundle(), service)

    def reload() -> str:
        return service.reload_under_load(story.image_bundle(), expect_version="2")

    steps: list[Step] = []
    for title, action in story.steps():
        steps.append((title, action))
        if title == RELEASE_V1:
            steps += [("serve the released image", serve), ("replay July flights as traffic", traffic)]
            steps.append(("July's outcomes arrive: the champion's live quality", outcomes))
        if title == RELEASE_V2:
            steps.append(("the service reloads v2 under load", reload))
    steps.append((ROLLBACK, story.rollback))
    steps.append((CI_FINISHES, lambda: finish(story)))
    return steps


# ci.yml runs (`make test` on pushes and PRs) gate nothing the story does next (the required check
# is pr.yml's `gate`): the story goes on while they run, and waits for them at the end.
BACKGROUND = ("ci.yml",)
CI_FINISHES = "the ci.yml runs still going finish"


def finish(story: Story) -> str:
    runs = story.world.engine.pump(everything=True)
    background = [r for r in story.world.engine.runs if r.workflow.file in BACKGROUND]
    passed = sum(r.conclusion == "success" for r in background)
    cancelled = sum(r.conclusion == "cancelled" for r in background)
    return (
        f"{len(runs)} run(s) waited for; ci.yml: {passed} passed, {cancelled} cancelled "
        "(a newer run in the same group)"
    )


def _summary(story: Story, total: float, out: Path) -> None:
    print("\nsummary")
    for title, took, outcome in story.timings:
        print(f"  {took:6.1f} s  {title}\n             {outcome}")
    print(f"  {total:6.1f} s  total")
    data = story.summary()
    forge = data["forge"]
    print("\nwhat the forge holds")
    for c in forge["comments"]:
        lines = [line for line in str(c.get("body", "")).splitlines() if line and not line.startswith("<!--")]
        print(f"  comment on #{c.get('issue_number')}: {(lines or [''])[0][:80]}")
    for i in forge["issues"]:
        print(f"  issue #{i['number']} ({i['state']}): {i['title']}")
    for p in forge["pulls"]:
        print(f"  PR #{p['number']} ({p['state']}{', merged' if p.get('merged') else ''}): {p['title']}")
    print(f"  tags: {', '.join(forge['tags'])}")
    for env, image in forge["overlays"].items():
        print(f"  {env} overlay: {image}")
    for run in data["workflows"]:
        print(f"  run {run['run_id']} {run['file']:<15} {run['event']:<18} {run['conclusion']}")
    out.write_text(json.dumps({**data, "total_seconds": round(total, 1)}, indent=2, default=str) + "\n")
    print(f"\nsummary JSON: {out}")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default=str(ROOT / ".demo"), help="scratch directory (default .demo/)")
    ap.add_argument(
        "--full",
        action="store_true",
        help="the committed params (6 months, the 300-tree model) instead of the fast configuration "
        "(2 months, 40 trees, retraining on the first drift)",
    )
    args = ap.parse_args(argv)
    args.fast = not args.full
    work = Path(args.work).resolve()
    if work.exists():
        print(f"demo: a previous run is in {work}; starting clean", flush=True)
    signal.signal(signal.SIGTERM, _interrupt)
    started = time.monotonic()
    try:
        with World(work, fast=args.fast) as world, Service(work / "service") as service:
            story = Story(world)
            world.engine.background = BACKGROUND
            story.tell(_with_service(story, service, fast=args.fast))
            _summary(story, time.monotonic() - started, work / "summary.json")
    except (RehearsalFailed, StoryFailed, ServiceFailed, RuntimeError, OSError) as e:
        print(f"\ndemo failed: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ndemo interrupted: every process it started was stopped", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
