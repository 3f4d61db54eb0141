"""intake.yml, run for real (act, the local forge, an S3 landing area): a complete new month
becomes exactly one pull request, opened by the App (so pr.yml runs on it), an incomplete month
waits, a malformed file becomes one issue, and a second run opens neither again.

One complete month keeps this to one `dvc repro` inside the job; several complete months give one
pull request each, stacked in order (`tests/lifecycle/test_intake_plan.py`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from rehearsal.engine import Run
from rehearsal.triggers import Workflow, starts
from rehearsal.world import BUCKET, World
from tests import public_layouts
from tests.helpers import REPO_ROOT

pytestmark = pytest.mark.slow
LANDING = f"s3://{BUCKET}/landing/"
NEW = "2013-07"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    work = tmp_path_factory.mktemp("intake")
    with World(
        work / "world",
        fast=True,
        registry=False,
        variables={"INTAKE_LANDING_URL": LANDING},
        say=lambda _: None,
    ) as w:
        client = w.s3.client()
        folder = public_layouts.write_month(NEW, work / "export" / NEW, work / "scratch")
        for f in sorted(folder.iterdir()):
            client.upload_file(str(f), BUCKET, f"landing/{NEW}/{f.name}")
        ontime = (folder / "ontime.csv").read_text().split("\n", 1)[0] + "\n"
        # August: flights only, not complete yet. September: a weather file without wind speed.
        client.put_object(Bucket=BUCKET, Key="landing/2013-08/ontime.csv", Body=ontime.encode())
        client.put_object(Bucket=BUCKET, Key="landing/2013-09/ontime.csv", Body=ontime.encode())
        broken = "station,valid,tmpf,dwpf,relh,drct,p01i,mslp,vsby,gust\n"
        broken += "JFK,2013-09-01 04:51,60,50,70,10,0,1012,10,M\n"
        client.put_object(Bucket=BUCKET, Key="landing/2013-09/asos.csv", Body=broken.encode())
        w.seed(reproduce=False)
        yield w


def run_intake(world: World) -> tuple[Run, list[dict[str, Any]]]:
    """A maintainer's "Run workflow" on intake.yml; only that run executes (the pull requests it
    opens would start pr.yml: their events are returned, not run)."""
    world.dispatch("intake.yml", {})
    event = world.forge.next_event(timeout=10)
    assert event is not None and event["event"] == "workflow_dispatch"
    world.engine.dispatch(event)
    run = world.engine.queue.popleft()
    assert run.workflow.file == "intake.yml" and not world.engine.queue
    world.engine.execute(run)
    assert run.conclusion == "success", world.engine.explain(run)
    events = []
    while (e := world.forge.next_event(timeout=0)) is not None:
        events.append(e)
    return run, events


def data_md5(stage: dict[str, Any]) -> str:
    return str(next(d["md5"] for d in stage["deps"] if d["path"] == "data/raw"))


def intake_issues(world: World) -> list[dict[str, Any]]:
    return [i for i in world.repo_api("GET", "issues?state=all&per_page=100") if "pull_request" not in i]


def test_one_pull_request_per_new_month_one_issue_per_malformed_file(world: World) -> None:
    _, events = run_intake(world)

    pulls = world.pulls("all")
    assert [(p["head"]["ref"], p["base"]["ref"], p["title"]) for p in pulls] == [
        (f"intake/{NEW}", "main", f"Data intake: {NEW}")
    ]
    # Opened with the App's token: GitHub starts pr.yml for it (a GITHUB_TOKEN PR starts nothing).
    pr_yml = Workflow.parse("pr.yml", (REPO_ROOT / ".github/workflows/pr.yml").read_text())
    opened = [e for e in events if e["event"] == "pull_request" and e["payload"]["action"] == "opened"]
    assert [e["payload"]["pull_request"]["head"]["ref"] for e in opened] == [f"intake/{NEW}"]
    assert starts(pr_yml, "pull_request", opened[0]["payload"])

    # The branch adds the month, moves the window and commits the reproduced pipeline's lock.
    branch = f"refs/heads/intake/{NEW}"
    params = yaml.safe_load(world.engine.git("show", f"{branch}:params.yaml"))
    assert params["data"]["window"] == {"start": "2013-05", "end": NEW}
    assert f"data/raw/{NEW}.dvc" in world.engine.git("ls-tree", "-r", "--name-only", branch)
    lock = yaml.safe_load(world.engine.git("show", f"{branch}:dvc.lock"))["stages"]["prepare"]
    main = yaml.safe_load(world.engine.git("show", "refs/heads/main:dvc.lock"))["stages"]["prepare"]
    assert lock["params"]["params.yaml"]["data.window"]["end"] == NEW
    assert data_md5(lock) != data_md5(main)
    message = world.engine.git("log", "--format=%s", f"refs/heads/main..{branch}").splitlines()
    assert [m.split(",")[0] for m in message] == [f"intake: add {NEW} from the landing area"]

    issues = intake_issues(world)
    assert [(i["title"], [lb["name"] for lb in i["labels"]]) for i in issues] == [
        ("Data intake: malformed file 2013-09/asos.csv", ["data-intake"])
    ]
    assert "lacks column(s) sknt" in issues[0]["body"]

    # The next run (a schedule tick, a second click) finds nothing new: no second PR or issue.
    again, events = run_intake(world)
    assert len(world.pulls("all")) == 1
    assert len(intake_issues(world)) == 1
    assert not [e for e in events if e["event"] == "pull_request"]
    assert {j.name: j.result for j in again.jobs} == {
        "data intake": "success",
        "keep the schedule alive": "skipped",
    }
