"""A release that must not happen changes nothing; two at once stay consistent."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.lifecycle.release.conftest import cli, env_for, git

pytestmark = pytest.mark.slow


def snapshot(repo: Path, client: MlflowClient) -> dict[str, object]:
    """Everything a release may touch: registry versions and aliases, git refs, files."""
    versions = client.search_model_versions("name='flight-delay'")
    aliases = {} if not versions else client.get_registered_model("flight-delay").aliases
    return {
        "versions": sorted((v.version, tuple(sorted(v.tags.items()))) for v in versions),
        "aliases": dict(aliases),
        "refs": git(repo, "show-ref"),
        "status": git(repo, "status", "--porcelain"),
        "overlays": [p.read_text() for p in sorted((repo / "deploy").rglob("*.yaml"))],
        "cards": sorted(p.name for p in (repo / "models").glob("cards/*")),
    }


def test_model_not_matching_dvc_lock_is_refused(release_repo: Path, registry: str) -> None:
    repo, client = release_repo, MlflowClient(registry)
    cli(repo, registry, "release")
    (repo / "NOTES.txt").write_text("a code change merged after v1\n")  # a new release, not a no-op
    git(repo, "add", "NOTES.txt")
    git(repo, "commit", "-qm", "next merge")
    before = snapshot(repo, client)

    # the bundle's model is not the one dvc.lock records (e.g. retrained or edited after review)
    model = repo / "models/bundle/model.json"
    original = model.read_bytes()
    model.write_bytes(original + b" ")
    refused = cli(repo, registry, "release", check=False)
    assert refused.returncode == 8
    assert "dvc.lock records" in refused.stderr
    assert "dvc pull" in refused.stderr
    assert snapshot(repo, client) == before
    model.write_bytes(original)

    # a failure after registration (the git tag is taken) is undone: version, alias, card, commit
    git(repo, "tag", "model-v2")
    before = snapshot(repo, client)
    clash = cli(repo, registry, "release", check=False)
    assert clash.returncode == 8
    assert "model-v2 already exists" in clash.stderr
    assert snapshot(repo, client) == before


def test_concurrent_releases_get_distinct_versions(release_repo: Path, registry: str) -> None:
    """Two merges released at once from two worktrees of one clone (as two CI runs would)."""
    repo, client = release_repo, MlflowClient(registry)
    other = repo.parent / "other"
    git(repo, "worktree", "add", "-q", "-b", "other", str(other))
    (other / "NOTES.txt").write_text("another merge\n")
    git(other, "add", "NOTES.txt")
    git(other, "commit", "-qm", "another merge")
    newer = git(other, "rev-parse", "HEAD")  # a child of `repo`'s HEAD: the newer merge
    for outputs in ("models", "reports", "data"):  # DVC outputs and data are not in git
        shutil.copytree(repo / outputs, other / outputs, dirs_exist_ok=True)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "flightdelay", "release", "--branch", branch],
            cwd=wt,
            env={**os.environ, **env_for(wt, registry)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for wt, branch in ((repo, "main"), (other, "other"))
    ]
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    assert [r[0] for r in results] == [0, 0], results

    versions = sorted(int(v.version) for v in client.search_model_versions("name='flight-delay'"))
    assert versions == [1, 2]
    aliases = client.get_registered_model("flight-delay").aliases
    # Whichever finished first, `champion` names the newer merge's model (never an older one).
    newest = next(
        v.version for v in client.search_model_versions("name='flight-delay'") if v.tags["git_sha"] == newer
    )
    assert aliases["champion"] == newest
    if newest == "2":  # the older merge released first: it became `previous`
        assert aliases == {"champion": "2", "previous": "1"}
    else:  # the older merge released last: registered and tagged, but it did not take `champion`
        assert aliases == {"champion": "1"}
    for v in ("1", "2"):
        tags = client.get_model_version("flight-delay", v).tags
        assert git(repo, "rev-list", "-n1", f"model-v{v}") == tags["git_sha"]
        assert tags["image"].endswith(f":model-v{v}-{tags['git_sha'][:7]}")
    assert {client.get_model_version("flight-delay", v).tags["git_sha"] for v in ("1", "2")} == {
        git(repo, "rev-parse", "main~1"),
        git(other, "rev-parse", "other~1"),
    }
