"""Every GitHub workflow passes zizmor (offline) and the GitHub-workflow schema, and keeps the
hardening rules: actions pinned by commit SHA with the version in a comment, read-only or empty
top-level permissions, a timeout on every job, no persisted checkout credentials."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.helpers import REPO_ROOT

WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
PINNED = re.compile(r"^\s*-?\s*uses:\s*[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*\s*$")


def tool(name: str) -> Path:
    """A linter from the tools environment; missing tools fail the test (run `make tools`)."""
    bin_dir = Path(os.environ.get("FLIGHTDELAY_TOOLS_BIN") or REPO_ROOT / ".venv-tools" / "bin")
    path = bin_dir / name
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `make tools` (or set FLIGHTDELAY_TOOLS_BIN)")
    return path


def test_there_are_workflows_to_check() -> None:
    names = {w.name for w in WORKFLOWS}
    assert {"pr.yml", "pr-comment.yml"} <= names


def test_zizmor_offline_reports_no_findings() -> None:
    proc = subprocess.run(
        [str(tool("zizmor")), "--offline", "--no-progress", *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings to report" in proc.stdout, proc.stdout


def test_workflows_match_the_github_workflow_schema() -> None:
    proc = subprocess.run(
        [
            str(tool("check-jsonschema")),
            "--builtin-schema",
            "vendor.github-workflows",
            *map(str, WORKFLOWS),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_hardening_rules(workflow: Path) -> None:
    text = workflow.read_text()
    doc = yaml.safe_load(text)
    uses = [line for line in text.splitlines() if re.match(r"^\s*-?\s*uses:", line)]
    for line in uses:
        if "uses: ./" not in line:
            assert PINNED.match(line), f"not pinned by SHA with a `# vX.Y.Z` comment: {line.strip()}"
    top = doc.get("permissions")
    read_only = top == "read-all" or (isinstance(top, dict) and set(top.values()) <= {"read", "none"})
    assert read_only, f"top-level permissions: {top}"
    for name, job in doc["jobs"].items():
        assert isinstance(job.get("timeout-minutes"), int), f"job {name} has no timeout-minutes"
        for step in job.get("steps", []):
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                assert step.get("with", {}).get("persist-credentials") is False, name
            assert "${{ github.event" not in str(step.get("run", "")), (
                f"job {name}: event data in a run script; pass it through env:"
            )


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
