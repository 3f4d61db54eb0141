"""Which runs an event starts and how concurrency groups queue them, as GitHub documents it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from rehearsal.engine import Engine, Run
from rehearsal.triggers import Workflow, concurrency, evaluate, glob_match, render, starts
from tests.helpers import REPO_ROOT

WORKFLOWS = REPO_ROOT / ".github" / "workflows"


def wf(name: str) -> Workflow:
    return Workflow.parse(name, (WORKFLOWS / name).read_text())


def push(ref: str = "refs/heads/main") -> dict[str, Any]:
    return {"ref": ref, "before": "a" * 40, "after": "b" * 40}


def test_release_ignores_its_own_commits_but_not_a_merge() -> None:
    release = wf("release.yml")
    assert not starts(release, "push", push(), ["models/cards/model-v1.md", "CHANGELOG.md"])
    assert not starts(release, "push", push(), ["deploy/overlays/staging/kustomization.yaml"])
    assert starts(release, "push", push(), ["params.yaml", "dvc.lock"])
    assert not starts(release, "push", push("refs/heads/tune"), ["params.yaml"])
    assert not starts(release, "push", push("refs/tags/model-v1"), ["params.yaml"])


def test_promote_records_only_production_overlay_pushes() -> None:
    promote = wf("promote.yml")
    assert starts(promote, "push", push(), ["deploy/overlays/production/kustomization.yaml"])
    assert not starts(promote, "push", push(), ["deploy/overlays/staging/kustomization.yaml"])


def test_pull_request_types_and_workflow_run_names() -> None:
    pr = {"action": "opened", "pull_request": {"base": {"ref": "main"}}}
    assert starts(wf("pr.yml"), "pull_request", pr)
    assert not starts(wf("pr.yml"), "pull_request", {**pr, "action": "closed"})
    done = {"action": "completed", "workflow_run": {"name": "pr"}}
    assert starts(wf("pr-comment.yml"), "workflow_run", done)
    assert not starts(wf("pr-comment.yml"), "workflow_run", {**done, "workflow_run": {"name": "ci"}})


def test_glob_semantics() -> None:
    assert glob_match("deploy/**", "deploy/overlays/staging/x.yaml")
    assert glob_match("**/*.md", "README.md")
    assert glob_match("**/*.md", "docs/a/b.md")
    assert not glob_match("**/*.md", "README.mdx")
    assert not glob_match("deploy/*", "deploy/overlays/x.yaml")


def test_expressions_of_concurrency_groups() -> None:
    ctx = {"github": {"event_name": "push", "sha": "abc", "run_id": 7}}
    expr = "github.event_name == 'push' && github.sha || github.run_id"
    assert evaluate(expr, ctx) == "abc"
    assert evaluate(expr, {"github": {**ctx["github"], "event_name": "workflow_dispatch"}}) == 7
    assert render("promote-${{ github.event_name }}-${{ " + expr + " }}", ctx) == "promote-push-abc"
    assert concurrency(wf("release.yml"), ctx) == ("release-abc", False)


class _NoForge:
    pass


def _run(run_id: int, group: str) -> Run:
    run = Run(run_id, wf("release.yml"), "push", push(), "b" * 40, "refs/heads/main", "acme", True)
    run.group = (group, False)
    return run


def test_a_newer_pending_run_cancels_the_older_one_in_its_group(tmp_path: Path) -> None:
    engine = Engine(_NoForge(), tmp_path, Path("act"), {}, {}, {}, say=lambda _: None)
    engine._enqueue(_run(1, "release-main"))
    engine._enqueue(_run(2, "release-main"))
    engine._enqueue(_run(3, "other"))
    assert [r.id for r in engine.queue] == [2, 3]
    assert [(r.id, r.status) for r in engine.runs] == [(1, "cancelled")]


@pytest.mark.parametrize("sha", ["a" * 40, "b" * 40])
def test_per_commit_groups_never_cancel_a_queued_release(sha: str, tmp_path: Path) -> None:
    engine = Engine(_NoForge(), tmp_path, Path("act"), {}, {}, {}, say=lambda _: None)
    for i, commit in enumerate(["1" * 40, "2" * 40, sha]):
        ctx = {"github": {"sha": commit, "event_name": "push", "run_id": i}}
        run = _run(i, "")
        run.group = concurrency(wf("release.yml"), ctx)
        engine._enqueue(run)
    assert len(engine.queue) == 3
    assert engine.runs == []


def test_a_run_waits_while_its_group_is_running(tmp_path: Path) -> None:
    engine = Engine(_NoForge(), tmp_path, Path("act"), {}, {}, {}, say=lambda _: None)
    for run_id, group in ((1, "pr-1"), (2, "ci"), (3, "release-b")):
        engine._enqueue(_run(run_id, group))
    first = engine._next_startable(busy={"pr-1"})
    assert first is not None and first.id == 2
    assert [r.id for r in engine.queue] == [1, 3]
    assert engine._next_startable(busy={"pr-1", "release-b"}) is None


def test_jobs_start_from_a_runner_like_environment() -> None:
    from rehearsal.engine import runner_env

    host = {
        "PATH": "/usr/bin",
        "HOME": "/root",
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_SECRET_ACCESS_KEY": "x",
        "MLFLOW_TRACKING_URI": "http://u:p@h",
        "GH_TOKEN": "t",
        "GITHUB_TOKEN": "t",
    }
    assert runner_env(host, Path("/w/runs/7")) == {
        "PATH": "/usr/bin",
        "HOME": "/root",
        "GIT_CEILING_DIRECTORIES": "/w/runs/7",
    }


def test_a_step_outside_the_checkout_finds_no_repository(tmp_path: Path) -> None:
    """As on a runner: the rehearsal's run folders lie inside this project's repository, but a step
    run in the job's temp folder (pr-comment.yml's CML) must not read that repository's remote."""
    from rehearsal.engine import runner_env

    subprocess.run(["git", "init", "--quiet", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "remote", "add", "origin", "/elsewhere"], check=True)
    run_dir = tmp_path / ".rehearsal" / "runs" / "1003"
    temp = run_dir / "act" / "tmp" / "safe"
    temp.mkdir(parents=True)
    probe = ["git", "config", "--get", "remote.origin.url"]
    assert subprocess.run(probe, cwd=temp, capture_output=True, check=False).returncode == 0  # found above
    env = runner_env({"PATH": os.environ["PATH"], "HOME": str(tmp_path)}, run_dir)
    proc = subprocess.run(probe, cwd=temp, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode != 0, proc.stdout


def test_a_scheduled_run_reads_no_repository_from_its_event(tmp_path: Path) -> None:
    """GitHub's `schedule` event carries no repository object; act invents one (default branch from
    `--defaultbranch`) unless the event file says null, which `act_event` writes."""
    from rehearsal.engine import act_event
    from rehearsal.world import _bin

    repo = tmp_path / "repo"
    workflow = repo / ".github" / "workflows" / "tick.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(
        "on:\n  schedule: [{cron: '0 6 * * 1'}]\njobs:\n  j:\n    runs-on: ubuntu-24.04\n    steps:\n"
        '      - run: echo "default-branch=[${{ github.event.repository.default_branch }}]"\n'
    )
    subprocess.run(["git", "init", "--quiet", str(repo)], check=True)

    def seen(payload: dict[str, Any]) -> str:
        event = tmp_path / "event.json"
        event.write_text(json.dumps(payload))
        cmd = [
            str(_bin("act")), "schedule", "-W", str(workflow), "-C", str(repo), "-e", str(event),
            "-P", "ubuntu-24.04=-self-hosted", "--defaultbranch", "main",
            "--action-cache-path", str(tmp_path / "act"),
        ]  # fmt: skip
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        return next(
            line.split("default-branch=")[1] for line in out.splitlines() if "| default-branch=" in line
        )

    payload = {"schedule": "0 6 * * 1"}
    assert seen(payload) == "[main]"  # act's own filling-in: why act_event exists
    assert seen(act_event(payload)) == "[]"
