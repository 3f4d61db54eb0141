"""Workflow policy: the committed workflows pass, and each rule fails on a workflow that breaks it."""

from __future__ import annotations

from pathlib import Path

import pytest
from check_workflows import Violation, check_workflow, workflow_files

from tests.helpers import REPO_ROOT

CHECKOUT = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683"
DIGEST = "sha256:" + "ab" * 32

# A release workflow that follows every rule; each case below breaks exactly one of them.
GOOD = f"""\
name: release
on:
  push:
    tags: ["v*"]
  workflow_dispatch:
    inputs:
      dry-run:
        type: boolean
        default: false
permissions:
  contents: read
concurrency:
  group: release-${{{{ github.sha }}}}
  cancel-in-progress: false
jobs:
  build:
    runs-on: ubuntu-24.04
    timeout-minutes: 10
    permissions:
      packages: write
    steps:
      - uses: {CHECKOUT} # v4.2.2
        with:
          persist-credentials: false
      - name: greet
        env:
          MESSAGE: ${{{{ github.event.head_commit.message }}}}
        run: >-
          echo "$MESSAGE"
          ${{{{ github.sha }}}} ${{{{ github.event.pull_request.number }}}} ${{{{ inputs.dry-run }}}}
      - uses: ./.github/actions/local
      - uses: docker://alpine@{DIGEST}
  publish:
    runs-on: ubuntu-24.04
    timeout-minutes: 5
    permissions:
      contents: write
    steps:
      - uses: {CHECKOUT} # v4.2.2
      - name: push the bump
        run: git push origin HEAD:refs/heads/bump
  call:
    uses: ./.github/workflows/reusable.yml
"""


def violations(text: str, name: str = "release.yml", tmp_path: Path | None = None) -> list[Violation]:
    assert tmp_path is not None
    path = tmp_path / ".github" / "workflows" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return check_workflow(path)


def mutate(old: str, new: str, text: str = GOOD) -> str:
    assert old in text, f"test bug: {old!r} not in the base workflow"
    return text.replace(old, new, 1)


STEP_GREET = "job 'build', step 2 'greet'"


def in_run(expression: str) -> str:
    """GOOD with `expression` expanded directly in the `greet` step's run script."""
    return mutate('echo "$MESSAGE"', f'echo "{expression}"')


# (case id, mutated workflow, file name, rule, fragments the message must contain)
BROKEN = [
    (
        "pull_request_target mapping",
        mutate("on:\n  push:", "on:\n  pull_request_target:\n  push:"),
        "release.yml",
        "trigger",
        ["release.yml:2", "pull_request_target", "workflow_run"],
    ),
    (
        "pull_request_target in a list",
        mutate(
            GOOD.split("permissions:", 1)[0].split("on:", 1)[1],
            " [push, pull_request_target]\n",
            mutate(" ${{ inputs.dry-run }}", ""),
        ),
        "release.yml",
        "trigger",
        ["pull_request_target"],
    ),
    (
        "no top-level permissions",
        mutate("permissions:\n  contents: read\nconcurrency", "concurrency"),
        "release.yml",
        "permissions",
        ["release.yml:1", "no top-level `permissions:`", "permissions: {}"],
    ),
    (
        "top-level write scope",
        mutate("  contents: read\nconcurrency", "  contents: write\nconcurrency"),
        "release.yml",
        "permissions",
        ["release.yml:11", "contents: write", "move `contents: write`"],
    ),
    (
        "top-level write-all",
        mutate("permissions:\n  contents: read\nconcurrency", "permissions: write-all\nconcurrency"),
        "release.yml",
        "permissions",
        ["permissions: write-all"],
    ),
    (
        "job write-all",
        mutate("    permissions:\n      packages: write", "    permissions: write-all"),
        "release.yml",
        "permissions",
        ["job 'build'", "list only the scopes"],
    ),
    (
        "event field in run",
        in_run("${{ github.event.head_commit.message }}"),
        "release.yml",
        "injection",
        [
            STEP_GREET,
            "github.event.head_commit.message",
            "env: {HEAD_COMMIT_MESSAGE: ${{ github.event.head_commit.message }}}",
            '`"$HEAD_COMMIT_MESSAGE"`',
        ],
    ),
    (
        "head_ref in run",
        in_run("${{ github.head_ref }}"),
        "release.yml",
        "injection",
        [STEP_GREET, "github.head_ref", "env:"],
    ),
    (
        "bracket syntax",
        in_run("${{ github.event['pull_request']['title'] }}"),
        "release.yml",
        "injection",
        ["github.event.pull_request.title"],
    ),
    (
        "labels through a function",
        in_run("${{ join(github.event.pull_request.labels.*.name, ',') }}"),
        "release.yml",
        "injection",
        ["github.event.pull_request.labels.*.name"],
    ),
    (
        "commit author email by index",
        in_run("${{ github.event.commits[0].author.email }}"),
        "release.yml",
        "injection",
        ["github.event.commits.*.author.email"],
    ),
    (
        "whole event payload",
        in_run("${{ toJSON(github.event) }}"),
        "release.yml",
        "injection",
        ["`github.event`"],
    ),
    (
        "free-text input",
        mutate("type: boolean\n        default: false", "type: string\n        default: x"),
        "release.yml",
        "injection",
        [STEP_GREET, "inputs.dry-run"],
    ),
    (
        "comment body in github-script",
        mutate(
            "      - uses: ./.github/actions/local\n",
            "      - uses: actions/github-script@60a0d83039c74a4aee543508d2ffcb1c3799cdea # v7.0.1\n"
            "        with:\n"
            "          script: console.log('${{ github.event.comment.body }}')\n"
            "      - uses: ./.github/actions/local\n",
        ),
        "release.yml",
        "injection",
        ["step 3 'actions/github-script@", "with.script", "comment.body", "process.env.COMMENT_BODY"],
    ),
    (
        "tag instead of SHA",
        mutate(f"{CHECKOUT} # v4.2.2", "actions/checkout@v4"),
        "release.yml",
        "pin",
        ["release.yml:22", "job 'build', step 1", "actions/checkout@<40-hex commit SHA> # vX.Y.Z"],
    ),
    (
        "short SHA",
        mutate(f"{CHECKOUT} # v4.2.2", "actions/checkout@11bd719 # v4.2.2"),
        "release.yml",
        "pin",
        ["not pinned to a full commit SHA"],
    ),
    (
        "SHA without a version comment",
        mutate(f"{CHECKOUT} # v4.2.2", CHECKOUT),
        "release.yml",
        "pin",
        ["has no version comment", "# vX.Y.Z"],
    ),
    (
        "docker image by tag",
        mutate(f"docker://alpine@{DIGEST}", "docker://alpine:3.20"),
        "release.yml",
        "pin",
        ["step 4", "mutable image tag", "@sha256:"],
    ),
    (
        "remote reusable workflow on a branch",
        mutate("uses: ./.github/workflows/reusable.yml", "uses: octo/shared/.github/workflows/r.yml@main"),
        "release.yml",
        "pin",
        ["job 'call'", "octo/shared/.github/workflows/r.yml@main"],
    ),
    (
        "checkout keeps credentials",
        mutate("        with:\n          persist-credentials: false\n", ""),
        "release.yml",
        "credentials",
        ["release.yml:22", "job 'build', step 1 'actions/checkout@", "persist-credentials: false"],
    ),
    (
        "persist-credentials true without a reason",
        mutate("persist-credentials: false", "persist-credentials: true"),
        "release.yml",
        "credentials",
        ["job 'build'", "`persist-credentials: true # <why this job pushes>`"],
    ),
    (
        "persist-credentials true with a one-word comment",
        mutate("persist-credentials: false", "persist-credentials: true # yes"),
        "release.yml",
        "credentials",
        ["job 'build'"],
    ),
    (
        "job that does not push keeps credentials",
        mutate("run: git push origin HEAD:refs/heads/bump", "run: git status"),
        "release.yml",
        "credentials",
        ["job 'publish', step 1", "# policy: persist-credentials <reason>"],
    ),
    (
        "no timeout",
        mutate("    timeout-minutes: 5\n", ""),
        "release.yml",
        "timeout",
        ["job 'publish'", "timeout-minutes"],
    ),
    (
        "release without concurrency",
        mutate("concurrency:\n  group: release-${{ github.sha }}\n  cancel-in-progress: false\n", ""),
        "release.yml",
        "concurrency",
        ["release workflow without a concurrency group"],
    ),
    (
        "release named so in another file",
        mutate("concurrency:\n  group: release-${{ github.sha }}\n  cancel-in-progress: false\n", ""),
        "ship.yml",
        "concurrency",
        ["ship.yml:1"],
    ),
    (
        "release cancelled in progress",
        mutate("cancel-in-progress: false", "cancel-in-progress: true"),
        "release.yml",
        "concurrency",
        ["cancel-in-progress: false"],
    ),
    (
        "release group shared by successive runs",
        mutate("group: release-${{ github.sha }}", "group: release-main"),
        "release.yml",
        "concurrency",
        ["one pending run", "github.sha"],
    ),
    (
        "release group as a shared string",
        mutate(
            "concurrency:\n  group: release-${{ github.sha }}\n  cancel-in-progress: false\n",
            "concurrency: release\n",
        ),
        "release.yml",
        "concurrency",
        ["one pending run"],
    ),
    (
        "release group keyed by the branch only",
        mutate("group: release-${{ github.sha }}", "group: release-${{ github.ref }}"),
        "release.yml",
        "concurrency",
        ["one pending run"],
    ),
]

PUSH_STEPS = (
    f"      - uses: {CHECKOUT} # v4.2.2\n"
    "      - name: push the bump\n"
    "        run: git push origin HEAD:refs/heads/bump"
)

# Variants that stay within the policy (guards against rules that fire on correct workflows).
ALLOWED = [
    (
        "empty top-level permissions",
        mutate("permissions:\n  contents: read\nconcurrency", "permissions: {}\nconcurrency"),
    ),
    (
        "marker comment on a checkout that keeps credentials",
        mutate(
            PUSH_STEPS,
            f"      - uses: {CHECKOUT} # v4.2.2 # policy: persist-credentials make release pushes tags\n"
            "      - run: make release",
        ),
    ),
    (
        "checkout with an explicit push token",
        mutate(
            PUSH_STEPS,
            f"      - uses: {CHECKOUT} # v4.2.2\n"
            "        with:\n          token: ${{ secrets.BOT_TOKEN }}\n"
            "      - run: make release",
        ),
    ),
    ("git -C push", mutate("run: git push origin", "run: git -C repo push origin")),
    (
        "persist-credentials true with a reason",
        mutate(
            PUSH_STEPS,
            f"      - uses: {CHECKOUT} # v4.2.2\n"
            "        with:\n          persist-credentials: true # make release pushes the tag\n"
            "      - run: make release",
        ),
    ),
    (
        "string concurrency group",
        mutate(
            "concurrency:\n  group: release-${{ github.sha }}\n  cancel-in-progress: false\n",
            "concurrency: release-${{ github.sha }}\n",
        ),
    ),
    (
        "safe event ids in run",
        in_run("${{ github.event.workflow_run.head_sha }} ${{ github.event_name }} ${{ github.run_id }}"),
    ),
]


def test_base_workflow_passes(tmp_path: Path) -> None:
    assert violations(GOOD, tmp_path=tmp_path) == []


@pytest.mark.parametrize(
    ("text", "name", "rule", "fragments"),
    [pytest.param(text, name, rule, fragments, id=case) for case, text, name, rule, fragments in BROKEN],
)
def test_each_rule_fails_on_a_broken_workflow(
    text: str, name: str, rule: str, fragments: list[str], tmp_path: Path
) -> None:
    found = violations(text, name, tmp_path)
    assert found, "the broken workflow passed the policy"
    assert {v.rule for v in found} == {rule}, "\n".join(map(str, found))
    message = "\n".join(map(str, found))
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} missing from:\n{message}"


@pytest.mark.parametrize("text", [pytest.param(text, id=case) for case, text in ALLOWED])
def test_allowed_variants_pass(text: str, tmp_path: Path) -> None:
    found = violations(text, tmp_path=tmp_path)
    assert found == [], "\n".join(map(str, found))


def test_non_release_workflow_needs_no_concurrency(tmp_path: Path) -> None:
    text = mutate(
        "name: release",
        "name: ci",
        mutate("concurrency:\n  group: release-${{ github.sha }}\n  cancel-in-progress: false\n", ""),
    )
    assert violations(text, "ci.yml", tmp_path) == []


def test_unparsable_workflow_is_a_violation(tmp_path: Path) -> None:
    found = violations("jobs: [unclosed\n", tmp_path=tmp_path)
    assert [v.rule for v in found] == ["yaml"]


COMMITTED = workflow_files(REPO_ROOT)


def test_the_repository_has_workflows() -> None:
    assert COMMITTED, "no .github/workflows/*.yml found"


@pytest.mark.parametrize("workflow", COMMITTED, ids=[p.name for p in COMMITTED])
def test_committed_workflow_follows_the_policy(workflow: Path) -> None:
    found = check_workflow(workflow)
    assert found == [], "workflow policy violations:\n" + "\n".join(map(str, found))
