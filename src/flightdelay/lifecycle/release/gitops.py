"""Git side of a release: annotated tags, commits of managed files, a local lock, and a push
that survives a concurrent merge (rebase-and-retry, or re-apply on a fresh tip)."""

from __future__ import annotations

import fcntl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from flightdelay.adapters.gitio import git, git_proc
from flightdelay.core.errors import ReleaseError, ToolError
from flightdelay.core.progress import say

LOCK_NAME = "flightdelay-release.lock"


def tag_name(version: str | int) -> str:
    return f"model-v{version}"


@contextmanager
def release_lock(timeout_s: float = 120.0) -> Iterator[None]:
    """Serialize release/bump/rollback across processes and worktrees of one clone.

    The lock file lives in the git common dir, so every worktree of the clone shares it;
    across machines the workflow's concurrency group plays the same role."""
    common = Path(git("rev-parse", "--git-common-dir")).resolve()
    path = common / LOCK_NAME
    deadline = time.monotonic() + timeout_s
    with path.open("a") as f:
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ReleaseError(
                        f"another release holds {path} for over {timeout_s:.0f}s",
                        hint="wait for it to finish, or remove a stale lock",
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def head() -> str:
    return git("rev-parse", "HEAD")


def require_clean(paths: list[str] | None = None) -> None:
    """Refuse to release from a tree whose tracked files differ from HEAD."""
    dirty = git("status", "--porcelain", "--untracked-files=no", *(["--", *paths] if paths else []))
    if dirty:
        raise ReleaseError(
            f"the git working tree has uncommitted changes:\n{dirty}",
            hint="commit or stash them; a release records the commit it was built from",
        )


def branch_tip(branch: str, remote: str) -> str | None:
    """The commit `branch` names here: the local branch, else the remote-tracking one."""
    for ref in (f"refs/heads/{branch}", f"refs/remotes/{remote}/{branch}"):
        proc = git_proc("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        if proc.returncode == 0:
            return proc.stdout.strip()
    return None


def require_release_branch(branch: str, remote: str, managed: tuple[str, ...]) -> None:
    """Refuse unless HEAD is the tip of `branch` (or an older commit of it that differs from the
    tip only in files a release writes, as when a job re-runs at the merged commit): releasing
    from a feature branch would publish, and with --push merge, unreviewed commits."""
    here = head()
    tip = branch_tip(branch, remote)
    if tip == here:
        return
    on = git("rev-parse", "--abbrev-ref", "HEAD", check=False)
    where = f"branch `{on}`" if on and on != "HEAD" else "a detached HEAD"
    hint = (
        f"merge the change into `{branch}` and release from its tip (`git switch {branch}`), or "
        "name another release branch with `--branch` (params.yaml release.branch)"
    )
    if tip is None:
        raise ReleaseError(
            f"refusing to release: there is no branch `{branch}` (nor {remote}/{branch}) in this clone",
            hint=hint,
        )
    if is_older(here, tip):
        changed = changed_since(tip) or []
        if all(any(f == m or f.startswith(m.rstrip("/") + "/") for m in managed) for f in changed):
            return
    raise ReleaseError(
        f"refusing to release from {where} at {here[:12]}: a release publishes the tip of "
        f"`{branch}` ({tip[:12]}) and nothing else",
        hint=hint,
    )


def changed_since(sha: str) -> list[str] | None:
    """Files that differ between `sha` and HEAD; None when `sha` is not in this clone."""
    if not sha:
        return None
    try:
        return [f for f in git("diff", "--name-only", sha, "HEAD").splitlines() if f]
    except ToolError:
        return None


def is_older(sha: str, than: str) -> bool:
    """True when commit `sha` is a strict ancestor of `than` (an older point of the same history)."""
    if not sha or not than or sha == than:
        return False
    return git_proc("merge-base", "--is-ancestor", sha, than).returncode == 0


def tag_exists(name: str) -> bool:
    return bool(git("tag", "--list", name))


def tag_commit(name: str) -> str | None:
    """The commit an (annotated) tag points at, or None when there is no such tag."""
    if not tag_exists(name):
        return None
    return git("rev-list", "-n", "1", name)


def create_tag(name: str, sha: str, message: str) -> None:
    git("tag", "-a", name, sha, "-m", message)


def delete_tag(name: str) -> None:
    git("tag", "-d", name, check=False)


def commit(paths: list[str], message: str) -> str | None:
    """Commit exactly `paths` (added if new); None when they hold no change."""
    git("add", "--", *paths)
    if not git("diff", "--cached", "--name-only", "--", *paths):
        return None
    git("commit", "-q", "-m", message, "--", *paths)
    return head()


def reset_to(sha: str) -> None:
    git("reset", "-q", "--hard", sha)


def push(
    remote: str, branch: str, *, tags: list[str], reapply: Callable[[], None] | None, attempts: int
) -> None:
    """Push HEAD to `remote/branch` (and `tags`); when another push won the race, rebase on the
    new tip and retry; if the rebase conflicts, rebuild the change on the tip with `reapply`."""
    for attempt in range(1, attempts + 1):
        try:
            git(
                "push",
                "--atomic",
                remote,
                f"HEAD:refs/heads/{branch}",
                *(f"refs/tags/{t}" for t in tags),
            )
            say(f"release: pushed {branch}{' and ' + ', '.join(tags) if tags else ''} to {remote}")
            return
        except ToolError as e:
            if attempt == attempts:
                raise ReleaseError(
                    f"push to {remote}/{branch} failed {attempts} times: {e.message}",
                    hint="re-run the job; the change is idempotent",
                ) from e
            say(f"release: push rejected (attempt {attempt}/{attempts}); rebasing on {remote}/{branch}")
        git("fetch", "-q", remote, branch)
        rebase = git_proc("rebase", "-q", "FETCH_HEAD")
        if rebase.returncode == 0:
            continue
        git("rebase", "--abort", check=False)
        if reapply is None:
            raise ReleaseError(
                f"rebasing on {remote}/{branch} conflicts", hint="resolve it by hand, then push"
            )
        reset_to("FETCH_HEAD")
        reapply()
