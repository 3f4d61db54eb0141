"""The lifecycle as a fork lives it, told through the real workflow files and the forge.

  1 seed       the fork's first commit (this project), reproduced; the DVC remote on S3 filled
  2 open PR    a params change → pr.yml (gate, report) → pr-comment.yml (the sticky comment)
  3 merge      release.yml: model-v1 registered and tagged, image built, staging bumped on main,
               promotion PR opened by the App → its pr.yml runs
  4 promote    the promotion PR merged → promote.yml records the production deployment; at the same
     + drift   time a schedule tick → drift.yml: one drift issue, a retraining PR → its pr.yml runs
  5 retrain    the retraining PR merged → release.yml: model-v2, staging bumped

Each step asserts what a user would see on GitHub; `summary()` is what `make rehearse` writes.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rehearsal.engine import Run
from rehearsal.world import World

# The params PR: stronger L2 on the fast model (May → June ROC AUC 0.7677 → 0.7691), a change the
# gate lets through.
TUNE = {"train": {"reg_lambda": 5.0}}
RELEASE_V1 = "merge it: release v1"
RELEASE_V2 = "merge the retraining PR: release v2"
ROLLBACK = "roll back by hand (promote.yml, workflow_dispatch)"
PROMOTE_AND_DRIFT = "merge the promotion PR; the scheduled drift check"


class StoryFailed(Exception):
    """What a user would see differs from what the lifecycle promises."""


@dataclass
class Story:
    world: World
    say: Callable[[str], None] = print
    timings: list[tuple[str, float, str]] = field(default_factory=list)
    numbers: dict[str, int] = field(default_factory=dict)

    def step(self, index: int, total: int, title: str, action: Callable[[], str]) -> None:
        self.say(f"[{index}/{total}] {title}")
        started = time.monotonic()
        outcome = action()
        self.timings.append((title, time.monotonic() - started, outcome))
        self.say(f"      {outcome} ({time.monotonic() - started:.0f} s)")

    def steps(self) -> list[tuple[str, Callable[[], str]]]:
        return [
            ("seed the fork", self.seed),
            ("open a params PR", self.open_pr),
            (RELEASE_V1, self.merge_release),
            (PROMOTE_AND_DRIFT, self.promote_and_drift),
            (RELEASE_V2, self.retrain),
        ]

    def tell(self, steps: list[tuple[str, Callable[[], str]]] | None = None) -> None:
        steps = steps or self.steps()
        for i, (title, action) in enumerate(steps, 1):
            self.step(i, len(steps), title, action)

    def image_bundle(self) -> Path:
        """The bundle baked into the newest released image: the release run's `image-bundle` artifact."""
        found = [a for a in self.state().get("artifacts", []) if a.get("name") == "image-bundle"]
        if not found:
            raise StoryFailed("no release run uploaded an image-bundle artifact")
        return Path(str(max(found, key=lambda a: int(a["run_id"]))["path"]))

    # --- steps -------------------------------------------------------------------------------------
    def seed(self) -> str:
        sha = self.world.seed()
        return f"main at {sha[:12]}"

    def quick_steps(self) -> list[tuple[str, Callable[[], str]]]:
        """`make test`'s cut: every workflow file runs, the PR and the drift tick side by side, and
        the story ends before the retraining PR is merged (no v2 release)."""
        return [
            ("seed the fork", self.seed),
            ("open a params PR while the schedule ticks", self.pr_and_drift),
            (RELEASE_V1, self.merge_release),
            ("merge the promotion PR", self.promote),
        ]

    def _push_tune_pr(self) -> int:
        w = self.world
        w.branch_with_params("tune", TUNE, "train: L2 1 → 5")
        self.numbers["tune"] = w.open_pr("tune", "train: L2 1 → 5", "A params change, rehearsed.")
        return self.numbers["tune"]

    def _reported(self, runs: list[Run], number: int) -> str:
        self.expect(runs, "pr.yml", "pull_request")
        self.expect(runs, "pr-comment.yml", "workflow_run")
        comments = self.report_comments(number)
        if len(comments) != 1:
            raise StoryFailed(f"PR #{number} should carry exactly one report comment, found {len(comments)}")
        return f"PR #{number}: gate passed, one report comment ({len(comments[0]['body'])} chars)"

    def open_pr(self) -> str:
        number = self._push_tune_pr()
        return self._reported(self.world.engine.pump(), number)

    def pr_and_drift(self) -> str:
        number = self._push_tune_pr()
        self.world.tick("drift.yml")
        runs = self.world.engine.pump()
        return f"{self._reported(runs, number)}; {self.drift(runs)}"

    def promote(self) -> str:
        self.world.merge(self.numbers["promote"])
        self.expect(self.world.engine.pump(), "promote.yml", "push")
        return f"production → {self.overlay_image('production')}"

    def merge_release(self) -> str:
        w = self.world
        w.merge(self.numbers["tune"])
        runs = w.engine.pump()
        self.expect(runs, "release.yml", "push")
        tags = self.tags()
        if "model-v1" not in tags:
            raise StoryFailed(f"merging should release model-v1; tags on the forge: {tags}")
        staging = self.overlay_image("staging")
        if "model-v1" not in staging:
            raise StoryFailed(f"the staging overlay on main should name model-v1, it names {staging}")
        promotion = [p for p in w.pulls() if p["head"]["ref"] == "promote/model-v1"]
        if not promotion:
            raise StoryFailed("release.yml should open the production promotion PR promote/model-v1")
        self.numbers["promote"] = int(promotion[0]["number"])
        if not any(r.workflow.file == "pr.yml" and r.event == "pull_request" for r in runs):
            raise StoryFailed("the promotion PR (opened by the App) should have started pr.yml")
        return f"model-v1 tagged, staging → {staging}, promotion PR #{self.numbers['promote']}"

    def promote_and_drift(self) -> str:
        """The maintainer merges the promotion PR while the schedule ticks: independent, side by side."""
        w = self.world
        w.merge(self.numbers["promote"])
        w.tick("drift.yml")
        runs = w.engine.pump()
        self.expect(runs, "promote.yml", "push")
        return f"production → {self.overlay_image('production')}; {self.drift(runs)}"

    def drift(self, runs: list[Run]) -> str:
        """More schedule ticks until the N-of-M trigger asks for retraining (params drift.trigger)."""
        w = self.world
        trigger = yaml.safe_load((w.clone / "params.yaml").read_text())["drift"]["trigger"]
        for _ in range(int(trigger["m"]) - 1):
            if any(str(p["head"]["ref"]).startswith("retrain/") for p in w.pulls()):
                break
            w.tick("drift.yml")
            runs += w.engine.pump()
        drift = self.expect(runs, "drift.yml", "schedule")
        issues = [i for i in self.state()["issues"] if "drift" in json.dumps(i.get("labels", []))]
        if len(issues) != 1:
            raise StoryFailed(f"the drift check should open exactly one drift issue, found {len(issues)}")
        retrain = [p for p in w.pulls() if str(p["head"]["ref"]).startswith("retrain/")]
        if not retrain:
            raise StoryFailed(f"drift.yml should open a retraining PR; its jobs: {drift.line()}")
        self.numbers["retrain"] = int(retrain[0]["number"])
        gate = [
            r
            for r in runs
            if r.workflow.file == "pr.yml" and r.payload.get("number") == self.numbers["retrain"]
        ]
        if not gate or gate[-1].conclusion != "success":
            raise StoryFailed("the retraining PR's pr.yml (gate) should have run and passed")
        ticks = sum(r.workflow.file == "drift.yml" for r in runs)
        issue, pr = issues[0]["number"], self.numbers["retrain"]
        return f"{ticks} tick(s): drift issue #{issue}, retraining PR #{pr} gated"

    def retrain(self) -> str:
        w = self.world
        w.merge(self.numbers["retrain"])
        runs = w.engine.pump()
        self.expect(runs, "release.yml", "push")
        if "model-v2" not in self.tags():
            raise StoryFailed(f"merging the retraining PR should release model-v2; tags: {self.tags()}")
        return f"model-v2 tagged, staging → {self.overlay_image('staging')}"

    def rollback(self) -> str:
        """Someone runs promote.yml by hand (workflow_dispatch): back to the `previous` model."""
        w = self.world
        w.dispatch("promote.yml", {"rollback_to": ""})
        runs = w.engine.pump()
        self.expect(runs, "promote.yml", "workflow_dispatch")
        staging = self.overlay_image("staging")
        if "model-v1" not in staging:
            raise StoryFailed(f"the rollback should put staging back on model-v1, it names {staging}")
        latest = w.repo_api("GET", "releases/latest")["tag_name"]
        if latest != "model-v1":
            raise StoryFailed(f"after the rollback PR gates should compare with model-v1, latest is {latest}")
        return f"staging → {staging}; release {latest} is the latest again (PR gates compare with it)"

    # --- what a user sees -----------------------------------------------------------------------------
    def expect(self, runs: list[Run], file: str, event: str) -> Run:
        matching = [r for r in runs if r.workflow.file == file and r.event == event]
        if not matching:
            seen = ", ".join(f"{r.workflow.file}/{r.event}" for r in runs) or "none"
            raise StoryFailed(f"{file} should have run on {event}; runs: {seen}")
        return matching[-1]

    def state(self) -> dict[str, Any]:
        return dict(self.world.forge.state())

    def tags(self) -> list[str]:
        return sorted(self.world.engine.git("tag", "--list").split())

    def overlay_image(self, env: str) -> str:
        text = self.world.engine.git("show", f"main:deploy/overlays/{env}/kustomization.yaml")
        match = re.search(r"newTag:\s*['\"]?([^\s'\"]+)", text) or re.search(r"digest:\s*(\S+)", text)
        return match.group(1) if match else "(none)"

    def report_comments(self, number: int) -> list[dict[str, Any]]:
        comments = [c for c in self.state()["comments"] if int(c.get("issue_number", 0)) == number]
        return [c for c in comments if "flightdelay PR report" in str(c.get("body", ""))]

    def summary(self) -> dict[str, Any]:
        state = self.state()
        return {
            "workflows": [
                {
                    "file": r.workflow.file,
                    "event": r.event,
                    "run_id": r.id,
                    "conclusion": r.conclusion,
                    "pr": r.payload["pull_request"]["number"] if r.event == "pull_request" else None,
                    "jobs": [{"name": j.name, "result": j.result} for j in r.jobs],
                }
                for r in sorted(self.world.engine.runs, key=lambda r: r.id)
            ],
            "forge": {
                "comments": state["comments"],
                "issues": state["issues"],
                "pulls": state["pulls"],
                "tags": self.tags(),
                "refused_pushes": state["refused_pushes"],
                "images": state.get("images", []),
                "overlays": {env: self.overlay_image(env) for env in ("staging", "production")},
            },
            "steps": [{"title": t, "seconds": round(s, 1), "outcome": o} for t, s, o in self.timings],
            "work": str(self.world.work),
        }

    def write_summary(self, path: Path, *, passed: bool = False) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"passed": passed, **self.summary()}, indent=2, default=str))
