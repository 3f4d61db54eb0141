"""The forge's bare git repository: setup, hooks, reads, merge commits and the `git http-backend` CGI."""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from rehearsal.forge_core import Json

ZERO_SHA = "0" * 40
HOOK_SCRIPT = Path(__file__).with_name("forge_hook.py")
log = logging.getLogger("rehearsal.forge")


class GitError(Exception):
    """A git command the forge runs failed; the message carries git's own stderr."""


class MergeConflict(Exception):
    """The pull request's head does not merge cleanly into its base."""


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The process environment without GIT_* variables (a caller inside a git hook must not leak its repo)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    return {**env, **(extra or {})}


class BareRepo:
    """One bare repository, `<root>/git/<owner>/<repo>.git`, read and written with the git CLI."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def git(self, *args: str, env: Mapping[str, str] | None = None, check: bool = True) -> str:
        proc = subprocess.run(
            ["git", "--git-dir", str(self.path), *args],
            capture_output=True,
            text=True,
            env=clean_env(env),
            check=False,
        )
        if check and proc.returncode != 0:
            raise GitError(f"git {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc.stdout

    def init(self, default_branch: str) -> None:
        if not (self.path / "HEAD").exists():
            self.path.mkdir(parents=True, exist_ok=True)
            self.git("init", "--quiet", "--bare", f"--initial-branch={default_branch}")
        # The forge authenticates pushes itself (anonymous ones never reach the CGI).
        self.git("config", "http.receivepack", "true")

    def install_hooks(self, forge_url: str) -> None:
        """pre-receive and post-receive run forge_hook.py, which asks the forge at `forge_url`."""
        for name in ("pre-receive", "post-receive"):
            hook = self.path / "hooks" / name
            hook.write_text(
                "#!/bin/sh\n"
                f"FORGE_URL={shlex.quote(forge_url)}\nexport FORGE_URL\n"
                f"exec {shlex.quote(sys.executable)} {shlex.quote(str(HOOK_SCRIPT))} {name}\n"
            )
            hook.chmod(0o755)

    def refs(self) -> dict[str, str]:
        """Every branch and tag, full ref name -> commit sha (annotated tags peeled)."""
        out = self.git(
            "for-each-ref", "--format=%(refname) %(objectname) %(*objectname)", "refs/heads", "refs/tags"
        )
        refs = {}
        for line in out.splitlines():
            name, sha, *peeled = line.split()
            refs[name] = peeled[0] if peeled else sha
        return refs

    def rev_parse(self, rev: str) -> str | None:
        out = self.git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False).strip()
        return out or None

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        return self.git_ok("merge-base", "--is-ancestor", ancestor, descendant)

    def git_ok(self, *args: str) -> bool:
        return (
            subprocess.run(
                ["git", "--git-dir", str(self.path), *args], capture_output=True, env=clean_env(), check=False
            ).returncode
            == 0
        )

    def commit_json(self, sha: str, parent: str | None = None) -> Json:
        """A commit as GitHub's push payload lists it; files compared with `parent` (default: the first)."""
        fields = self.git("show", "-s", "--format=%H%x00%an%x00%ae%x00%aI%x00%P%x00%B", sha).split("\0")
        full, name, email, date, parents, message = (
            fields[0],
            fields[1],
            fields[2],
            fields[3],
            fields[4],
            fields[5],
        )
        first = parent or (parents.split()[0] if parents.strip() else None)
        diff = (
            self.git("diff-tree", "-r", "--no-commit-id", "--name-status", first, full)
            if first
            else self.git("diff-tree", "-r", "--no-commit-id", "--name-status", "--root", full)
        )
        files: dict[str, list[str]] = {"added": [], "removed": [], "modified": []}
        for line in diff.splitlines():
            status, path = line.split("\t", 1)
            key = {"A": "added", "D": "removed"}.get(status[0], "modified")
            files[key].append(path.split("\t")[-1])
        author = {"name": name, "email": email}
        return {
            "id": full,
            "tree_id": self.git("rev-parse", f"{full}^{{tree}}").strip(),
            "message": message.rstrip("\n"),
            "timestamp": date,
            "author": author,
            "committer": author,
            "distinct": True,
            **files,
        }

    def pushed_commits(self, ref: str, before: str, after: str, limit: int = 20) -> list[Json]:
        """The commits a ref update brought, oldest first (for a new ref: those no other branch has)."""
        if after == ZERO_SHA:
            return []
        if before == ZERO_SHA:
            others = [
                f"^{sha}"
                for name, sha in self.refs().items()
                if name.startswith("refs/heads/") and name != ref
            ]
            spec = [after, *others]
        else:
            spec = [f"{before}..{after}"]
        shas = self.git("rev-list", f"--max-count={limit}", *spec, "--").split()
        return [self.commit_json(sha) for sha in reversed(shas)]

    def merge(self, base_ref: str, head_sha: str, message: str, author: tuple[str, str], squash: bool) -> str:
        """Commit head into base_ref as the merge button does (no work tree, no hook); returns the sha."""
        base_sha = self.rev_parse(base_ref)
        if base_sha is None:
            raise GitError(f"{base_ref} does not exist")
        proc = subprocess.run(
            [
                "git",
                "--git-dir",
                str(self.path),
                "merge-tree",
                "--write-tree",
                "--no-messages",
                base_sha,
                head_sha,
            ],
            capture_output=True,
            text=True,
            env=clean_env(),
            check=False,
        )
        if proc.returncode == 1:
            raise MergeConflict(proc.stdout.strip())
        if proc.returncode != 0:
            raise GitError(f"git merge-tree failed: {proc.stderr.strip()}")
        tree = proc.stdout.split()[0]
        parents = ["-p", base_sha] if squash else ["-p", base_sha, "-p", head_sha]
        env = {
            "GIT_AUTHOR_NAME": author[0],
            "GIT_AUTHOR_EMAIL": author[1],
            "GIT_COMMITTER_NAME": "GitHub",
            "GIT_COMMITTER_EMAIL": "noreply@github.com",
        }
        sha = self.git("commit-tree", tree, *parents, "-m", message, env=env).strip()
        self.git("update-ref", base_ref, sha, base_sha)
        return sha

    def create_tag(self, name: str, sha: str) -> None:
        self.git("update-ref", f"refs/tags/{name}", sha, ZERO_SHA)


@dataclass
class Cgi:
    """A running `git http-backend`: its status and headers are parsed, `stdout` is the response body."""

    status: int
    headers: list[tuple[str, str]]
    stdout: IO[bytes]
    proc: subprocess.Popen[bytes]
    feeder: threading.Thread
    stderr: IO[bytes]

    def finish(self) -> None:
        """Wait for the CGI and log its stderr when it said anything."""
        code = self.proc.wait()
        self.feeder.join(timeout=5)
        self.stderr.seek(0)
        text = self.stderr.read().decode(errors="replace").strip()
        self.stderr.close()
        if code != 0 or text:
            log.warning("git http-backend exited %s: %s", code, text)


def run_http_backend(project_root: Path, env: Mapping[str, str], body: Iterable[bytes]) -> Cgi:
    """Start `git http-backend` as a CGI and stream `body` into it; the caller copies `stdout`, then finish().

    The body goes in from a thread because the backend may start answering before it has read everything.
    """
    stderr = tempfile.TemporaryFile()  # noqa: SIM115 -- closed by Cgi.finish
    proc = subprocess.Popen(
        ["git", "http-backend"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        env=clean_env({"GIT_PROJECT_ROOT": str(project_root), "GIT_HTTP_EXPORT_ALL": "1", **env}),
    )
    stdin, stdout = proc.stdin, proc.stdout
    if stdin is None or stdout is None:
        raise GitError("git http-backend started without pipes")

    def feed() -> None:
        try:
            for chunk in body:
                stdin.write(chunk)
        except OSError as exc:  # the backend stopped reading (it failed; its stderr says why)
            log.debug("http-backend stopped reading its input: %s", exc)
        finally:
            try:
                stdin.close()
            except OSError:
                log.debug("http-backend input already closed")

    feeder = threading.Thread(target=feed, name="forge-cgi-stdin", daemon=True)
    feeder.start()
    status, headers = 200, []
    for raw in iter(stdout.readline, b""):
        line = raw.decode("latin-1").rstrip("\r\n")
        if not line:
            break
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.split()[0])
        else:
            headers.append((name.strip(), value.strip()))
    return Cgi(status, headers, stdout, proc, feeder, stderr)
