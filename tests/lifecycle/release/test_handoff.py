"""The model a pull request built is the model that is released: a merged dvc.lock that its
own inputs no longer reproduce is refused, `retrain prepare` commits the retrained lock, and
outputs the DVC remote lacks are reproduced and checked before anything is registered."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from flightdelay.adapters.dvcio import lock_outs
from flightdelay.adapters.hashing import file_md5
from tests.helpers import edit_params, repo_env, run
from tests.lifecycle.release.conftest import cli, git

pytestmark = pytest.mark.slow
MODEL = "models/model.json"


def versions(client: MlflowClient) -> list[str]:
    return sorted(v.version for v in client.search_model_versions("name='flight-delay'"))


def champion(client: MlflowClient) -> str:
    return str(client.get_model_version_by_alias("flight-delay", "champion").version)


def test_release_after_a_retraining_merge_ships_the_retrained_model(
    retrained_release_repo: Path, registry: str
) -> None:
    """The branch retrain/2013-03 is the one `retrain prepare` commits (the session's
    `retrained_repo`; tests/lifecycle/drift/test_cli_and_retrain.py checks what it commits)."""
    repo, client = retrained_release_repo, MlflowClient(registry)
    cli(repo, registry, "release")
    v1_md5 = client.get_model_version("flight-delay", "1").tags["model_md5"]
    start = git(repo, "rev-parse", "HEAD")

    # A retraining branch as `retrain prepare` used to make it: the new month's .dvc file and the
    # moved window committed, dvc.lock (and so the model it names) left as it was.
    git(repo, "switch", "-q", "-c", "retrain-old")
    cli(repo, registry, "data", "add", "2013-03")
    edit_params(repo, {"data": {"window": {"start": "2013-01", "end": "2013-03"}}})
    git(repo, "add", "params.yaml", "data/raw/2013-03.dvc", "data/raw/.gitignore")
    git(repo, "commit", "-qm", "retrain: add 2013-03")
    git(repo, "switch", "-q", "main")
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge retrain-old", "retrain-old")

    refused = cli(repo, registry, "release", check=False)
    assert refused.returncode == 8, refused.stderr  # before the fix: v2 with the OLD model
    assert "stage prepare: param params.yaml:data.window modified" in refused.stderr
    assert "stage prepare: dep data/raw modified" in refused.stderr
    assert "make repro" in refused.stderr
    assert versions(client) == ["1"]
    assert champion(client) == "1"

    # The same month through today's `retrain prepare`, which reproduced and committed dvc.lock.
    git(repo, "reset", "-q", "--hard", start)
    git(repo, "branch", "-q", "-D", "retrain-old")
    shutil.rmtree(repo / "data/raw/2013-03")
    git(repo, "switch", "-q", "retrain/2013-03")
    run(["dvc", "checkout", "--quiet"], repo, repo_env(repo))  # its outputs, as `retrain prepare` left them
    cli(repo, registry, "lock", "check")  # what the PR check runs after its own `dvc repro`
    retrained_md5 = lock_outs(repo / "dvc.lock")[MODEL]
    assert retrained_md5 != v1_md5

    git(repo, "switch", "-q", "main")
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge retrain/2013-03", "retrain/2013-03")
    out = cli(repo, registry, "release").stdout
    assert "released flight-delay v2" in out
    assert client.get_model_version("flight-delay", "2").tags["model_md5"] == retrained_md5
    assert champion(client) == "2"


def test_release_reproduces_outputs_the_dvc_remote_lacks_and_refuses_a_lock_it_cannot_reproduce(
    release_repo: Path, registry: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh clone (the release job) whose DVC remote never received the PR's outputs: its
    `dvc repro` from scratch gives the committed model hash and metrics (training is deterministic;
    the pipeline's one reproducibility check)."""
    client = MlflowClient(registry)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(release_repo), str(clone))
    remote = tmp_path / "dvc-remote"
    remote.mkdir()
    monkeypatch.setenv("DVC_REMOTE_URL", str(remote))
    model_md5 = lock_outs(clone / "dvc.lock")[MODEL]
    assert not (clone / MODEL).exists()

    result = cli(clone, registry, "release")
    assert "reproducing" in result.stderr
    assert "reproduced outputs match dvc.lock" in result.stderr
    assert versions(client) == ["1"]  # before the fix: refused, models/model.json is missing
    assert client.get_model_version("flight-delay", "1").tags["model_md5"] == model_md5
    assert (remote / "files/md5" / model_md5[:2] / model_md5[2:]).is_file()  # pushed for later jobs
    assert file_md5(clone / MODEL) == model_md5
    metrics = "reports/metrics.json"  # git-tracked: rewritten by the repro, byte for byte
    assert (clone / metrics).read_text() == (release_repo / metrics).read_text()
    assert git(clone, "status", "--porcelain", "--untracked-files=no") == ""

    # A lock naming a model this commit does not build: reproduced, compared, refused.
    git(clone, "switch", "-q", "-c", "tampered")
    lock = clone / "dvc.lock"
    lock.write_text(lock.read_text().replace(model_md5, "deadbeef" * 4))
    (clone / "NOTES.md").write_text("not a release-managed file\n")
    git(clone, "add", "dvc.lock", "NOTES.md")
    git(clone, "commit", "-qm", "a lock that was edited by hand")
    (clone / MODEL).unlink()
    shutil.rmtree(clone / "models/bundle")
    refused = cli(clone, registry, "release", "--branch", "tampered", check=False)
    assert refused.returncode == 8, refused.stderr
    assert "reproduced outputs differ" in refused.stderr
    assert f"stage train: out {MODEL}: committed deadbeefdead, reproduced {model_md5[:12]}" in refused.stderr
    assert versions(client) == ["1"]
    assert git(clone, "status", "--porcelain", "--untracked-files=no") == ""
