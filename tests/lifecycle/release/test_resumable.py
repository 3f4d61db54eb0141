"""A release is a transaction: stopped at any step (killed, interrupted, one registry error) it is
reported by `verify` and finished by the next run; it runs only from the release branch's tip; and
a registry that fails gives one clear error, never a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.helpers import Result
from tests.lifecycle.release.conftest import Server, cli, env_for, git
from tests.lifecycle.release.test_champion_sources import answering

pytestmark = pytest.mark.slow

STEPS = ("register", "tags", "card", "git-tag", "bundle", "champion", "previous", "push", "released")
# One way of stopping per step, so that every kind is exercised somewhere.
HOW = {
    "register": "kill",
    "tags": "error",
    "card": "term",
    "git-tag": "kill",
    "bundle": "int",
    "champion": "kill",
    "previous": "error",
    "push": "kill",
    "released": "kill",
}
EXIT = {"kill": -9, "term": 143, "int": 130, "error": 7}


def release_process(repo: Path, uri: str, *args: str, fault: str = "") -> subprocess.CompletedProcess[str]:
    return flightdelay_process(repo, uri, "release", *args, fault=fault)


def flightdelay_process(
    repo: Path, uri: str, *args: str, fault: str = ""
) -> subprocess.CompletedProcess[str]:
    """`flightdelay <args>` in its own process (a fault may kill it)."""
    env = {**os.environ, **env_for(repo, uri), "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
    env.pop("FLIGHTDELAY_FAULT", None)
    if fault:
        env["FLIGHTDELAY_FAULT"] = fault
    return subprocess.run(
        [sys.executable, "-m", "flightdelay", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def stop_release(repo: Path, uri: str, step: str, how: str) -> Result:
    """`flightdelay release --push` stopped at `step`: by a signal or a kill in its own process; by
    an error raised by the code itself in this process (nothing about it needs a process)."""
    fault = f"release:{step}:{how}"
    if how == "error":
        return cli(repo, uri, "release", "--push", check=False, env={"FLIGHTDELAY_FAULT": fault})
    proc = release_process(repo, uri, "--push", fault=fault)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def deploy_champion(repo: Path, uri: str) -> None:
    for env in ("staging", "production"):
        cli(repo, uri, "release", "bump", "--env", env)


def in_flight_is_not_a_mismatch(repo: Path, uri: str, client: MlflowClient, step: str) -> None:
    """v1's release run checks the state while v2's release is under way (release.yml's staging
    job, `verify --in-flight`): v2 is in flight, not half-released, until it is stale; once v2 has
    taken `champion`, v1's run sees itself superseded (and leaves the check to v2's run)."""
    if cli(repo, uri, "release", "champion").stdout.strip() != "1":
        assert step in ("champion", "previous", "push", "released"), step
        return
    flying = cli(repo, uri, "release", "verify", "--in-flight", check=False)
    assert flying.returncode == 0, (step, flying.stdout)
    assert "v2 is being released by another run" in flying.stdout, (step, flying.stdout)
    if step == "register":  # the same, with v2's progress older than the window: half-released
        tags = client.get_model_version("flight-delay", "2").tags
        client.set_model_version_tag("flight-delay", "2", "release_updated_at", "2020-01-01T00:00:00.000Z")
        client.set_model_version_tag("flight-delay", "2", "released_at", "2020-01-01T00:00:00.000Z")
        stale = cli(repo, uri, "release", "verify", "--in-flight", check=False)
        assert stale.returncode == 8 and "half-released" in stale.stdout, stale.stdout
        for key in ("release_updated_at", "released_at"):
            if key in tags:
                client.set_model_version_tag("flight-delay", "2", key, tags[key])
            else:
                client.delete_model_version_tag("flight-delay", "2", key)


def test_every_step_of_a_release_is_stopped_somewhere() -> None:
    from flightdelay.lifecycle.release import transaction

    assert transaction.STEPS == STEPS
    assert set(HOW) == set(STEPS)


def test_a_release_stopped_at_every_step_in_turn_is_reported_and_finished(
    release_repo: Path, registry: str, tmp_path: Path
) -> None:
    """One release of v2, stopped once at each step in order: every run resumes what the previous
    one left (redoing the unrecorded step) and is stopped at the next; the last run finishes it.
    The state after a stop at a step does not depend on how many runs came before, so one chain
    covers each step's stop and resume at the cost of a single release."""
    repo, client = release_repo, MlflowClient(registry)
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(origin))
    git(repo, "remote", "add", "origin", str(origin))
    cli(repo, registry, "release", "--push")  # v1, the champion the next release replaces
    deploy_champion(repo, registry)
    (repo / "CONTRIBUTING.md").write_text("a code change merged after v1\n")
    git(repo, "add", "CONTRIBUTING.md")
    git(repo, "commit", "-qm", "next merge")
    git(repo, "push", "-q", "origin", "HEAD:main")
    sha2 = git(repo, "rev-parse", "HEAD")

    for n, step in enumerate(STEPS):
        how = HOW[step]
        stopped = stop_release(repo, registry, step, how)
        assert stopped.returncode == EXIT[how], (step, stopped.stderr)
        assert "Traceback" not in stopped.stderr, (step, stopped.stderr)
        if n:  # every run after the first finds the half-done release
            assert "resuming it" in stopped.stderr, (step, stopped.stderr)
        if how != "kill":  # a handled stop says what happened and what to do
            assert "release of v2" in stopped.stderr, (step, stopped.stderr)
            assert "re-run `flightdelay release`" in stopped.stderr, (step, stopped.stderr)
        v2 = client.get_model_version("flight-delay", "2").tags
        if step != "released":
            assert v2["status"] == "releasing", step  # never "released" before every step is done
            bad = cli(repo, registry, "release", "verify", check=False)
            assert bad.returncode == 8, (step, bad.stdout)
            assert "MISMATCH registry: v2" in bad.stdout, (step, bad.stdout)
            assert "half-released" in bad.stdout, (step, bad.stdout)
            in_flight_is_not_a_mismatch(repo, registry, client, step)

    rerun = cli(repo, registry, "release", "--push", check=False)
    assert rerun.returncode == 0, rerun.stderr
    assert "nothing to do" in rerun.stderr  # stopped after its last step: complete

    # the end state is one complete release of v2
    assert sorted(v.version for v in client.search_model_versions("name='flight-delay'")) == ["1", "2"]
    v2 = client.get_model_version("flight-delay", "2").tags
    assert v2["status"] == "released"
    assert client.get_registered_model("flight-delay").aliases == {"champion": "2", "previous": "1"}
    assert v2["champion_at"].split() == [v2["released_at"]]
    assert client.get_model_version("flight-delay", "1").tags["superseded_at"].split() == [v2["released_at"]]
    assert git(repo, "rev-list", "-n1", "model-v2") == sha2
    assert git(origin, "rev-list", "-n1", "model-v2") == sha2
    assert git(repo, "rev-parse", "HEAD") == git(origin, "rev-parse", "main")
    assert "`model-v2`" in (repo / "models/cards/model-v2.md").read_text()
    assert (repo / "CHANGELOG.md").read_text().count("## model-v2 ") == 1
    assert '"version": "2"' in (repo / "build/model/release.json").read_text()
    deploy_champion(repo, registry)
    cli(repo, registry, "release", "verify")


def test_release_runs_only_from_the_tip_of_the_release_branch(
    release_repo: Path, registry: str, tmp_path: Path
) -> None:
    repo, client = release_repo, MlflowClient(registry)
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(origin))
    git(repo, "remote", "add", "origin", str(origin))
    main_before = git(origin, "rev-parse", "main")
    git(repo, "switch", "-q", "-c", "feature")
    (repo / "NOTES.txt").write_text("an unreviewed change\n")
    git(repo, "add", "NOTES.txt")
    git(repo, "commit", "-qm", "unreviewed")

    refused = cli(repo, registry, "release", "--push", check=False)
    assert refused.returncode == 8
    assert "refusing to release from branch `feature`" in refused.stderr
    assert "--branch" in refused.stderr
    assert git(origin, "rev-parse", "main") == main_before  # nothing pushed
    assert client.search_model_versions("name='flight-delay'") == []  # nothing registered

    # the release branch is a setting: a fork that releases from `feature` names it
    cli(repo, registry, "release", "--branch", "feature")
    assert client.get_registered_model("flight-delay").aliases == {"champion": "1"}


def test_registry_errors_give_one_clear_error(
    release_repo: Path, registry: str, mlflow_server: Server, tmp_path: Path
) -> None:
    repo = release_repo
    with answering(401) as unauthorised, answering(500) as broken:
        for uri, reason in ((unauthorised, "401"), (broken, "server errors (5xx)")):
            # release in this process; train (MLflow's fluent API: a run left active) in its own
            for args in (["release"], ["train"]):
                failed = (
                    cli(repo, uri, *args, check=False, env={"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"})
                    if args == ["release"]
                    else flightdelay_process(repo, uri, *args)
                )
                assert failed.returncode == 7, (args, failed.stdout, failed.stderr)
                assert "Traceback" not in failed.stderr, (args, failed.stderr)
                assert reason in failed.stderr, (args, failed.stderr)
                assert "MLflow registry" in failed.stderr
                assert "→" in failed.stderr  # what to do next
    git(repo, "checkout", "-q", "--", ".")  # train rewrote the (identical) model; dvc.lock unchanged

    # a released champion whose artefacts were deleted on the server: the gate names it
    cli(repo, registry, "release")
    client = MlflowClient(registry)
    run_id = client.get_model_version("flight-delay", "1").tags["bundle_run_id"]
    exp_id = client.get_run(run_id).info.experiment_id
    shutil.rmtree(mlflow_server.log.parent / "artifacts" / exp_id / run_id)
    gate = cli(repo, registry, "gate", "--base", "HEAD", check=False)
    assert gate.returncode == 7, (gate.stdout, gate.stderr)
    assert "Traceback" not in gate.stderr
    assert "artefacts are missing" in gate.stderr
    assert "--champion-bundle" in gate.stderr
