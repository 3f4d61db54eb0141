"""zizmor and the vendored JSON schemas on the workflows and Dependabot; Dependabot's coverage.

Each tool also runs on a deliberately broken input, so a check that stopped working fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from check_workflows import workflow_files

from tests.helpers import REPO_ROOT
from tests.policy.tools import repo_ids, run_tool

WORKFLOWS = workflow_files(REPO_ROOT)
DEPENDABOT = REPO_ROOT / ".github" / "dependabot.yml"
CHECKOUT = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2"
INJECTABLE = f"""\
name: greet
on: pull_request
permissions: {{}}
jobs:
  greet:
    runs-on: ubuntu-24.04
    timeout-minutes: 5
    steps:
      - uses: {CHECKOUT}
        with:
          persist-credentials: false
      - run: echo "${{{{ github.event.pull_request.title }}}}"
"""


ZIZMOR_INPUTS = [*WORKFLOWS, DEPENDABOT]


@pytest.mark.parametrize("path", ZIZMOR_INPUTS, ids=repo_ids(ZIZMOR_INPUTS))
def test_zizmor_finds_nothing(path: Path) -> None:
    proc = run_tool("zizmor", ["--offline", "--no-progress", "--persona", "regular", str(path)])
    assert proc.returncode == 0, f"zizmor findings (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}"


def test_zizmor_flags_a_template_injection(tmp_path: Path) -> None:
    path = tmp_path / ".github" / "workflows" / "greet.yml"
    path.parent.mkdir(parents=True)
    path.write_text(INJECTABLE)
    proc = run_tool("zizmor", ["--offline", "--no-progress", str(path)])
    assert proc.returncode != 0
    assert "template-injection" in proc.stdout


def test_workflows_match_the_github_schema() -> None:
    assert WORKFLOWS, "no workflows to check"
    args = ["--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)]
    proc = run_tool("check-jsonschema", args)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_workflow_schema_rejects_a_misspelt_key(tmp_path: Path) -> None:
    path = tmp_path / "typo.yml"
    path.write_text(INJECTABLE.replace("runs-on:", "runs_on:"))
    proc = run_tool("check-jsonschema", ["--builtin-schema", "vendor.github-workflows", str(path)])
    assert proc.returncode == 1, proc.stdout + proc.stderr


def test_dependabot_matches_its_schema() -> None:
    proc = run_tool("check-jsonschema", ["--builtin-schema", "vendor.dependabot", str(DEPENDABOT)])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dependabot_covers_every_ecosystem_weekly_with_a_cooldown() -> None:
    updates = {u["package-ecosystem"]: u for u in yaml.safe_load(DEPENDABOT.read_text())["updates"]}
    assert set(updates) == {"pip", "github-actions", "docker"}
    for ecosystem, update in updates.items():
        assert update["directory"] == "/", ecosystem
        assert update["schedule"]["interval"] == "weekly", ecosystem
        # zizmor's dependabot-cooldown audit asks for at least 7 days.
        assert update["cooldown"]["default-days"] >= 7, ecosystem
    # One PR moves a package in all the generated requirements files together.
    assert updates["pip"]["groups"]["python"]["patterns"] == ["*"]
