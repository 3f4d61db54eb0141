"""The overlay's managed image block is rewritten in place; everything else is kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from flightdelay.core.errors import ReleaseError
from flightdelay.lifecycle.release import card, overlay
from tests.lifecycle.release.conftest import OVERLAY

REF = overlay.ImageRef("ghcr.io/acme/fd", "model-v3-1a2b3c4")
DIGEST = "sha256:" + "0f" * 32


@pytest.fixture
def staging(tmp_path: Path) -> Path:
    (tmp_path / "kustomization.yaml").write_text(OVERLAY.format(env="staging"))
    return tmp_path


def test_bump_rewrites_only_the_image_lines(staging: Path) -> None:
    before = (staging / "kustomization.yaml").read_text()
    assert overlay.write(staging, REF)
    after = (staging / "kustomization.yaml").read_text()
    assert overlay.read(staging) == REF
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b]
    assert changed == [
        ("    newName: ghcr.io/example-org/flightdelay", "    newName: ghcr.io/acme/fd"),
        ("    newTag: model-v0-bootstrap", "    newTag: model-v3-1a2b3c4"),
    ]
    assert not overlay.write(staging, REF)  # idempotent: no write when already there


def test_digest_line_added_and_removed(staging: Path) -> None:
    pinned = overlay.ImageRef(REF.name, REF.tag, DIGEST)
    overlay.write(staging, pinned)
    assert f"    digest: {DIGEST}\n" in (staging / "kustomization.yaml").read_text()
    assert overlay.read(staging) == pinned
    assert str(pinned).endswith(f":model-v3-1a2b3c4@{DIGEST}")
    overlay.write(staging, REF)
    assert "digest:" not in (staging / "kustomization.yaml").read_text()


def test_version_and_reference_parsing() -> None:
    assert REF.model_version == 3
    assert overlay.ImageRef("x", "model-v0-bootstrap").model_version is None
    assert overlay.ImageRef.parse(f"localhost:5000/fd:model-v3-1a2b3c4@{DIGEST}") == overlay.ImageRef(
        "localhost:5000/fd", "model-v3-1a2b3c4", DIGEST
    )
    assert overlay.image_tag(12, "0" * 40) == "model-v12-0000000"
    with pytest.raises(ReleaseError, match="not an image digest"):
        overlay.check_digest("sha256:xyz")


def test_missing_block_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources:\n  - ../../base\n")
    with pytest.raises(ReleaseError, match="restore the managed images block"):
        overlay.read(tmp_path)


def test_changelog_keeps_older_entries_below_the_newest() -> None:
    log = card.prepend_changelog("", "## model-v1 — x\n")
    log = card.prepend_changelog(log, "## model-v2 — y\n")
    assert log.startswith(card.CHANGELOG_HEADER.rstrip("\n"))
    assert log.index("model-v2") < log.index("model-v1")
