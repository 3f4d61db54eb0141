"""detect-secrets against the committed `.secrets.baseline`: a new secret fails the suite."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.helpers import REPO_ROOT
from tests.policy.tools import repo_files, run_tool

BASELINE = REPO_ROOT / ".secrets.baseline"


def new_secrets(root: Path, files: list[str], baseline: Path, scratch: Path) -> list[str]:
    """Secrets found in `files` that `baseline` does not list, as `file:line type`."""
    trial = scratch / "baseline.json"
    shutil.copyfile(baseline, trial)  # `scan --baseline` rewrites the file it is given
    proc = run_tool("detect-secrets", ["scan", "--baseline", str(trial), *files], cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    known = {
        (f, s["hashed_secret"], s["type"])
        for f, secrets in json.loads(baseline.read_text())["results"].items()
        for s in secrets
    }
    return [
        f"{f}:{s['line_number']} {s['type']}"
        for f, secrets in json.loads(trial.read_text())["results"].items()
        for s in secrets
        if (f, s["hashed_secret"], s["type"]) not in known
    ]


def test_no_secret_outside_the_baseline(tmp_path: Path) -> None:
    files = [f for f in repo_files() if f != BASELINE.name]  # its hashes look like secrets
    found = new_secrets(REPO_ROOT, files, BASELINE, tmp_path)
    assert not found, (
        "detect-secrets found secrets not in .secrets.baseline: "
        f"{found}. Remove them; for a false positive run `detect-secrets scan --baseline .secrets.baseline` "
        "and `detect-secrets audit .secrets.baseline`."
    )


def test_a_new_aws_key_is_caught(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    fake_key = "AKIA" + "ZQ3V7K2MXP9TW4LD"  # split so this file itself holds no key pattern
    (repo / "settings.py").write_text(f'aws_access_key_id = "{fake_key}"\n')
    (repo / "clean.py").write_text('region = "eu-west-1"\n')
    assert new_secrets(repo, ["settings.py", "clean.py"], BASELINE, tmp_path) == [
        "settings.py:1 AWS Access Key"
    ]
