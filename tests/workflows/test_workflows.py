"""The pull-request workflows exist, and the posting workflow's sanitiser keeps only its own PNGs.

zizmor, the workflow schema and the hardening policy (pins, permissions, timeouts, credentials,
injection) run over every workflow in tests/policy/."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

from tests.helpers import REPO_ROOT

WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))


def test_there_are_workflows_to_check() -> None:
    names = {w.name for w in WORKFLOWS}
    assert {"pr.yml", "pr-comment.yml"} <= names


def test_the_posting_workflow_keeps_only_its_own_pngs(tmp_path: Path) -> None:
    """The trusted job's sanitiser: links to anything but a checked PNG of the artifact vanish."""
    doc = yaml.safe_load((REPO_ROOT / ".github/workflows/pr-comment.yml").read_text())
    script = next(s["run"] for s in doc["jobs"]["comment"]["steps"] if s.get("id") == "pr")
    python = script.split("<<'PY'\n", 1)[1].split("\nPY\n", 1)[0]
    artifact, safe = tmp_path / "artifact", tmp_path / "safe"
    artifact.mkdir()
    safe.mkdir()
    (artifact / "roc.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 16)
    (artifact / "fake.png").write_text("not a png")
    (artifact / "report.md").write_text(
        "![ROC](roc.png) ![f](fake.png) ![x](/etc/passwd) ![y](../secret.png) ![z](https://e.x/a.png)"
    )

    subprocess.run(
        ["python3", "-c", python],
        check=True,
        env={**os.environ, "ARTIFACT": str(artifact), "SAFE": str(safe)},
    )

    assert sorted(p.name for p in safe.iterdir()) == ["report.md", "roc.png"]
    assert (safe / "report.md").read_text() == "![ROC](roc.png) _f_ _x_ _y_ _z_"
