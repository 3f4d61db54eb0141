"""Release → bump → verify → second release → rollback → verify, against a real MLflow server
and real git repositories (a bare `origin` stands in for GitHub)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from flightdelay.adapters import registry as registry_mod
from flightdelay.adapters.dvcio import lock_outs
from flightdelay.core import bundle
from tests.lifecycle.release.conftest import IMAGE_REPO, cli, git

pytestmark = pytest.mark.slow
STAGING = Path("deploy/overlays/staging/kustomization.yaml")
PRODUCTION = Path("deploy/overlays/production/kustomization.yaml")


def pinned(repo: Path, overlay: Path) -> str:
    m = re.search(r"newTag: (\S+)(?:\n\s+digest: (\S+))?", (repo / overlay).read_text())
    assert m, f"{overlay} lost its managed block"
    return m.group(1) + (f"@{m.group(2)}" if m.group(2) else "")


def test_release_bump_verify_rollback(release_repo: Path, registry: str, tmp_path: Path) -> None:
    repo, client = release_repo, MlflowClient(registry)
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(origin))
    git(repo, "remote", "add", "origin", str(origin))
    sha1 = git(repo, "rev-parse", "HEAD")
    model_md5 = lock_outs(repo / "dvc.lock")["models/model.json"]

    # 1. release v1 from PR 7, pushed with its tag
    out = cli(repo, registry, "release", "--pr", "7", "--push").stdout
    assert "released flight-delay v1 as model-v1" in out
    v1 = client.get_model_version("flight-delay", "1")
    assert v1.tags["git_sha"] == sha1
    assert v1.tags["pr"] == "7"
    assert v1.tags["model_md5"] == model_md5
    assert v1.tags["image"] == f"{IMAGE_REPO}:model-v1-{sha1[:7]}"
    assert float(v1.tags["metric.roc_auc"]) > 0.5
    assert client.get_model_version_by_alias("flight-delay", "champion").version == "1"
    assert git(repo, "cat-file", "-t", "model-v1") == "tag"  # annotated
    assert git(repo, "rev-list", "-n1", "model-v1") == sha1
    assert git(origin, "rev-list", "-n1", "model-v1") == sha1
    card = (repo / "models/cards/model-v1.md").read_text()
    for section in ("## Intended use", "## Data", "## Metrics", "## Slices", "## Limitations"):
        assert section in card
    assert "model-v1" in (repo / "CHANGELOG.md").read_text()
    rerun = cli(repo, registry, "release")  # HEAD is now the card commit: same code, same model
    assert "nothing to do" in rerun.stderr
    assert len(client.search_model_versions("name='flight-delay'")) == 1
    champion = bundle.load(registry_mod.alias_bundle("champion", tmp_path / "champion"))
    assert champion.version == "1"  # what the gate re-scores: the bundle with its release.json
    baked = json.loads((repo / "build/model/release.json").read_text())
    assert baked["version"] == "1"
    assert baked["image"] == v1.tags["image"]

    # verify names the overlay that lags, and how to fix it
    bad = cli(repo, registry, "release", "verify", check=False)
    assert bad.returncode == 8
    assert "MISMATCH staging" in bad.stdout
    assert "bump --env staging" in bad.stdout

    # 2. bump staging while another merge changed the same lines on origin: rebase conflicts,
    #    the bump is re-applied on the new tip, nothing is lost
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(origin), str(other))
    (other / STAGING).write_text(
        (other / STAGING).read_text().replace("newTag: model-v0-bootstrap", "newTag: model-v0-hotfix")
    )
    (other / "NOTES.md").write_text("a concurrent merge\n")
    git(other, "add", "-A")
    git(other, "-c", "user.name=o", "-c", "user.email=o@example.com", "commit", "-qm", "hotfix")
    git(other, "push", "-q", "origin", "HEAD:main")
    cli(repo, registry, "release", "bump", "--env", "staging", "--push")
    git(repo, "fetch", "-q", "origin")
    assert git(repo, "rev-parse", "HEAD") == git(repo, "rev-parse", "origin/main")
    assert (repo / "NOTES.md").is_file()  # the other merge survived
    assert pinned(repo, STAGING) == f"model-v1-{sha1[:7]}"
    assert "hand-written settings above the managed block" in (repo / STAGING).read_text()
    head = git(repo, "rev-parse", "HEAD")
    again = cli(repo, registry, "release", "bump", "--env", "staging").stdout
    assert "nothing to commit" in again
    assert git(repo, "rev-parse", "HEAD") == head
    cli(repo, registry, "release", "bump", "--env", "production")
    cli(repo, registry, "release", "verify")

    # 3. a second merge (code only) releases v2; staging gets it with the build's digest
    (repo / "CONTRIBUTING.md").write_text("release notes\n")
    git(repo, "add", "CONTRIBUTING.md")
    git(repo, "commit", "-qm", "docs")
    sha2 = git(repo, "rev-parse", "HEAD")
    cli(repo, registry, "release")
    digest = "sha256:" + "ab" * 32
    cli(repo, registry, "release", "bump", "--env", "staging", "--digest", digest)
    cli(repo, registry, "release", "bump", "--env", "production")
    assert pinned(repo, STAGING) == f"model-v2-{sha2[:7]}@{digest}"
    assert client.get_model_version_by_alias("flight-delay", "previous").version == "1"
    cli(repo, registry, "release", "verify")

    # a hand edit of an overlay is caught
    text = (repo / STAGING).read_text()
    (repo / STAGING).write_text(text.replace(f"model-v2-{sha2[:7]}", f"model-v1-{sha1[:7]}"))
    assert cli(repo, registry, "release", "verify", check=False).returncode == 8
    (repo / STAGING).write_text(text)

    # 4. rollback: a new commit, history kept, champion back to v1, verify passes
    bump_commit = git(repo, "rev-parse", "HEAD")
    out = cli(repo, registry, "release", "rollback").stdout
    assert "model-v2 → model-v1" in out
    assert git(repo, "rev-parse", "HEAD~1") == bump_commit
    assert pinned(repo, STAGING) == pinned(repo, PRODUCTION) == f"model-v1-{sha1[:7]}"
    assert client.get_model_version_by_alias("flight-delay", "champion").version == "1"
    v2 = client.get_model_version("flight-delay", "2").tags
    assert v2["status"] == "rolled_back"
    assert v2["rolled_back_at"]
    cli(repo, registry, "release", "verify")
    assert "nothing to roll back" in cli(repo, registry, "release", "rollback", "--to", "1").stdout

    # 5. which version ran in production when: from version tags alone
    history = cli(repo, registry, "release", "history", "--env", "production").stdout.splitlines()
    deployed = [line.split()[-1] for line in history if " deployed " in line]
    assert deployed == ["v1", "v2", "v1"]
    v2_at = v2["deployed_production_at"].split()[0]
    assert (
        cli(repo, registry, "release", "history", "--env", "production", "--at", v2_at).stdout.splitlines()[0]
        == "2"
    )
