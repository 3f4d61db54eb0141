"""The report-comment path of the rehearsal: setup-node's npx, the CML 0.20.4 stand-in, and the App token."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from rehearsal.standins.catalog import PROJECT_ROOT
from tests.rehearsal.standin_run import Runner, http_server

CML = "@dvcorg/cml@0.20.4"
SETUP_NODE = "actions/setup-node@49933ea5288caeca8642d1e84afbd3f7d6820020"
GITHUB_APP_ACTION = "actions/create-github-app-token@fee1f7d63c2ff003460e3d139729b119787bc349"
SHA = hashlib.sha256(b"the PR head").hexdigest()[:40]  # a commit SHA, as GITHUB_SHA holds one
APP_PEM = "KEY"  # what the fake forge accepts as the App's private key
TOKEN_ENV = {"REPO_TOKEN": "ghs_unused"}
WATERMARK = f'![](https://cml.dev/watermark.png#{SHA} "CML watermark flightdelay PR report")'


def npx(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {
        "PATH": os.environ["PATH"],
        "HOME": str(cwd),
        "PYTHONPATH": str(PROJECT_ROOT),
        "GIT_CEILING_DIRECTORIES": str(cwd.parent),
    }
    return subprocess.run(
        [sys.executable, "-S", "-m", "rehearsal.standins.npx", *args],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )


class FakeGithub:
    """Issue comments of PR #5 as the REST API keeps them; a maintainer's comment is already there."""

    def __init__(self) -> None:
        self.comments: list[dict[str, Any]] = [{"id": 1, "body": "Looks good to me"}]

    def __call__(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        if (method, path) == ("GET", "/repos/acme/flightdelay/issues/5/comments"):
            return 200, self.comments
        if (method, path) == ("POST", "/repos/acme/flightdelay/issues/5/comments"):
            comment = {"id": len(self.comments) + 1, "body": body["body"]}
            comment["html_url"] = f"https://github.com/acme/flightdelay/pull/5#issuecomment-{comment['id']}"
            self.comments.append(comment)
            return 201, comment
        match = re.fullmatch(r"/repos/acme/flightdelay/issues/comments/(\d+)", path)
        if method == "PATCH" and match:
            comment = next(c for c in self.comments if c["id"] == int(match[1]))
            comment["body"] = body["body"]
            return 200, {
                **comment,
                "html_url": f"https://github.com/acme/flightdelay/pull/5#issuecomment-{comment['id']}",
            }
        return 404, {"message": "Not Found"}


def test_cml_outside_a_checkout_without_repo_fails_like_cml(tmp_path: Path) -> None:
    (tmp_path / "report.md").write_text("# report\n")
    proc = npx(["--yes", CML, "comment", "update", "--target=pr/5", "report.md"], tmp_path, TOKEN_ENV)
    assert proc.returncode == 1
    assert '"message": "Command failed: git config --get remote.origin.url\\n"' in proc.stderr


def test_cml_creates_then_updates_the_one_comment_carrying_its_watermark(tmp_path: Path) -> None:
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "roc.png").write_bytes(b"\x89PNG fake")
    (tmp_path / "report.md").write_text("## Metrics\n\n| auc |\n|-----|\n| 0.7 |\n\n![ROC](plots/roc.png)\n")
    fake = FakeGithub()
    args = [
        "--yes",
        CML,
        "comment",
        "update",
        "--repo=https://github.com/acme/flightdelay",
        "--target=pr/5",
        "--publish",
        "--watermark-title=flightdelay PR report",
        "report.md",
    ]
    with http_server(fake) as (url, requests):
        env = {
            "REHEARSAL_FORGE_URL": url,
            "REPO_TOKEN": "ghs_run",
            "GITHUB_SHA": SHA,
            "REHEARSAL_STORE": str(tmp_path / "store"),
        }
        first = npx(args, tmp_path, env)
        assert first.returncode == 0, first.stderr
        assert first.stdout == "https://github.com/acme/flightdelay/pull/5#issuecomment-2\n"
        second = npx(args, tmp_path, env)
        assert second.returncode == 0, second.stderr
    assert second.stdout == first.stdout
    assert [(m, p) for m, p, _, _ in requests] == [
        ("GET", "/repos/acme/flightdelay/issues/5/comments"),
        ("POST", "/repos/acme/flightdelay/issues/5/comments"),
        ("GET", "/repos/acme/flightdelay/issues/5/comments"),
        ("PATCH", "/repos/acme/flightdelay/issues/comments/2"),
    ]
    assert {auth for _, _, _, auth in requests} == {"token ghs_run"}
    assert len(fake.comments) == 2 and fake.comments[0]["body"] == "Looks good to me"
    body = fake.comments[1]["body"]
    assert body.startswith("## Metrics\n\n| auc |\n|-----|\n| 0.7 |\n\n![ROC](https://asset.cml.dev/")
    assert body.endswith(f"\n\n{WATERMARK}")
    digest = hashlib.sha256(b"\x89PNG fake").hexdigest()
    assert re.search(
        rf"!\[ROC\]\(https://asset\.cml\.dev/{digest}\?cml=png&cache-bypass=[0-9a-f-]{{36}}\)", body
    )
    assert (tmp_path / "store" / "published" / digest).read_bytes() == b"\x89PNG fake"


def test_cml_refuses_a_flag_it_does_not_have(tmp_path: Path) -> None:
    (tmp_path / "report.md").write_text("x\n")
    proc = npx([CML, "comment", "update", "--target=pr/5", "--sticky", "report.md"], tmp_path, TOKEN_ENV)
    assert proc.returncode == 1
    assert proc.stderr.rstrip().endswith("Unknown argument: sticky")


def test_setup_node_puts_an_npx_on_path_that_only_knows_cml(tmp_path: Path) -> None:
    runner = Runner(tmp_path, {"REHEARSAL_HOME": str(PROJECT_ROOT), "PATH": os.environ["PATH"]})
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    step = runner.run(SETUP_NODE, {"node-version": node.lstrip("v").split(".")[0]})
    assert step.code == 0, step.log
    assert step.outputs == {"node-version": node}
    shim = Path(step.paths[0]) / "npx"
    other = subprocess.run([str(shim), "--yes", "cowsay", "hi"], capture_output=True, text=True, check=False)
    assert other.returncode == 1
    assert "cowsay is not available offline in the rehearsal" in other.stderr
    older = runner.run(SETUP_NODE, {"node-version": "18"})
    assert older.code == 1
    assert f"node-version '18' does not match the host's node {node}" in older.log


def test_app_token_comes_from_the_forge_and_a_wrong_key_fails(tmp_path: Path) -> None:
    def forge(method: str, path: str, body: Any) -> tuple[int, Any]:
        if path == "/_forge/app-token" and body["private_key"] == APP_PEM:
            return 201, {
                "token": "ghs_app",
                "installation_id": 1042,
                "app_slug": "flightdelay-bot",
                "expires_at": "2999-01-01T00:00:00Z",
            }
        if path == "/_forge/app-token":
            return 401, {"message": "The private key is not the one of GitHub App 42"}
        return 204, None

    with http_server(forge) as (url, requests):
        runner = Runner(tmp_path, {"REHEARSAL_FORGE_URL": url})
        inputs = {"app-id": "42", "private-key": APP_PEM, "permission-contents": "write"}
        step = runner.run(GITHUB_APP_ACTION, inputs)
        assert step.code == 0, step.log
        assert step.outputs == {"token": "ghs_app", "installation-id": "1042", "app-slug": "flightdelay-bot"}
        assert "::add-mask::ghs_app" in step.log
        assert "Token revoked" in runner.run(GITHUB_APP_ACTION, inputs, stage="post").log
        wrong = runner.run(GITHUB_APP_ACTION, {**inputs, "private-key": "OTHER"})
    assert wrong.code == 1
    assert "The private key is not the one of GitHub App 42" in wrong.log
    sent = requests[0][2]
    assert sent == {
        "app_id": "42",
        "private_key": APP_PEM,
        "owner": "acme",
        "repositories": ["flightdelay"],
        "permissions": {"contents": "write"},
    }
    assert requests[1][:2] == ("DELETE", "/installation/token") and requests[1][3] == "token ghs_app"
