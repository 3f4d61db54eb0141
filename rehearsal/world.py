"""The rehearsal's world: services, the forge holding a copy of this project, and a maintainer acting on it.

`World` starts an S3-compatible server (DVC remote and MLflow artifacts), an `mlflow server`, a
Pushgateway and the forge; seeds the forge's repository from this project's tracked files (as a
fork's first commit); and acts as the maintainer does on GitHub: pushes branches, opens and merges
pull requests, and as GitHub itself: schedule ticks and manual dispatches. Everything stops on
exit, on error and on Ctrl-C.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import secrets
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import yaml

from rehearsal import services
from rehearsal.engine import Engine
from rehearsal.forge import Forge

PROJECT = Path(__file__).resolve().parents[1]
OWNER, REPO = "acme", "flightdelay"
APP_ID, APP_SLUG = "424242", "flightdelay-bot"
BUCKET = "flightdelay"
DRIFT_CRON = "23 5 * * *"
# The fast configuration a fork might choose: two months, a small model, retraining on first drift.
FAST_PARAMS: dict[str, dict[str, Any]] = {
    "data": {"window": {"start": "2013-05", "end": "2013-06"}},
    "train": {
        "n_estimators": 40,
        "max_depth": 4,
        "learning_rate": 0.1,
        "colsample_bytree": 0.8,
        "reg_lambda": 1.0,
    },
    "backtest": {"min_train_months": 1},  # two months: June scored by a model of May
    "drift": {"trigger": {"n": 1, "m": 1}},  # ask for retraining on the first drifted check
}


def _bin(name: str) -> Path:
    """A tool of the project's environments (.venv, .venv-tools), else PATH."""
    for folder in (
        Path(sys.executable).parent,
        Path(os.environ.get("FLIGHTDELAY_TOOLS_BIN", PROJECT / ".venv-tools/bin")),
    ):
        if (folder / name).exists():
            return folder / name
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(
            f"{name} is not installed: run `make setup tools` (act and weed come with `make tools`)"
        )
    return Path(found)


class WorldBusy(RuntimeError):
    """Another rehearsal holds the scratch folder."""


class World:
    def __init__(
        self,
        work: Path,
        *,
        fast: bool,
        workflows_from: str | None = None,
        say: Callable[[str], None] = print,
        registry: bool = True,
        variables: Mapping[str, str] | None = None,
    ) -> None:
        self.work = work.resolve()
        self.fast = fast
        self.registry = registry  # False: no MLflow server and no Pushgateway (a one-workflow test)
        self.extra_variables = dict(variables or {})
        self.workflows_from = workflows_from  # a git ref of this project: rehearse its workflow files
        self.say = say
        self.stack = contextlib.ExitStack()
        self.clone = self.work / "maintainer"

    # --- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> Self:
        self._lock()
        if self.work.exists():
            shutil.rmtree(self.work)
        self.work.mkdir(parents=True)
        try:
            self._start()
        except BaseException:
            self.stack.close()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stack.close()

    def _lock(self) -> None:
        """One rehearsal per scratch folder: a second one would delete the first one's world."""
        self.work.parent.mkdir(parents=True, exist_ok=True)
        handle = (self.work.parent / f".{self.work.name}.lock").open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            handle.close()
            raise WorldBusy(
                f"another rehearsal (pid {holder}) is using {self.work}: wait for it, stop it, "
                "or pass --work with another folder"
            ) from None
        handle.truncate(0)
        handle.write(str(os.getpid()))
        handle.flush()
        self.stack.callback(handle.close)

    def _start(self) -> None:
        self.s3 = self.stack.enter_context(services.s3_server(self.work / "s3", buckets=[BUCKET]))
        registry: dict[str, str] = {}
        if self.registry:
            self.mlflow = self.stack.enter_context(
                services.mlflow_server(
                    self.work / "mlflow", artifacts_uri=f"s3://{BUCKET}/mlflow", s3=self.s3
                )
            )
            self.pushgateway = self.stack.enter_context(services.pushgateway(self.work / "pushgateway"))
            registry = {
                "MLFLOW_TRACKING_URI": self.mlflow.tracking_uri,
                "PUSHGATEWAY_URL": self.pushgateway.url,
            }
        self.forge = self.stack.enter_context(Forge(self.work / "forge", owner=OWNER, repo=REPO))
        key = (
            "-----BEGIN RSA PRIVATE KEY-----\n"
            + secrets.token_urlsafe(48)
            + "\n-----END RSA PRIVATE KEY-----"
        )
        self.forge.register_app(APP_ID, key, slug=APP_SLUG)
        gh_dir = self.work / "gh"
        self.forge.write_gh_config(gh_dir)
        self.user_token = self.forge.mint_token("user", OWNER)
        store = self.work / "store"
        store.mkdir()
        s3_env = self.s3.env()
        self.engine = Engine(
            forge=self.forge,
            work=self.work,
            act=_bin("act"),
            secrets={"RELEASE_APP_PRIVATE_KEY": key},
            variables={
                "RELEASE_APP_ID": APP_ID,
                "DVC_REMOTE_URL": f"s3://{BUCKET}/dvc",
                "AWS_ROLE_ARN": "arn:aws:iam::000000000000:role/flightdelay-gitops",
                "AWS_REGION": self.s3.region,
                "IMAGE_REPOSITORY": f"ghcr.io/{OWNER}/{REPO}",
                # ci.yml's whole `make test` is what this rehearsal is part of: here it builds the
                # environment only (the repository variable a fork can set, see ci.yml).
                "CI_MAKE_TARGET": "setup",
                **registry,
                **self.extra_variables,
            },
            env={
                "REHEARSAL_FORGE_URL": self.forge.base_url,
                "REHEARSAL_FORGE_GIT_URL": self.forge.git_url,
                "REHEARSAL_STORE": str(store),
                "REHEARSAL_HADOLINT": str(_bin("hadolint")),
                "REHEARSAL_AWS_ACCESS_KEY_ID": s3_env["AWS_ACCESS_KEY_ID"],
                "REHEARSAL_AWS_SECRET_ACCESS_KEY": s3_env["AWS_SECRET_ACCESS_KEY"],
                "REHEARSAL_AWS_ENDPOINT_URL": s3_env["AWS_ENDPOINT_URL"],
                "GH_CONFIG_DIR": str(gh_dir),
                "DVC_NO_ANALYTICS": "1",
            },
            say=self.say,
        )
        self.stack.callback(self.engine.close)  # before the forge and the services stop

    # --- the maintainer's machine ---------------------------------------------------------------
    def maintainer_env(self) -> dict[str, str]:
        """The maintainer has credentials: S3 for the DVC remote, a local MLflow file for experiments."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GH_", "MLFLOW_"))}
        return {
            **env,
            **self.s3.env(),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            "DVC_REMOTE_URL": f"s3://{BUCKET}/dvc",
            "MLFLOW_TRACKING_URI": f"sqlite:///{self.work / 'maintainer-mlflow.db'}",
            "DVC_NO_ANALYTICS": "1",
            "GIT_AUTHOR_NAME": "Acme Maintainer",
            "GIT_AUTHOR_EMAIL": "maintainer@acme.invalid",
            "GIT_COMMITTER_NAME": "Acme Maintainer",
            "GIT_COMMITTER_EMAIL": "maintainer@acme.invalid",
        }

    def sh(self, *cmd: str, cwd: Path | None = None) -> str:
        proc = subprocess.run(
            cmd, cwd=cwd or self.clone, env=self.maintainer_env(), capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-20:])
            raise RuntimeError(f"`{' '.join(cmd)}` failed ({proc.returncode}):\n{tail}")
        return proc.stdout

    def git(self, *args: str) -> str:
        auth = base64.b64encode(f"x-access-token:{self.user_token}".encode()).decode()
        return self.sh("git", "-c", f"http.extraheader=AUTHORIZATION: basic {auth}", *args)

    def seed(self, *, reproduce: bool = True) -> str:
        """The fork's first commit: this project's tracked files (as in the working tree), reproduced
        (without `reproduce`, as they are: a test of one workflow that runs the pipeline itself)."""
        files = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=PROJECT,
            capture_output=True,
            check=True,
        ).stdout.split(b"\0")
        self.clone.mkdir()
        for raw in files:
            if not raw:
                continue
            rel = raw.decode()
            src = PROJECT / rel
            if src.is_file():
                dst = self.clone / rel
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)
        self.sh("git", "init", "--quiet", "--initial-branch", "main")
        if self.workflows_from:
            self._workflows_at(self.workflows_from)
        if self.fast:
            self.edit_params(FAST_PARAMS)
            # A fork with two months of data: the partitions outside the window are not tracked.
            window = FAST_PARAMS["data"]["window"]
            for dvc_file in sorted((self.clone / "data" / "raw").glob("*.dvc")):
                if not window["start"] <= dvc_file.stem <= window["end"]:
                    dvc_file.unlink()
        if reproduce:
            self.sh("flightdelay", "data", "restore")
            self.sh("dvc", "repro", "--quiet")
            self.sh("dvc", "push", "--quiet")
        self.sh("git", "add", "-A")
        self.sh("git", "commit", "--quiet", "-m", "flightdelay: first commit of the fork")
        sha = self.forge.seed(self.clone)
        self.sh("git", "remote", "add", "origin", self.forge.git_url)
        self.git("fetch", "--quiet", "origin")
        self.sh("git", "branch", "--quiet", "--set-upstream-to", "origin/main", "main")
        return sha

    def _workflows_at(self, spec: str) -> None:
        """`REF` or `REF:a.yml,b.yml`: those workflow files as this project had them at REF (to
        rehearse old ones and see what GitHub would have done with them)."""
        ref, _, only = spec.partition(":")
        folder = self.clone / ".github" / "workflows"
        names = subprocess.run(
            ["git", "ls-tree", "--name-only", f"{ref}:.github/workflows"],
            cwd=PROJECT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        wanted = set(only.split(",")) if only else set(names)
        if unknown := wanted - set(names):
            raise RuntimeError(f"--workflows-from {spec}: {ref} has no {', '.join(sorted(unknown))}")
        if not only:
            shutil.rmtree(folder)
            folder.mkdir()
        for name in sorted(wanted):
            text = subprocess.run(
                ["git", "show", f"{ref}:.github/workflows/{name}"],
                cwd=PROJECT,
                capture_output=True,
                check=True,
            ).stdout
            (folder / name).write_bytes(text)

    def edit_params(self, changes: Mapping[str, Mapping[str, Any]]) -> None:
        path = self.clone / "params.yaml"
        params = yaml.safe_load(path.read_text())
        for section, values in changes.items():
            params[section] = _merge(params.get(section, {}), values)
        path.write_text(yaml.safe_dump(params, sort_keys=False))

    def branch_with_params(self, branch: str, changes: Mapping[str, Mapping[str, Any]], message: str) -> str:
        """What a person does for a params PR: edit, `dvc repro`, `dvc push`, commit, push."""
        self.git("fetch", "--quiet", "origin")
        self.sh("git", "checkout", "--quiet", "-B", branch, "origin/main")
        self.edit_params(changes)
        self.sh("dvc", "repro", "--quiet")
        self.sh("dvc", "push", "--quiet")
        self.sh("git", "add", "-A")
        self.sh("git", "commit", "--quiet", "-m", message)
        self.git("push", "--quiet", "origin", f"HEAD:refs/heads/{branch}")
        return self.sh("git", "rev-parse", "HEAD").strip()

    # --- GitHub, as a person uses it ------------------------------------------------------------
    def api(self, method: str, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            f"{self.forge.base_url}/{path.lstrip('/')}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Authorization": f"token {self.user_token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
        except urllib.error.HTTPError as e:
            raise RuntimeError(
                f"{method} {path}: HTTP {e.code} {e.read().decode(errors='replace')}"
            ) from None
        return json.loads(raw) if raw.strip() else None

    def repo_api(self, method: str, path: str, body: Any = None) -> Any:
        return self.api(method, f"repos/{OWNER}/{REPO}/{path.lstrip('/')}", body)

    def open_pr(self, branch: str, title: str, body: str = "") -> int:
        pr = self.repo_api("POST", "pulls", {"title": title, "head": branch, "base": "main", "body": body})
        return int(pr["number"])

    def merge(self, number: int) -> str:
        result = self.repo_api("PUT", f"pulls/{number}/merge", {"merge_method": "merge"})
        return str(result["sha"])

    def pulls(self, state: str = "open") -> list[dict[str, Any]]:
        return list(self.repo_api("GET", f"pulls?state={state}&per_page=100"))

    def tick(self, workflow: str = "drift.yml") -> None:
        """GitHub's scheduler: the event carries the cron line and no repository object."""
        self.engine.dispatch(
            {"event": "schedule", "payload": {"schedule": DRIFT_CRON}, "workflow": workflow, "actor": OWNER}
        )

    def dispatch(self, workflow: str, inputs: Mapping[str, str]) -> None:
        self.repo_api(
            "POST", f"actions/workflows/{workflow}/dispatches", {"ref": "main", "inputs": dict(inputs)}
        )


def _merge(base: Any, changes: Mapping[str, Any]) -> Any:
    out = dict(base or {})
    for key, value in changes.items():
        out[key] = _merge(out.get(key), value) if isinstance(value, Mapping) else value
    return out
