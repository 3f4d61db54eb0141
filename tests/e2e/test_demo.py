"""End to end: `scripts/demo.py --fast` (the script behind `make demo`, on 2 months and a small
model) runs the whole lifecycle; each step's artefacts are checked."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("demo") / "work"
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts/demo.py"), "--fast", "--work", str(work)],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    assert "[8/8] summary" in proc.stdout
    return work


def test_pr_reports_have_tables_and_images(demo: Path) -> None:
    for label in ("tune", "retrain"):
        report = demo / f"pr-report-{label}" / "report.md"
        text = report.read_text()
        assert "|---" in text, "no markdown table"
        images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
        assert images, "no plots"
        for img in images:
            assert (report.parent / img).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", img
    assert "2013-07" in (demo / "pr-report-retrain/report.md").read_text()


def test_registry_has_two_versions_and_the_aliases(demo: Path) -> None:
    db = sqlite3.connect(demo / "mlflow.db")
    versions = sorted(
        int(v) for (v,) in db.execute("select version from model_versions where name = 'flight-delay'")
    )
    aliases = dict(db.execute("select alias, version from registered_model_aliases"))
    assert versions == [1, 2]
    assert aliases == {"champion": 2, "previous": 1}


def test_git_tags_cards_and_the_staging_overlay_name_release_2(demo: Path) -> None:
    repo = demo / "repo"
    tags = subprocess.run(["git", "tag"], cwd=repo, capture_output=True, text=True, check=True).stdout.split()
    assert {"model-v1", "model-v2"} <= set(tags)
    assert (repo / "models/cards/model-v2.md").exists()
    overlay = (repo / "deploy/overlays/staging/kustomization.yaml").read_text()
    assert re.search(r"newTag: model-v2-[0-9a-f]{7}", overlay)
    rendered = (demo / "rendered/staging-v2.yaml").read_text()
    assert re.search(r"image: \S+:model-v2-[0-9a-f]{7}", rendered)


def test_prediction_log_and_drift_outputs(demo: Path) -> None:
    lines = (demo / "predictions.jsonl").read_text().splitlines()
    assert len(lines) >= 8000
    first = json.loads(lines[0])
    assert {"ts", "request_id", "model_version", "score", "decision", "features"} <= set(first)
    summary = json.loads((demo / "drift/summary.json").read_text())
    assert summary["status"] == "drift"
    assert "temp" in summary["drifted_features"]
    assert (demo / "drift/report.html").stat().st_size > 10_000
    assert "drift" in (demo / "drift/issue.md").read_text().lower()


def test_v2_is_served_after_the_reload(demo: Path) -> None:
    steps = json.loads((demo / "summary.json").read_text())["timings"]
    retrain = next(s for s in steps if s["step"].startswith("7 "))
    assert "/v1/model shows version 2" in retrain["result"]
    assert ", 0 failed" in retrain["result"]
    assert not _gunicorn_left(demo), "the demo left its gunicorn running"


def _gunicorn_left(demo: Path) -> bool:
    """True if a gunicorn started by the demo still runs (the demo must leave no process)."""
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (proc / "cmdline").read_bytes().decode(errors="replace")
            env = (proc / "environ").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "gunicorn" in cmd and str(demo) in env:
            return True
    return False
