"""A local double of GitHub: REST API, git smart HTTP and GitHub's rules over a real bare git repository.

Python API (the harness runs the forge in-process)::

    forge = Forge(root, owner="acme", repo="flightdelay", bypass=("flightdelay-bot[bot]",)).start()
    forge.base_url      # http://127.0.0.1:<port>  (REST, also under /api/v3, and /_forge/…)
    forge.socket_path   # <root>/forge.sock (a short temp path when that is too long for a unix socket)
    forge.git_url       # <base_url>/acme/flightdelay.git  (the bare repo is <root>/git/acme/flightdelay.git)
    forge.seed(worktree)                         # push its HEAD to main as the repo's creation (no event)
    token = forge.mint_token("user" | "github_token" | "app", actor, run_id=None)
    forge.register_app(app_id, private_key, slug="flightdelay-bot")   # for POST /_forge/app-token
    forge.events        # queue.Queue of triggers; forge.next_event(timeout) -> dict | None
    forge.record_check(sha, name, conclusion, workflow, run_id) -> check run dict
    forge.record_run(run)                        # a dict with "id" (+ name, event, head_sha, conclusion, …)
    forge.register_artifact(run_id, name, path)  # listed by GET …/actions/runs/{id}/artifacts
    forge.register_image(ref, digest)
    forge.state() -> dict                        # also <root>/state.json after each change, GET /_forge/state
    forge.write_gh_config(dir)                   # then GH_CONFIG_DIR=dir GH_TOKEN=<token> gh api … lands here
    forge.stop()                                 # idempotent; also `with Forge(...) as forge:`

An event is {"id", "event", "action", "actor", "token_kind", "run_id", "payload"}; `payload` is what GitHub
puts in the event file (`repository` and `sender` included): push (one per ref: ref, before, after, created,
deleted, commits with added/removed/modified, head_commit, pusher), pull_request (opened, edited, synchronize
with before/after, closed with pull_request.merged, reopened, labeled), issues, issue_comment, release,
workflow_dispatch (payload: ref, workflow, inputs). Events made with a `github_token` go to
state["suppressed_events"] instead (GitHub starts no workflow for them), except workflow_dispatch.

Tokens: `user` (a person), `github_token` (a run's GITHUB_TOKEN, tied to run_id), `app` (an installation
token; actor `<slug>[bot]`). REST and git accept `Authorization: token|Bearer <t>` or `Basic
base64(x-access-token:<t>)`; an unknown token is 401; anonymous reads and fetches are allowed, anonymous
writes and pushes are not.

Rules: a push that updates or deletes refs/heads/main is refused whole (GH006, a tag in the same push too)
unless the actor is on `bypass` (deleting main is always refused); a pull request merges (PUT …/merge) only
when the newest check run named `gate` on its head concluded `success` (bypass actors excepted); the merge
is a real merge commit on main, recorded as a push by the merging actor.

REST endpoints (GitHub's shapes; 404 {"message": "Not Found"}; 422 "Validation Failed" with errors):
  GET /repos/{o}/{r}, GET /users/{login}, GET /user, GET …/branches[/{branch}], GET …/commits/{ref},
  GET …/commits/{sha}/pulls, GET …/git/ref/{ref}
  POST|GET …/pulls (state, head=owner:branch, base; internal body flag "fork": true), GET|PATCH …/pulls/{n},
  PUT …/pulls/{n}/merge (merge_method merge|squash, sha)
  POST|GET …/issues (state, labels, creator), GET|PATCH …/issues/{n}, POST …/issues/{n}/labels,
  DELETE …/issues/{n}/labels/{name}, POST|GET …/issues/{n}/comments (per_page, page, Link header),
  GET …/issues/comments, GET|PATCH|DELETE …/issues/comments/{id}
  POST|GET …/labels, GET|PATCH|DELETE …/labels/{name}
  POST|GET …/releases, GET …/releases/latest, …/releases/tags/{tag}, …/releases/{id},
  POST|GET …/releases/{id}/assets (upload: ?name=, raw body; uploads.github.com accepted),
  GET …/releases/assets/{id} (Accept: application/octet-stream -> the bytes),
  GET /{o}/{r}/releases/download/{tag}/{name}
  POST …/check-runs (not with a user token), GET|PATCH …/check-runs/{id}, GET …/commits/{ref}/check-runs
  PUT …/actions/workflows/{file}/enable|disable, GET …/actions/workflows/{file},
  POST …/actions/workflows/{file}/dispatches, GET …/actions/runs[/{id}], GET …/actions/runs/{id}/artifacts,
  GET …/actions/artifacts
Internal: POST /_forge/app-token {app_id, private_key} -> {token, app_slug, installation_id, expires_at};
  POST /_forge/images {ref, digest}; POST /_forge/artifacts {run_id, name, path}; POST /_forge/runs {id, …};
  GET /_forge/state; POST /_forge/hooks/pre-receive|post-receive (the git hooks, forge_hook.py).
"""

from __future__ import annotations

import hmac
import json
import queue
import secrets
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from rehearsal import forge_internal, forge_issues, forge_pulls, forge_releases
from rehearsal.forge_core import (
    ApiError,
    Identity,
    Json,
    Request,
    Response,
    Store,
    TokenKind,
    check_scope,
    now_iso,
    user_json,
)
from rehearsal.forge_git import ZERO_SHA, BareRepo, clean_env
from rehearsal.forge_http import Router, TcpServer, UnixServer, handler_for
from rehearsal.forge_internal import state_json
from rehearsal.forge_model import pull_json, repo_json
from rehearsal.forge_releases import check_json, new_check
from rehearsal.scopes import granted

TOKEN_PREFIX: dict[str, str] = {"user": "ghp_", "github_token": "ghs_", "app": "ghs_"}
MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux


class Forge:
    """The forge: one repository, its bare git repo, the state GitHub would hold, and two HTTP servers."""

    def __init__(
        self,
        root: Path,
        owner: str = "acme",
        repo: str = "flightdelay",
        bypass: tuple[str, ...] = ("flightdelay-bot[bot]",),
        port: int = 0,
        default_branch: str = "main",
    ) -> None:
        self.root = Path(root).resolve()
        self.owner, self.repo, self.bypass = owner, repo, tuple(bypass)
        self.default_branch = default_branch
        self.full_name = f"{owner}/{repo}"
        self.port = port
        self.lock = threading.RLock()
        self.store = Store()
        self.latest_release: int | None = None
        self.events: queue.Queue[Json] = queue.Queue()
        self.users: set[str] = {owner, "github-actions[bot]", "forker", *bypass}
        self.git_root = self.root / "git"
        self.git = BareRepo(self.git_root / owner / f"{repo}.git")
        self._tokens: dict[str, Identity] = {}
        self._apps: dict[str, tuple[str, str]] = {}  # app_id -> (private key, slug)
        self._admin_secret = secrets.token_hex(16)
        self._tcp: TcpServer | None = None
        self._unix: UnixServer | None = None
        self._socket_path: Path | None = None
        self._threads: list[threading.Thread] = []
        self._router = Router()
        for module in (forge_pulls, forge_issues, forge_releases, forge_internal):
            module.add_routes(self._router)

    # lifecycle ---------------------------------------------------------------------------------
    def start(self) -> Self:
        self.root.mkdir(parents=True, exist_ok=True)
        self.git.init(self.default_branch)
        self._tcp = TcpServer(("127.0.0.1", self.port), handler_for(self, self._router))
        sock = self.root / "forge.sock"
        if len(str(sock).encode()) > MAX_SOCKET_PATH:
            sock = Path(tempfile.mkdtemp(prefix="forge-")) / "forge.sock"
        sock.unlink(missing_ok=True)
        self._socket_path = sock
        self._unix = UnixServer(str(sock), handler_for(self, self._router))
        self.git.install_hooks(self.base_url)
        for server in (self._tcp, self._unix):
            thread = threading.Thread(target=server.serve_forever, name="forge-http", daemon=True)
            thread.start()
            self._threads.append(thread)
        self.save()
        return self

    def stop(self) -> None:
        for server in (self._tcp, self._unix):
            if server is not None:
                server.shutdown()
                server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._tcp = self._unix = None
        self._threads = []
        if self._socket_path is not None:
            self._socket_path.unlink(missing_ok=True)
            if self._socket_path.parent != self.root and self._socket_path.parent.name.startswith("forge-"):
                self._socket_path.parent.rmdir()
            self._socket_path = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._tcp is None:
            raise RuntimeError("the forge is not running: call start() first")
        return f"http://127.0.0.1:{self._tcp.server_address[1]}"

    @property
    def socket_path(self) -> Path:
        if self._socket_path is None:
            raise RuntimeError("the forge is not running: call start() first")
        return self._socket_path

    @property
    def git_url(self) -> str:
        return f"{self.base_url}/{self.full_name}.git"

    def describe(self) -> Json:
        """Where the forge is and what it enforces (the "forge" entry of the state)."""
        running = self._tcp is not None
        return {
            "owner": self.owner,
            "repo": self.repo,
            "default_branch": self.default_branch,
            "bypass": list(self.bypass),
            "base_url": self.base_url if running else None,
            "git_url": self.git_url if running else None,
            "socket_path": str(self._socket_path) if self._socket_path else None,
        }

    def write_gh_config(self, directory: Path) -> Path:
        """A gh config dir whose requests (to api.github.com and uploads.github.com) all go to the forge."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        config = directory / "config.yml"
        config.write_text(f"http_unix_socket: {self.socket_path}\nprompt: disabled\ngit_protocol: https\n")
        return config

    # tokens --------------------------------------------------------------------------------------
    def mint_token(
        self, kind: TokenKind, actor: str, run_id: int | None = None, scopes: Mapping[str, str] | None = None
    ) -> str:
        """A token for `actor`; with `scopes` (a run's GITHUB_TOKEN, an App token asked for some
        permissions) the forge refuses it what they do not grant."""
        if kind not in TOKEN_PREFIX:
            raise ValueError(f"token kind {kind!r} is not one of {sorted(TOKEN_PREFIX)}")
        if kind == "github_token" and run_id is None:
            raise ValueError("a github_token belongs to a workflow run: pass run_id")
        token = TOKEN_PREFIX[kind] + secrets.token_hex(18)
        with self.lock:
            held = tuple(sorted(scopes.items())) if scopes is not None else None
            self._tokens[token] = Identity(kind, actor, run_id, held)
            self.users.add(actor)
        return token

    def revoke_token(self, token: str) -> bool:
        """Forget a token (DELETE /installation/token); True when it was known."""
        with self.lock:
            return self._tokens.pop(token, None) is not None

    def identify(self, token: str) -> Identity | None:
        with self.lock:
            return self._tokens.get(token)

    def is_admin_secret(self, value: str) -> bool:
        return bool(value) and hmac.compare_digest(value, self._admin_secret)

    def register_app(self, app_id: str | int, private_key: str, slug: str = "flightdelay-bot") -> None:
        with self.lock:
            self._apps[str(app_id)] = (private_key.strip(), slug)
            self.users.add(f"{slug}[bot]")

    def app_token(self, app_id: str, private_key: str, permissions: Mapping[str, str] | None = None) -> Json:
        """An installation token for the registered App (what actions/create-github-app-token returns):
        with `permissions` (the action's `permission-*` inputs, e.g. pull_requests: write) it holds
        those scopes only, as GitHub's token does; without, the App's own (not restricted here)."""
        with self.lock:
            app = self._apps.get(app_id)
            if app is None:
                known = ", ".join(sorted(self._apps)) or "none"
                raise ApiError(
                    401,
                    f"No GitHub App with app_id {app_id!r} is registered with the forge (known: {known}).",
                )
            if not hmac.compare_digest(app[0], private_key.strip()):
                raise ApiError(
                    401,
                    f"The private key is not the one of GitHub App {app_id} ({app[1]}): check the secret.",
                )
            asked = None
            if permissions:
                try:
                    asked = granted({str(k).replace("_", "-"): v for k, v in permissions.items()})
                except ValueError as exc:
                    raise ApiError(422, f"Invalid permissions requested: {exc}") from None
            token = self.mint_token("app", f"{app[1]}[bot]", scopes=asked)
        return {
            "token": token,
            "app_slug": app[1],
            "installation_id": 1000 + int(app_id) if app_id.isdigit() else 1000,
            "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600)),
        }

    # requests and events -----------------------------------------------------------------------
    def handle(self, router: Router, req: Request) -> Response:
        """Answer one API request under the lock; a successful write is logged with its author, then saved."""
        check_scope(req.identity, req.method, req.path)
        with self.lock:
            response = router.dispatch(self, req)
            if req.method != "GET" and response.status < 400:
                if req.identity is not None and not req.path.startswith("/_forge/hooks/"):
                    self.store.writes.append(
                        {
                            "method": req.method,
                            "path": req.path,
                            "actor": req.identity.actor,
                            "token_kind": req.identity.kind,
                            "run_id": req.identity.run_id,
                        }
                    )
                self.save()
        return response

    def emit(self, identity: Identity, event: str, action: str | None, payload: Json) -> None:
        """Queue a trigger, or record it as suppressed when a workflow's GITHUB_TOKEN caused it."""
        full = {**payload, "repository": repo_json(self), "sender": user_json(identity.actor)}
        record: Json = {
            "event": event,
            "action": action,
            "actor": identity.actor,
            "token_kind": identity.kind,
            "run_id": identity.run_id,
            "payload": full,
        }
        with self.lock:
            if identity.triggers or event in ("workflow_dispatch", "repository_dispatch"):
                record["id"] = len(self.store.events) + 1
                self.store.events.append(record)
                self.events.put(record)
            else:
                self.store.suppressed_events.append(
                    {**record, "reason": "made with a workflow's GITHUB_TOKEN"}
                )

    def next_event(self, timeout: float | None = None) -> Json | None:
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            return None

    def record_push(self, identity: Identity, updates: list[Json], via: str) -> None:
        """A push that landed: record it, emit push per ref and synchronize for pull requests it moved."""
        with self.lock:
            self.store.pushes.append(
                {
                    "actor": identity.actor,
                    "token_kind": identity.kind,
                    "run_id": identity.run_id,
                    "refs": updates,
                    "via": via,
                    "at": now_iso(),
                }
            )
            if identity.kind == "admin":  # seeding creates the repository; GitHub shows no event for that
                self.save()
                return
            for update in updates:
                ref, before, after = update["ref"], update["before"], update["after"]
                commits = self.git.pushed_commits(ref, before, after)
                self.emit(
                    identity,
                    "push",
                    None,
                    {
                        "ref": ref,
                        "before": before,
                        "after": after,
                        "created": before == ZERO_SHA,
                        "deleted": after == ZERO_SHA,
                        "forced": ZERO_SHA not in (before, after) and not self.git.is_ancestor(before, after),
                        "base_ref": None,
                        "commits": commits,
                        "head_commit": commits[-1] if commits else None,
                        "pusher": {"name": identity.actor, "email": None},
                    },
                )
                if ref.startswith("refs/heads/") and after != ZERO_SHA:
                    for number in forge_pulls.synchronize(self, ref[len("refs/heads/") :], after):
                        payload = {
                            "action": "synchronize",
                            "number": number,
                            "before": before,
                            "after": after,
                            "pull_request": pull_json(self, number),
                        }
                        self.emit(identity, "pull_request", "synchronize", payload)
            self.save()

    # what the harness records --------------------------------------------------------------------
    def record_check(self, sha: str, name: str, conclusion: str, workflow: str, run_id: int) -> Json:
        with self.lock:
            data = {"name": name, "conclusion": conclusion, "workflow": workflow, "run_id": run_id}
            check_id = new_check(
                self, sha, data, {"actor": "github-actions[bot]", "token_kind": "app", "run_id": run_id}
            )
            self.save()
            return check_json(self, check_id)

    def record_run(self, run: dict[str, Any]) -> None:
        if "id" not in run:
            raise ValueError("a run needs an 'id' (its GITHUB_RUN_ID)")
        with self.lock:
            self.store.runs[int(run["id"])] = {**self.store.runs.get(int(run["id"]), {}), **run}
            self.save()

    def register_artifact(self, run_id: int, name: str, path: str | Path) -> Json:
        target = Path(path)
        size = (
            sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
            if target.is_dir()
            else (target.stat().st_size if target.exists() else 0)
        )
        with self.lock:
            artifact_id = self.store.new_id()
            self.store.artifacts[artifact_id] = {
                "name": name,
                "run_id": int(run_id),
                "path": str(path),
                "size_in_bytes": size,
                "created_at": now_iso(),
            }
            self.save()
            return {"id": artifact_id, **self.store.artifacts[artifact_id]}

    def register_image(self, ref: str, digest: str, identity: Identity | None = None) -> Json:
        with self.lock:
            image = {
                "ref": ref,
                "digest": digest,
                "actor": identity.actor if identity else None,
                "at": now_iso(),
            }
            self.store.images.append(image)
            self.save()
            return image

    def seed(self, worktree: Path, branch: str | None = None) -> str:
        """Push `worktree`'s HEAD to `branch` (default: main) as the repository's creation: no event."""
        branch = branch or self.default_branch
        env = clean_env({"FORGE_ADMIN": self._admin_secret, "FORGE_URL": self.base_url})
        proc = subprocess.run(
            ["git", "push", "--quiet", str(self.git.path), f"HEAD:refs/heads/{branch}"],
            cwd=worktree,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"seeding {branch} from {worktree} failed: {proc.stderr.strip()}")
        sha = self.git.rev_parse(f"refs/heads/{branch}")
        if sha is None:
            raise RuntimeError(f"seeding {branch} left no branch behind")
        return sha

    # state ---------------------------------------------------------------------------------------
    def state(self) -> Json:
        """Everything the forge holds, as state.json and GET /_forge/state show it."""
        with self.lock:
            return state_json(self)

    def save(self) -> None:
        """Write state.json atomically, so another process never reads half of it."""
        with self.lock:
            data = json.dumps(self.state(), indent=1)
            tmp = self.root / "state.json.tmp"
            tmp.write_text(data)
            tmp.replace(self.root / "state.json")


__all__ = ["Forge", "TokenKind"]
