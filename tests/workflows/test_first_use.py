"""What GitHub itself would refuse or silently drop on the first real PR, merge and drift run.

(Expressions such as `${{ secrets.X }}` are compared as text: no secret is in this file.)

Static checks of the workflow files against GitHub's documented rules; `make rehearse` then runs
the same files through the local forge, which enforces these rules for real.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from rehearsal import scopes
from tests.helpers import REPO_ROOT

WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
APP_TOKEN = "${{ steps.app-token.outputs.token }}"  # noqa: S105 - an expression, not a secret
PUSHES = re.compile(r"\bgit\s+(?:-[Cc]\s+\S+\s+)*push\b|flightdelay release(?: \w+)?[^\n]*--push\b")
OPENS_PR = re.compile(r"gh pr create|gh api \S*repos/\S+/pulls\"? -f (?:base|head)=")


def jobs() -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path in WORKFLOWS:
        doc = yaml.safe_load(path.read_text())
        for job_id, job in doc["jobs"].items():
            found.append((path.name, job_id, job))
    return found


def _app_token_step(steps: list[dict[str, Any]]) -> int | None:
    for i, step in enumerate(steps):
        if step.get("id") == "app-token":
            assert str(step["uses"]).startswith("actions/create-github-app-token@")
            return i
    return None


@pytest.mark.parametrize(("file", "job_id", "job"), jobs(), ids=lambda v: v if isinstance(v, str) else "")
def test_pushes_to_main_come_from_the_app_on_the_bypass_list(
    file: str, job_id: str, job: dict[str, Any]
) -> None:
    """GH006: GITHUB_TOKEN cannot push to a ruleset-protected main; the App on the bypass list can."""
    steps = job.get("steps", [])
    pushing = [s for s in steps if PUSHES.search(str(s.get("run", "")))]
    if not pushing:
        return
    app = _app_token_step(steps)
    assert app is not None, f"{file}:{job_id} pushes but mints no App token"
    checkout = next(i for i, s in enumerate(steps) if str(s.get("uses", "")).startswith("actions/checkout@"))
    assert app < checkout, f"{file}:{job_id}: the App token must exist before the checkout that pushes"
    assert steps[checkout]["with"].get("token") == APP_TOKEN, f"{file}:{job_id} pushes with GITHUB_TOKEN"
    assert "extraheader" not in "".join(str(s.get("run", "")) for s in steps), "credentials by hand"


@pytest.mark.parametrize(("file", "job_id", "job"), jobs(), ids=lambda v: v if isinstance(v, str) else "")
def test_pull_requests_are_opened_by_the_app(file: str, job_id: str, job: dict[str, Any]) -> None:
    """A PR opened with GITHUB_TOKEN starts no workflow: its required `gate` would stay pending."""
    for step in job.get("steps", []):
        if OPENS_PR.search(str(step.get("run", ""))):
            assert step.get("env", {}).get("GH_TOKEN") == APP_TOKEN, f"{file}:{job_id}:{step.get('name')}"


def test_workflows_speak_rest_only() -> None:
    """`gh issue`/`gh pr` go through GraphQL; the workflows use `gh api` (REST), which the
    rehearsal forge serves, so every call they make is exercised before it reaches GitHub."""
    for path in WORKFLOWS:
        calls = re.findall(r"\bgh\s+(\w+)", path.read_text())
        assert set(calls) <= {"api"}, (path.name, sorted(set(calls)))


def test_cml_is_told_the_repository() -> None:
    """CML 0.20.4 reads `remote.origin.url` unless --repo is given; pr-comment.yml has no checkout."""
    doc = yaml.safe_load((REPO_ROOT / ".github/workflows/pr-comment.yml").read_text())
    steps = doc["jobs"]["comment"]["steps"]
    cml = next(s for s in steps if "@dvcorg/cml" in str(s.get("run", "")))
    assert not any(str(s.get("uses", "")).startswith("actions/checkout@") for s in steps)
    assert re.search(r"--repo(=|\s)\S+", cml["run"]), cml["run"]
    assert cml["env"]["REPO_URL"] == "${{ github.server_url }}/${{ github.repository }}"


def test_scheduled_runs_do_not_read_the_repository_from_the_event() -> None:
    """`github.event.repository` is empty on `schedule`."""
    for path in WORKFLOWS:
        doc = yaml.safe_load(path.read_text())
        if "schedule" in doc[True]:  # YAML 1.1 reads `on:` as True
            assert "github.event.repository" not in path.read_text(), path.name


def test_every_action_is_pinned_to_one_version_across_workflows() -> None:
    pins: dict[str, set[str]] = defaultdict(set)
    for path in WORKFLOWS:
        for action, sha in re.findall(r"uses:\s*([\w./-]+)@([0-9a-f]{40})", path.read_text()):
            pins[action.split("/cache/")[0] if "/cache/" in action else action].add(sha)
    split = {action: shas for action, shas in pins.items() if len(shas) > 1}
    assert not split, f"actions pinned at several commits: {split}"


def test_pr_jobs_get_no_registry_and_no_secrets() -> None:
    text = (REPO_ROOT / ".github/workflows/pr.yml").read_text()
    assert "secrets." not in text
    assert "MLFLOW_TRACKING_URI" not in text


@pytest.mark.parametrize("file", ["release.yml", "promote.yml"])
def test_trusted_jobs_get_registry_credentials_from_secrets(file: str) -> None:
    env = yaml.safe_load((REPO_ROOT / ".github/workflows" / file).read_text())["env"]
    for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN"):
        assert env[name] == "${{ secrets." + name + " }}", name


# The scope GitHub requires of a token for each REST endpoint (rehearsal/scopes.py, which the
# forge enforces on a run's token too): with a job's `permissions:` set, every scope it leaves out
# is `none`, and GITHUB_TOKEN is refused with 403 "Resource not accessible by integration".
def _api_calls(script: str) -> list[tuple[str, str]]:
    """(method, endpoint) of each `gh api` call in a step's script, `$VAR` owner/name kept as is."""
    calls = []
    for command in re.split(r"\n(?!\s*[-|]|\s*\$)", script.replace("\\\n", " ")):
        for call in re.findall(r"\bgh api\b((?:(?!\|\||&&|;|\bgh api\b).)*)", command):  # to ||, &&, ;
            words = re.findall(r'"[^"]*"|\S+', call)
            endpoint = next(
                (w.strip('"') for w in words if re.match(r'"?(repos/|https://uploads\.github\.com/)', w)), ""
            )
            method = re.search(r"(?:--method|-X)\s+(\w+)", call)
            writes = re.search(r"\s-[fF]\s|--raw-field|--field|--input", " " + call)
            calls.append(((method.group(1) if method else "POST" if writes else "GET").upper(), endpoint))
    return calls


def _needs(method: str, endpoint: str) -> tuple[str, str] | None:
    path = re.sub(r"\$\{?\w+\}?", "x", endpoint).replace("repos/x/", "repos/o/r/")
    return scopes.required(method, path)


def _granted(file: str, job: dict[str, Any]) -> dict[str, str]:
    """The job's token scopes: its own `permissions:`, else the workflow's, else the default."""
    doc = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / file).read_text())
    return scopes.granted(job.get("permissions", doc.get("permissions")))


@pytest.mark.parametrize(("file", "job_id", "job"), jobs(), ids=lambda v: v if isinstance(v, str) else "")
def test_github_token_calls_hold_the_permission_github_requires(
    file: str, job_id: str, job: dict[str, Any]
) -> None:
    granted = _granted(file, job)
    missing = []
    for step in job.get("steps", []):
        if "github.token" not in str(step.get("env", {}).get("GH_TOKEN", "")):
            continue  # the App's token: its permissions are the token step's inputs
        for method, endpoint in _api_calls(str(step.get("run", ""))):
            need = _needs(method, endpoint)
            if need and not scopes.allows(granted, need):
                missing.append(f"{step.get('name')}: {method} {endpoint} needs {scopes.describe(need)}")
    assert not missing, f"{file}:{job_id} (permissions {granted}):\n" + "\n".join(missing)


def _action_needs(step: dict[str, Any]) -> tuple[str, str] | None:
    """The scope a pinned action needs of GITHUB_TOKEN (or of the job's OIDC token) to work."""
    action, given = str(step.get("uses", "")).split("@")[0], step.get("with") or {}
    if action == "actions/checkout" and "token" not in given:
        return "contents", "read"  # clones with GITHUB_TOKEN (a private repository refuses otherwise)
    if action == "actions/download-artifact" and "run-id" in given:
        return "actions", "read"  # another run's artifacts
    if action == "aws-actions/configure-aws-credentials":
        return "id-token", "write"  # the OIDC token it exchanges for the role
    if action == "docker/login-action" and "GITHUB_TOKEN" in str(given.get("password", "")):
        return "packages", "write"  # pushes to GHCR
    return None


@pytest.mark.parametrize(("file", "job_id", "job"), jobs(), ids=lambda v: v if isinstance(v, str) else "")
def test_actions_hold_the_permission_they_need(file: str, job_id: str, job: dict[str, Any]) -> None:
    granted = _granted(file, job)
    missing = [
        f"{step['uses']} needs {need[0]}: {need[1]}"
        for step in job.get("steps", [])
        if (need := _action_needs(step)) and not scopes.allows(granted, ((need[0],), need[1]))
    ]
    assert not missing, f"{file}:{job_id} (permissions {granted}): {missing}"


def test_the_permission_check_sees_a_missing_scope() -> None:
    script = (
        'gh api --paginate "repos/$GH_REPO/pulls?state=all" --jq .\n'
        'gh api "repos/$GH_REPO/labels/x" --silent || gh api "repos/$GH_REPO/issues" -f title=t'
    )
    calls = _api_calls(script)
    assert calls == [
        ("GET", "repos/$GH_REPO/pulls?state=all"),
        ("GET", "repos/$GH_REPO/labels/x"),
        ("POST", "repos/$GH_REPO/issues"),
    ]
    assert [_needs(*c) for c in calls] == [
        (("pull-requests",), "read"),
        (("issues", "pull-requests"), "read"),  # a label serves issues and pull requests
        (("issues",), "write"),
    ]
    assert _needs("PATCH", "repos/$GH_REPO/releases/$id") == (("contents",), "write")
    assert _needs("GET", "users/${APP_SLUG}[bot]") is None
    assert _action_needs({"uses": "actions/checkout@x"}) == ("contents", "read")
    assert _action_needs({"uses": "actions/checkout@x", "with": {"token": "t"}}) is None
    assert _action_needs({"uses": "actions/download-artifact@x", "with": {"run-id": "1"}}) == (
        "actions",
        "read",
    )


def test_this_file_checks_every_workflow() -> None:
    assert len(WORKFLOWS) == 7, [p.name for p in WORKFLOWS]
    assert all(isinstance(p, Path) for p in WORKFLOWS)


def test_every_run_step_fails_on_a_failing_pipe() -> None:
    """GitHub runs a `run:` with `bash -e` unless told `shell: bash` (then `bash -eo pipefail`):
    without it `gh api … | jq` carries on after a 403 and the step reads an empty answer as
    "nothing there" (intake would propose a month again whose pull request it could not list)."""
    loose = []
    for path in sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml")):
        doc = yaml.safe_load(path.read_text())
        default = ((doc.get("defaults") or {}).get("run") or {}).get("shell")
        for job_id, job in doc["jobs"].items():
            job_default = ((job.get("defaults") or {}).get("run") or {}).get("shell", default)
            for step in job.get("steps", []):
                if "run" in step and step.get("shell", job_default) != "bash":
                    loose.append(f"{path.name}:{job_id}:{step.get('name', step.get('id'))}")
    assert not loose, f"steps run with `bash -e` (no pipefail): {loose}"
