"""The local forge behaves as GitHub does for the lifecycle: real git pushes, real `gh api`, its rules."""

from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from rehearsal.forge import Forge
from rehearsal.forge_core import DOCS_URL

REPO = "repos/acme/flightdelay"
BOT = "flightdelay-bot[bot]"
REQUIRED_STATE_KEYS = {
    "refs",
    "tags",
    "pulls",
    "issues",
    "labels",
    "comments",
    "check_runs",
    "runs",
    "artifacts",
    "images",
    "pushes",
    "refused_pushes",
    "suppressed_events",
}


@pytest.fixture
def forge(tmp_path: Path) -> Iterator[Forge]:
    with Forge(tmp_path / "forge") as running:
        yield running


@pytest.fixture
def clone(forge: Forge, tmp_path: Path) -> Path:
    """A work tree whose first commit is the forge's main, with the forge as `origin`."""
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    (work / "README.md").write_text("flightdelay\n")
    git(work, "add", "README.md")
    git(work, "commit", "-qm", "initial")
    forge.seed(work)
    git(work, "remote", "add", "origin", forge.git_url)
    return work


def git_env(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    return env | {
        "GIT_AUTHOR_NAME": "Octo Cat",
        "GIT_AUTHOR_EMAIL": "octocat@example.com",
        "GIT_COMMITTER_NAME": "Octo Cat",
        "GIT_COMMITTER_EMAIL": "octocat@example.com",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }


def git(
    work: Path, *args: str, token: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run git in `work`; with `token`, authenticate the way actions/checkout configures it."""
    auth = []
    if token is not None:
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        auth = ["-c", f"http.extraheader=AUTHORIZATION: basic {basic}"]
    proc = subprocess.run(
        ["git", *auth, *args], cwd=work, env=git_env(work), capture_output=True, text=True, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def commit(work: Path, name: str, content: str | bytes, message: str) -> str:
    path = work / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    git(work, "add", name)
    git(work, "commit", "-qm", message)
    return git(work, "rev-parse", "HEAD").stdout.strip()


def gh_env(forge: Forge, tmp_path: Path, token: str) -> dict[str, str]:
    """gh configured only through GH_CONFIG_DIR (the forge's unix socket) and GH_TOKEN."""
    config = tmp_path / "gh-config"
    forge.write_gh_config(config)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GH_", "GITHUB_"))}
    return env | {
        "GH_CONFIG_DIR": str(config),
        "GH_TOKEN": token,
        "GH_REPO": "acme/flightdelay",
        "GH_NO_UPDATE_NOTIFIER": "1",
        "GH_PROMPT_DISABLED": "1",
        "HOME": str(tmp_path),
    }


def gh(
    forge: Forge, tmp_path: Path, token: str, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """The real gh CLI (Debian's gh 2.23) talking to the forge."""
    gh_bin = shutil.which("gh")
    assert gh_bin, "the gh CLI (Debian package gh) is required for these tests"
    proc = subprocess.run(
        [gh_bin, *args],
        env=gh_env(forge, tmp_path, token),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"gh {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def call(
    forge: Forge,
    method: str,
    path: str,
    token: str | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, dict[str, str]]:
    """One request over the forge's TCP port; returns status, decoded JSON (or bytes) and headers."""
    url = urlsplit(forge.base_url)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=30)
    hdrs = {"Accept": "application/vnd.github+json", **(headers or {})}
    if token:
        hdrs["Authorization"] = f"Bearer {token}"
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    conn.request(method, path, body=data, headers=hdrs)
    resp = conn.getresponse()
    raw = resp.read()
    conn.close()
    kind = resp.getheader("Content-Type", "")
    decoded = json.loads(raw) if raw and kind.startswith("application/json") else raw
    return resp.status, decoded, {k.lower(): v for k, v in resp.getheaders()}


def drain(forge: Forge) -> list[dict[str, Any]]:
    events = []
    while (event := forge.next_event(timeout=0.2)) is not None:
        events.append(event)
    return events


def open_pull(forge: Forge, work: Path, token: str, branch: str = "feature") -> tuple[int, str]:
    git(work, "checkout", "-q", "-b", branch)
    sha = commit(work, "params.yaml", "train: {n_estimators: 40}\n", "raise n_estimators")
    git(work, "push", "-q", "origin", branch, token=token)
    status, pull, _ = call(
        forge, "POST", f"/{REPO}/pulls", token, {"title": "More trees", "head": branch, "base": "main"}
    )
    assert status == 201, pull
    return pull["number"], sha


def test_gh_api_round_trip_over_the_socket(forge: Forge, clone: Path, tmp_path: Path) -> None:
    user = forge.mint_token("user", "octocat")
    git(clone, "checkout", "-q", "-b", "feature")
    head = commit(clone, "params.yaml", "x: 1\n", "change a param")
    git(clone, "push", "-q", "origin", "feature", token=user)

    fields = ["-f", "title=More trees", "-f", "head=feature", "-f", "base=main"]
    created = gh(forge, tmp_path, user, "api", f"{REPO}/pulls", *fields)
    number = json.loads(created.stdout)["number"]
    read = gh(
        forge,
        tmp_path,
        user,
        "api",
        f"{REPO}/pulls/{number}",
        "--jq",
        "[.state, .head.ref, .head.sha, .user.login]",
    )
    assert json.loads(read.stdout) == ["open", "feature", head, "octocat"]
    # The same resource over TCP, with GitHub Enterprise's /api/v3 prefix.
    status, pull, _ = call(forge, "GET", f"/api/v3/{REPO}/pulls/{number}")
    assert status == 200 and pull["base"]["repo"]["full_name"] == "acme/flightdelay"
    assert pull["head"]["repo"]["fork"] is False
    bot = gh(forge, tmp_path, user, "api", f"users/{BOT}", "--jq", '.login + " " + .type')
    assert bot.stdout.strip() == f"{BOT} Bot"

    missing = gh(forge, tmp_path, user, "api", f"{REPO}/pulls/99", check=False)
    assert missing.returncode != 0 and "Not Found" in missing.stderr
    stranger = gh(forge, tmp_path, "ghp_not_minted_here", "api", f"{REPO}/pulls/{number}", check=False)
    assert stranger.returncode != 0 and "Bad credentials" in stranger.stderr


def test_user_push_to_a_feature_branch_emits_a_push_event(forge: Forge, clone: Path) -> None:
    user = forge.mint_token("user", "octocat")
    git(clone, "checkout", "-q", "-b", "data/2013-07")
    # Larger than git's 1 MiB post buffer, so the pack arrives with chunked transfer encoding.
    sha = commit(clone, "data/raw/2013-07.bin", os.urandom(3 * 1024 * 1024), "add July")
    git(clone, "push", "-q", "origin", "data/2013-07", token=user)

    events = drain(forge)
    assert [(e["event"], e["actor"], e["token_kind"]) for e in events] == [("push", "octocat", "user")]
    payload = events[0]["payload"]
    assert (payload["ref"], payload["after"], payload["created"]) == ("refs/heads/data/2013-07", sha, True)
    assert payload["commits"][0]["added"] == ["data/raw/2013-07.bin"]
    assert (
        payload["repository"]["full_name"] == "acme/flightdelay" and payload["sender"]["login"] == "octocat"
    )
    status, branch, _ = call(forge, "GET", f"/{REPO}/branches/data/2013-07")
    assert status == 200 and branch["commit"]["sha"] == sha
    assert call(forge, "GET", f"/{REPO}/branches/nope")[0] == 404

    anonymous = git(clone, "push", "origin", "data/2013-07:refs/heads/anon", check=False)
    assert anonymous.returncode != 0
    assert "refs/heads/anon" not in forge.state()["refs"]


def test_github_token_writes_start_no_workflow(forge: Forge, clone: Path) -> None:
    run_token = forge.mint_token("github_token", "github-actions[bot]", run_id=7)
    git(clone, "checkout", "-q", "-b", "retrain/2013-07")
    commit(clone, "params.yaml", "window: 2013-02..2013-07\n", "retrain")
    git(clone, "push", "-q", "origin", "retrain/2013-07", token=run_token)
    status, pull, _ = call(
        forge,
        "POST",
        f"/{REPO}/pulls",
        run_token,
        {"title": "Retrain", "head": "retrain/2013-07", "base": "main"},
    )
    assert status == 201 and pull["user"]["login"] == "github-actions[bot]"

    assert drain(forge) == []
    suppressed = forge.state()["suppressed_events"]
    assert [(e["event"], e["action"], e["run_id"]) for e in suppressed] == [
        ("push", None, 7),
        ("pull_request", "opened", 7),
    ]
    assert all(e["reason"] == "made with a workflow's GITHUB_TOKEN" for e in suppressed)


def test_a_run_token_is_refused_what_its_workflow_does_not_grant(forge: Forge, clone: Path) -> None:
    """GitHub's 403 for GITHUB_TOKEN beyond its `permissions:` (reads too: a fork may be private);
    a token with the scopes does the same calls, and a person's token is not scoped."""
    reader = forge.mint_token("github_token", "github-actions[bot]", run_id=8, scopes={"contents": "read"})
    refused = call(forge, "GET", f"/{REPO}/pulls", reader)
    assert refused[:2] == (
        403,
        {"message": "Resource not accessible by integration", "documentation_url": DOCS_URL},
    )
    assert call(forge, "POST", f"/{REPO}/issues", reader, {"title": "drift"})[0] == 403
    assert call(forge, "GET", f"/{REPO}/branches/main", reader)[0] == 200  # contents: read
    assert call(forge, "GET", f"/{REPO}", reader)[0] == 200  # metadata: always
    git(clone, "checkout", "-q", "-b", "retrain/2013-07")
    commit(clone, "params.yaml", "window: 2013-02..2013-07\n", "retrain")
    pushed = git(clone, "push", "origin", "retrain/2013-07", token=reader, check=False)
    assert pushed.returncode != 0
    assert "Permission to acme/flightdelay.git denied to github-actions[bot]" in pushed.stderr
    assert "refs/heads/retrain/2013-07" not in forge.state()["refs"]

    writer = forge.mint_token(
        "github_token",
        "github-actions[bot]",
        run_id=9,
        scopes={"contents": "write", "pull-requests": "write", "issues": "none"},
    )
    git(clone, "push", "-q", "origin", "retrain/2013-07", token=writer)
    opened = call(
        forge,
        "POST",
        f"/{REPO}/pulls",
        writer,
        {"title": "Retrain", "head": "retrain/2013-07", "base": "main"},
    )
    assert opened[0] == 201
    assert call(forge, "GET", f"/{REPO}/pulls", writer)[0] == 200
    assert call(forge, "POST", f"/{REPO}/issues", writer, {"title": "drift"})[0] == 403
    # An issue endpoint serves pull requests too: pull-requests: write may comment on one.
    number = opened[1]["number"]
    assert call(forge, "POST", f"/{REPO}/issues/{number}/comments", writer, {"body": "report"})[0] == 201
    person = forge.mint_token("user", "octocat")
    assert call(forge, "POST", f"/{REPO}/issues", person, {"title": "drift"})[0] == 201


@pytest.mark.parametrize(("kind", "actor"), [("user", "octocat"), ("github_token", "github-actions[bot]")])
def test_push_to_main_is_refused_whole_with_gh006(forge: Forge, clone: Path, kind: str, actor: str) -> None:
    token = forge.mint_token(kind, actor, run_id=3 if kind == "github_token" else None)  # type: ignore[arg-type]
    before = forge.state()["refs"]["refs/heads/main"]
    commit(clone, "models/cards/model-v1.md", "# model v1\n", "release card")
    git(clone, "tag", "model-v1")

    pushed = git(clone, "push", "--atomic", "origin", "main", "model-v1", token=token, check=False)

    assert pushed.returncode != 0
    assert "remote: error: GH006: Protected branch update failed for refs/heads/main." in pushed.stderr
    state = forge.state()
    assert state["refs"]["refs/heads/main"] == before
    assert "model-v1" not in state["tags"]
    refused = state["refused_pushes"]
    assert [(r["actor"], r["token_kind"]) for r in refused] == [(actor, kind)]
    assert {u["ref"] for u in refused[0]["refs"]} == {"refs/heads/main", "refs/tags/model-v1"}
    assert "GH006" in refused[0]["reason"]
    assert state["pushes"] == [p for p in state["pushes"] if p["via"] == "seed"]
    assert drain(forge) == []


def test_an_app_token_asked_for_some_permissions_holds_those_only(forge: Forge, clone: Path) -> None:
    key = "-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----"
    forge.register_app("77", key)
    asked = {"app_id": "77", "private_key": key, "permissions": {"contents": "write"}}
    status, minted, _ = call(forge, "POST", "/_forge/app-token", body=asked)
    assert status == 201
    git(clone, "checkout", "-q", "-b", "promote")
    commit(clone, "deploy/overlays/production/kustomization.yaml", "images: []\n", "promote")
    git(clone, "push", "-q", "origin", "promote", token=minted["token"])  # contents: write
    pr = {"title": "Promote", "head": "promote", "base": "main"}
    assert call(forge, "POST", f"/{REPO}/pulls", minted["token"], pr)[0] == 403  # no pull-requests
    bad = {**asked, "permissions": {"pull_requests": "admin"}}
    refused = call(forge, "POST", "/_forge/app-token", body=bad)
    assert refused[0] == 422 and "admin" in refused[1]["message"]
    everything = call(forge, "POST", "/_forge/app-token", body={"app_id": "77", "private_key": key})[1]
    assert call(forge, "POST", f"/{REPO}/pulls", everything["token"], pr)[0] == 201  # the App's own set


def test_app_push_to_main_is_accepted(forge: Forge, clone: Path) -> None:
    forge.register_app("123456", "-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----\n")
    wrong = call(forge, "POST", "/_forge/app-token", body={"app_id": "123456", "private_key": "other"})
    assert wrong[0] == 401 and "private key" in wrong[1]["message"]
    key = "-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----"  # trailing newline trimmed
    status, minted, _ = call(forge, "POST", "/_forge/app-token", body={"app_id": 123456, "private_key": key})
    assert status == 201 and minted["app_slug"] == "flightdelay-bot"
    sha = commit(clone, "deploy/overlays/staging/kustomization.yaml", "images: []\n", "bump staging")
    git(clone, "tag", "model-v1")

    # Credentials in the URL this time: git retries with them after the forge's 401 challenge.
    with_token = forge.git_url.replace("http://", f"http://x-access-token:{minted['token']}@")
    git(clone, "push", "-q", "--atomic", with_token, "main", "model-v1")

    state = forge.state()
    assert state["refs"]["refs/heads/main"] == sha and state["tags"]["model-v1"] == sha
    events = drain(forge)
    assert [(e["payload"]["ref"], e["actor"], e["token_kind"]) for e in events] == [
        ("refs/heads/main", BOT, "app"),
        ("refs/tags/model-v1", BOT, "app"),
    ]
    deleted = git(clone, "push", "origin", ":main", token=minted["token"], check=False)
    assert deleted.returncode != 0 and "GH006" in deleted.stderr


def test_merge_waits_for_a_green_gate_then_makes_a_merge_commit(forge: Forge, clone: Path) -> None:
    user = forge.mint_token("user", "octocat")
    main_before = forge.state()["refs"]["refs/heads/main"]
    number, head = open_pull(forge, clone, user)
    assert [(e["event"], e["action"]) for e in drain(forge)] == [("push", None), ("pull_request", "opened")]
    merge = f"/{REPO}/pulls/{number}/merge"

    status, body, _ = call(forge, "PUT", merge, user, {})
    assert (status, body["message"]) == (405, 'Required status check "gate" is expected.')
    forge.record_check(head, "gate", "failure", "pr.yml", run_id=11)
    status, body, _ = call(forge, "PUT", merge, user, {})
    assert (status, body["message"]) == (405, 'Required status check "gate" has failed.')
    forge.record_check(head, "gate", "success", "pr.yml", run_id=12)
    # A new commit on the branch moves the head: the green gate was for the old one.
    new_head = commit(clone, "params.yaml", "train: {n_estimators: 50}\n", "even more trees")
    git(clone, "push", "-q", "origin", "feature", token=user)
    sync = [e for e in drain(forge) if e["event"] == "pull_request"]
    assert [(e["action"], e["payload"]["before"], e["payload"]["after"]) for e in sync] == [
        ("synchronize", head, new_head)
    ]
    assert call(forge, "PUT", merge, user, {})[0] == 405
    assert (
        call(
            forge,
            "POST",
            f"/{REPO}/check-runs",
            user,
            {"name": "gate", "head_sha": new_head, "conclusion": "success"},
        )[0]
        == 403
    )
    forge.record_check(new_head, "gate", "success", "pr.yml", run_id=13)
    status, checks, _ = call(forge, "GET", f"/{REPO}/commits/{new_head}/check-runs?check_name=gate")
    assert status == 200 and [c["conclusion"] for c in checks["check_runs"]] == ["success"]

    status, body, _ = call(forge, "PUT", merge, user, {"merge_method": "merge"})

    assert status == 200 and body["merged"] is True
    merge_sha = body["sha"]
    assert forge.state()["refs"]["refs/heads/main"] == merge_sha
    git(clone, "fetch", "-q", "origin")
    parents = git(clone, "rev-list", "--parents", "-n1", merge_sha).stdout.split()
    assert parents == [merge_sha, main_before, new_head]
    events = drain(forge)
    assert [(e["event"], e["action"], e["actor"]) for e in events] == [
        ("push", None, "octocat"),
        ("pull_request", "closed", "octocat"),
    ]
    assert (
        events[0]["payload"]["after"] == merge_sha and events[1]["payload"]["pull_request"]["merged"] is True
    )
    status, pulls, _ = call(forge, "GET", f"/{REPO}/commits/{merge_sha}/pulls")
    assert [p["number"] for p in pulls] == [number]
    assert call(forge, "PUT", merge, user, {})[0] == 405  # already merged


def test_pull_request_validation_and_fork_flag(forge: Forge, clone: Path) -> None:
    user = forge.mint_token("user", "octocat")
    number, _ = open_pull(forge, clone, user)
    status, body, _ = call(
        forge, "POST", f"/{REPO}/pulls", user, {"title": "again", "head": "acme:feature", "base": "main"}
    )
    assert status == 422 and body["errors"][0]["message"] == "A pull request already exists for acme:feature."
    assert (
        call(forge, "POST", f"/{REPO}/pulls", user, {"title": "x", "head": "nope", "base": "main"})[0] == 422
    )
    git(clone, "checkout", "-q", "-b", "fork-change", "main")
    commit(clone, "README.md", "fork\n", "fork change")
    git(clone, "push", "-q", "origin", "fork-change", token=user)
    from_fork = {"title": "from a fork", "head": "forker:fork-change", "base": "main", "fork": True}
    status, fork, _ = call(forge, "POST", f"/{REPO}/pulls", user, from_fork)
    assert status == 201
    assert (fork["head"]["repo"]["full_name"], fork["head"]["repo"]["fork"]) == ("forker/flightdelay", True)
    status, listed, _ = call(forge, "GET", f"/{REPO}/pulls?state=open&head=acme:feature")
    assert [p["number"] for p in listed] == [number]
    status, closed, _ = call(forge, "PATCH", f"/{REPO}/pulls/{number}", user, {"state": "closed"})
    assert closed["state"] == "closed" and closed["merged"] is False


def test_cml_like_sticky_comment_flow(forge: Forge, clone: Path, tmp_path: Path) -> None:
    """What the comment step does: list the PR's comments, find the watermarked one, update it in place."""
    user = forge.mint_token("user", "octocat")
    bot = forge.mint_token("github_token", "github-actions[bot]", run_id=21)
    number, _ = open_pull(forge, clone, user)
    watermark = "<!-- cml_comment_id: report -->"
    for body in ("LGTM", f"## Report v1\n\n{watermark}", "one more thought"):
        assert call(forge, "POST", f"/{REPO}/issues/{number}/comments", bot, {"body": body})[0] == 201

    status, page1, headers = call(forge, "GET", f"/{REPO}/issues/{number}/comments?per_page=2")
    assert status == 200 and len(page1) == 2 and 'rel="next"' in headers["link"]
    listed = json.loads(
        gh(
            forge, tmp_path, bot, "api", "--paginate", f"{REPO}/issues/{number}/comments?per_page=2"
        ).stdout.replace("][", ",")
    )
    assert [c["body"].splitlines()[0] for c in listed] == ["LGTM", "## Report v1", "one more thought"]
    sticky = next(c for c in reversed(listed) if watermark in c["body"])

    new_body = f"## Report v2\n\n{watermark}"
    gh(
        forge,
        tmp_path,
        bot,
        "api",
        "-X",
        "PATCH",
        f"{REPO}/issues/comments/{sticky['id']}",
        "-f",
        f"body={new_body}",
    )

    status, comment, _ = call(forge, "GET", f"/{REPO}/issues/comments/{sticky['id']}")
    assert comment["body"] == new_body and comment["user"]["login"] == "github-actions[bot]"
    bodies = [c["body"] for c in forge.state()["comments"]]
    assert len(bodies) == 3 and sum(watermark in b for b in bodies) == 1
    status, issue, _ = call(forge, "GET", f"/{REPO}/issues/{number}")
    assert issue["comments"] == 3 and "pull_request" in issue


def test_release_and_asset_round_trip_with_gh(forge: Forge, clone: Path, tmp_path: Path) -> None:
    app = forge.mint_token("app", BOT)
    fields = ["-f", "tag_name=model-v1", "-f", "name=Model v1", "-f", "body=card", "-f", "make_latest=true"]
    created = gh(forge, tmp_path, app, "api", f"{REPO}/releases", *fields)
    release = json.loads(created.stdout)
    assert forge.state()["tags"]["model-v1"] == forge.state()["refs"]["refs/heads/main"]
    card = tmp_path / "model-card.md"
    card.write_bytes(b"# Model v1\n\xffbinary-safe\n")
    upload_url = release["upload_url"].split("{")[0] + "?name=model-card.md"
    assert upload_url.startswith("https://uploads.github.com/")
    octet = "Content-Type: application/octet-stream"
    uploaded = gh(forge, tmp_path, app, "api", "-X", "POST", upload_url, "-H", octet, "--input", str(card))
    asset = json.loads(uploaded.stdout)
    assert (asset["name"], asset["size"]) == ("model-card.md", card.stat().st_size)

    downloaded = subprocess.run(
        ["gh", "api", "-H", "Accept: application/octet-stream", f"{REPO}/releases/assets/{asset['id']}"],
        env=gh_env(forge, tmp_path, app),
        capture_output=True,
        check=True,
        timeout=60,
    )
    assert downloaded.stdout == card.read_bytes()
    latest = gh(
        forge, tmp_path, app, "api", f"{REPO}/releases/latest", "--jq", ".tag_name, (.assets | length)"
    )
    assert latest.stdout.split() == ["model-v1", "1"]
    by_tag = call(forge, "GET", f"/{REPO}/releases/tags/model-v1")
    assert by_tag[0] == 200 and by_tag[1]["id"] == release["id"]
    assert call(forge, "POST", f"/{REPO}/releases", app, {"tag_name": "model-v1"})[0] == 422


def test_state_json_holds_every_kind_of_record(forge: Forge, clone: Path, tmp_path: Path) -> None:
    user = forge.mint_token("user", "octocat")
    drift = {"name": "drift", "color": "B60205", "description": "data drift"}
    assert call(forge, "POST", f"/{REPO}/labels", user, drift)[0] == 201
    status, dup, _ = call(forge, "POST", f"/{REPO}/labels", user, drift)
    assert status == 422 and dup["errors"][0]["code"] == "already_exists"
    status, issue, _ = call(
        forge, "POST", f"/{REPO}/issues", user, {"title": "Drift in 2013-07", "labels": ["drift"]}
    )
    assert status == 201
    call(
        forge,
        "PATCH",
        f"/{REPO}/issues/{issue['number']}",
        user,
        {"state": "closed", "state_reason": "completed"},
    )
    assert [(e["event"], e["action"]) for e in drain(forge)] == [("issues", "opened"), ("issues", "closed")]
    assert call(forge, "GET", f"/{REPO}/issues?labels=drift&state=open")[1] == []
    assert [i["number"] for i in call(forge, "GET", f"/{REPO}/issues?labels=drift&state=closed")[1]] == [
        issue["number"]
    ]
    commit(clone, ".github/workflows/drift.yml", "on: workflow_dispatch\n", "workflow")
    forge.seed(clone)
    assert call(forge, "PUT", f"/{REPO}/actions/workflows/drift.yml/enable", user)[0] == 204
    forge.record_run({"id": 31, "name": "pr", "event": "pull_request", "conclusion": "success"})
    report = tmp_path / "report"
    report.mkdir()
    (report / "report.md").write_text("table\n")
    assert (
        call(forge, "POST", "/_forge/artifacts", body={"run_id": 31, "name": "report", "path": str(report)})[
            0
        ]
        == 201
    )
    assert (
        call(
            forge,
            "POST",
            "/_forge/images",
            user,
            {"ref": "ghcr.io/acme/flightdelay:v1", "digest": "sha256:ab"},
        )[0]
        == 201
    )
    status, arts, _ = call(forge, "GET", f"/{REPO}/actions/runs/31/artifacts")
    assert status == 200 and [(a["name"], a["size_in_bytes"]) for a in arts["artifacts"]] == [("report", 6)]

    on_disk = json.loads((forge.root / "state.json").read_text())
    status, served, _ = call(forge, "GET", "/_forge/state")

    assert status == 200
    assert on_disk.keys() >= REQUIRED_STATE_KEYS and served.keys() >= REQUIRED_STATE_KEYS
    assert on_disk["images"][0]["ref"] == "ghcr.io/acme/flightdelay:v1"
    assert on_disk["workflows"]["drift.yml"]["state"] == "active"
    assert on_disk["issues"][0]["state_reason"] == "completed" and on_disk["labels"][0]["name"] == "drift"
    assert {w["path"] for w in on_disk["writes"]} >= {f"/{REPO}/labels", f"/{REPO}/issues"}


@pytest.mark.parametrize("depth", ["f", "f" * 120])
def test_stop_is_idempotent_and_removes_the_socket(tmp_path: Path, depth: str) -> None:
    """A root too deep for a unix socket path (108 bytes) gets its socket in a short temporary directory."""
    forge = Forge(tmp_path / depth).start()
    sock = forge.socket_path
    assert sock.exists() and len(str(sock)) <= 100
    assert (
        json.loads(gh(forge, tmp_path, forge.mint_token("user", "octocat"), "api", REPO).stdout)["private"]
        is False
    )
    forge.stop()
    forge.stop()
    assert not sock.exists()
    assert not sock.parent.exists() or sock.parent == forge.root


def test_an_installation_token_revokes_itself(forge: Forge) -> None:
    """create-github-app-token's post step: DELETE /installation/token, then the token is dead."""
    forge.register_app("7", "key-7")
    token = str(forge.app_token("7", "key-7")["token"])
    assert call(forge, "DELETE", "/installation/token", forge.mint_token("user", "acme"))[0] == 403
    assert call(forge, "DELETE", "/installation/token", token)[0] == 204
    assert call(forge, "GET", "/repos/acme/flightdelay", token)[0] == 401


def test_a_rollback_marks_an_older_release_latest(forge: Forge, clone: Path) -> None:
    """promote.yml's rollback: PATCH make_latest, so PR gates read the restored champion."""
    token = forge.mint_token("user", "acme")
    ids = []
    for tag in ("model-v1", "model-v2"):
        status, body, _ = call(forge, "POST", "/repos/acme/flightdelay/releases", token, {"tag_name": tag})
        assert status == 201, body
        ids.append(body["id"])
    assert call(forge, "GET", "/repos/acme/flightdelay/releases/latest", token)[1]["tag_name"] == "model-v2"
    status, _, _ = call(
        forge, "PATCH", f"/repos/acme/flightdelay/releases/{ids[0]}", token, {"make_latest": "true"}
    )
    assert status == 200
    assert call(forge, "GET", "/repos/acme/flightdelay/releases/latest", token)[1]["tag_name"] == "model-v1"
