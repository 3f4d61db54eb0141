"""The scopes a workflow grants its GITHUB_TOKEN and the scope each request needs (rehearsal/scopes.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rehearsal import scopes, triggers
from rehearsal.engine import Engine, Run
from tests.helpers import REPO_ROOT


def test_permissions_read_as_github_reads_them() -> None:
    assert scopes.granted(None) == {"contents": "read", "packages": "read"}  # no key: the default
    assert scopes.granted({}) == {}  # `permissions: {}`: nothing at all
    assert scopes.granted({"issues": "write"}) == {"issues": "write"}  # the rest: none
    assert scopes.granted("read-all")["pull-requests"] == "read" and "id-token" not in scopes.granted(
        "read-all"
    )
    assert scopes.granted("write-all") == dict.fromkeys(scopes.SCOPES, "write")  # OIDC included
    with pytest.raises(ValueError, match="unknown scope"):
        scopes.granted({"pull_requests": "read"})  # GitHub spells it pull-requests
    with pytest.raises(ValueError, match="not one of read, write, none"):
        scopes.granted({"issues": "admin"})


def test_a_run_token_holds_the_highest_level_any_job_holds() -> None:
    jobs = {
        "check": {"permissions": {"contents": "read", "issues": "read"}},
        "open": {"permissions": {"issues": "write"}},
        "plain": {},  # the workflow's
        "called": {"uses": "./.github/workflows/other.yml"},  # its own token
    }
    assert scopes.run_token({"pull-requests": "read"}, jobs) == {
        "contents": "read",
        "issues": "write",
        "pull-requests": "read",
    }
    assert scopes.run_token(None, {"plain": {}}) == scopes.DEFAULT


@pytest.mark.parametrize(
    ("method", "path", "need"),
    [
        ("GET", "/repos/o/r/pulls", (("pull-requests",), "read")),
        ("PATCH", "/repos/o/r/pulls/3", (("pull-requests",), "write")),
        ("GET", "/repos/o/r/commits/abc/pulls", (("pull-requests",), "read")),
        ("POST", "/repos/o/r/issues/4/comments", (("issues", "pull-requests"), "write")),
        ("DELETE", "/repos/o/r/labels/drift", (("issues", "pull-requests"), "write")),
        ("POST", "/repos/o/r/issues", (("issues",), "write")),
        ("GET", "/repos/o/r/issues?state=open&labels=drift", (("issues",), "read")),
        ("POST", "/repos/o/r/check-runs", (("checks",), "write")),
        ("GET", "/repos/o/r/releases/tags/model-v1", (("contents",), "read")),
        ("POST", "https://uploads.github.com/repos/o/r/releases/1/assets", (("contents",), "write")),
        ("GET", "/o/r/releases/download/model-v1/champion.tar.gz", (("contents",), "read")),
        ("GET", "/repos/o/r/actions/runs/5/artifacts", (("actions",), "read")),
        ("GET", "/repos/o/r", None),
        ("GET", "/users/flightdelay-bot[bot]", None),
        ("POST", "/_forge/artifacts", None),
    ],
)
def test_each_request_needs_the_scope_github_requires(
    method: str, path: str, need: scopes.Need | None
) -> None:
    assert scopes.required(method, path) == need


def test_every_workflow_of_the_repository_parses_to_a_run_token() -> None:
    for path in sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml")):
        wf = triggers.Workflow.parse(path.name, path.read_text())
        token = scopes.run_token(wf.permissions, wf.jobs)
        assert yaml.safe_load(path.read_text()).get("permissions") == wf.permissions
        assert all(level in scopes.LEVEL for level in token.values()), path.name


class _RecordingForge:
    def __init__(self) -> None:
        self.runs: list[dict[str, object]] = []

    def record_run(self, run: dict[str, object]) -> None:
        self.runs.append(run)


def test_a_workflow_with_an_unknown_scope_fails_before_any_job(tmp_path: Path) -> None:
    """GitHub refuses such a file ("Invalid workflow file"); act would run it with any token."""
    forge = _RecordingForge()
    engine = Engine(forge, tmp_path, Path("act"), {}, {}, {}, say=lambda _: None)
    text = "on: push\npermissions:\n  pull_requests: read\njobs:\n  j:\n    runs-on: ubuntu-24.04\n"
    run = Run(
        1, triggers.Workflow.parse("bad.yml", text), "push", {}, "b" * 40, "refs/heads/main", "acme", True
    )
    engine.execute(run)
    assert run.conclusion == "failure"
    assert "Invalid workflow file: .github/workflows/bad.yml" in engine.explain(run)
    assert "unknown scope(s) ['pull_requests']" in engine.explain(run)
    assert forge.runs[0]["conclusion"] == "failure"
    assert not (tmp_path / "runs").exists()  # no clone, no act
