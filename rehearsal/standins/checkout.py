"""actions/checkout stand-in: clone the forge repository at the event's ref into the workspace, as it does.

Same git commands, refspecs, local branch and extraheader as actions/checkout v4/v5. One difference: for a
pull_request event GitHub checks out the test merge commit refs/pull/N/merge (head merged into base); the
forge keeps no merge refs, so the stand-in checks out the PR head SHA under the same local ref name.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from rehearsal.standins.core import StandinError, Step

TAGS_REFSPEC = "+refs/tags/*:refs/tags/*"
SHA = re.compile(r"^[0-9a-fA-F]{40}$")


class Git:
    """git in the repository folder; `-c safe.directory` stands for the real action's temporary config."""

    def __init__(self, step: Step, folder: Path, safe_directory: bool) -> None:
        self.step, self.folder, self.safe_directory = step, folder, safe_directory

    def run(self, *args: str, check: bool = True, quiet: bool = False) -> subprocess.CompletedProcess[str]:
        command = (
            ["git"] + (["-c", f"safe.directory={self.folder}"] if self.safe_directory else []) + list(args)
        )
        if not quiet:
            self.step.info(f"[command]{' '.join(command)}")
        env = {**self.step.env, "GIT_TERMINAL_PROMPT": "0", "GCM_INTERACTIVE": "Never"}
        proc = subprocess.run(command, cwd=self.folder, env=env, capture_output=True, text=True, check=False)
        if not quiet:
            for text in (proc.stdout, proc.stderr):
                if text.strip():
                    self.step.info(text.rstrip())
        if check and proc.returncode != 0:
            raise StandinError(
                f"The process 'git' failed with exit code {proc.returncode}: git {' '.join(args)}"
            )
        return proc

    def ok(self, *args: str) -> bool:
        return self.run(*args, check=False, quiet=True).returncode == 0


def flag(step: Step, name: str, default: str) -> bool:
    return (step.input(name) or default).upper() == "TRUE"


def forge_repository(step: Step) -> tuple[str, str]:
    url = step.need_env(
        "REHEARSAL_FORGE_GIT_URL", "the rehearsal harness passes the forge repository's git URL"
    )
    return url, repository_of(url)


def repository_of(git_url: str) -> str:
    """`owner/name` of a git URL (its last two path segments)."""
    return "/".join(urlsplit(git_url).path.strip("/").removesuffix(".git").split("/")[-2:])


def read_event(step: Step) -> dict[str, object]:
    path = step.env.get("GITHUB_EVENT_PATH", "")
    if path and Path(path).is_file():
        event = json.loads(Path(path).read_text(encoding="utf-8"))
        return event if isinstance(event, dict) else {}
    return {}


def ref_and_commit(step: Step, ref_input: str) -> tuple[str, str]:
    """input-helper.ts: an explicit ref (a SHA becomes the commit), else the event's ref and SHA."""
    if ref_input:
        return ("", ref_input) if SHA.match(ref_input) else (ref_input, "")
    ref, commit = step.env.get("GITHUB_REF", ""), step.env.get("GITHUB_SHA", "")
    event = read_event(step)
    pull = event.get("pull_request")
    if step.env.get("GITHUB_EVENT_NAME") == "pull_request" and isinstance(pull, dict):
        head = pull.get("head")
        commit = str(head.get("sha", "")) if isinstance(head, dict) else commit
        ref = ref or f"refs/pull/{pull.get('number')}/merge"
    if commit and ref and not ref.startswith("refs/"):
        ref = f"refs/heads/{ref}"
    if not ref and not commit:
        repository = event.get("repository")
        default = repository.get("default_branch") if isinstance(repository, dict) else None
        ref = str(default or "main")
    return ref, commit


def refspecs(ref: str, commit: str, *, all_history: bool) -> list[str]:
    """ref-helper.ts getRefSpecForAllHistory / getRefSpec."""
    upper = ref.upper()
    if all_history:
        specs = ["+refs/heads/*:refs/remotes/origin/*", TAGS_REFSPEC]
        if upper.startswith("REFS/PULL/"):
            specs.append(f"+{commit or ref}:refs/remotes/pull/{ref[len('refs/pull/') :]}")
        return specs
    if commit:
        if upper.startswith("REFS/HEADS/"):
            return [f"+{commit}:refs/remotes/origin/{ref[len('refs/heads/') :]}"]
        if upper.startswith("REFS/PULL/"):
            return [f"+{commit}:refs/remotes/pull/{ref[len('refs/pull/') :]}"]
        if upper.startswith("REFS/TAGS/"):
            return [f"+{commit}:{ref}"]
        return [commit]
    if not upper.startswith("REFS/"):
        return [f"+refs/heads/{ref}*:refs/remotes/origin/{ref}*", f"+refs/tags/{ref}*:refs/tags/{ref}*"]
    if upper.startswith("REFS/HEADS/"):
        return [f"+{ref}:refs/remotes/origin/{ref[len('refs/heads/') :]}"]
    if upper.startswith("REFS/PULL/"):
        return [f"+{ref}:refs/remotes/pull/{ref[len('refs/pull/') :]}"]
    return [f"+{ref}:{ref}"]


def checkout_target(git: Git, ref: str, commit: str) -> tuple[str, str]:
    """ref-helper.ts getCheckoutInfo: (ref to check out, start point for `checkout -B`)."""
    upper = ref.upper()
    if not ref:
        return commit, ""
    if upper.startswith("REFS/HEADS/"):
        branch = ref[len("refs/heads/") :]
        return branch, f"refs/remotes/origin/{branch}"
    if upper.startswith("REFS/PULL/"):
        return f"refs/remotes/pull/{ref[len('refs/pull/') :]}", ""
    if upper.startswith("REFS/TAGS/"):
        return ref, ""
    if upper.startswith("REFS/"):
        return commit or ref, ""
    if git.ok("rev-parse", "--verify", "--quiet", f"refs/remotes/origin/{ref}"):
        return ref, f"refs/remotes/origin/{ref}"
    if git.ok("rev-parse", "--verify", "--quiet", f"refs/tags/{ref}"):
        return f"refs/tags/{ref}", ""
    raise StandinError(f"A branch or tag with the name '{ref}' could not be found")


def prepare_folder(step: Step, git: Git, git_url: str, clean: bool) -> None:
    folder = git.folder
    if (folder / ".git").is_dir():
        same = (
            git.run("config", "--local", "--get", "remote.origin.url", check=False, quiet=True).stdout.strip()
            == git_url
        )
        if same and (not clean or (git.ok("clean", "-ffdx") and git.ok("reset", "--hard", "HEAD"))):
            return
    if folder.exists() and any(folder.iterdir()):
        step.info(f"Deleting the contents of '{folder}'")
        for child in folder.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    git.run("-c", "init.defaultBranch=main", "init", folder.as_posix())
    git.run("remote", "add", "origin", git_url)


def main(step: Step) -> None:
    git_url, forge_repo = forge_repository(step)
    repository = step.input("repository") or step.env.get("GITHUB_REPOSITORY", "")
    owner, _, name = repository.partition("/")
    if not owner or not name or "/" in name:
        raise StandinError(f"Invalid repository '{repository}'. Expected format {{owner}}/{{repo}}.")
    if repository.lower() != forge_repo.lower():
        raise StandinError(
            f"Repository '{repository}' is not on the rehearsal forge, which serves only {forge_repo}"
        )
    workspace = step.workspace.resolve()
    folder = (workspace / (step.input("path") or ".")).resolve()
    if folder != workspace and workspace not in folder.parents:
        raise StandinError(f"Repository path '{folder}' is not under '{workspace}'")
    ref, commit = ref_and_commit(step, step.input("ref"))
    token = step.input("token", required=True)
    if step.input("ssh-key"):
        raise StandinError("ssh-key is not emulated: the rehearsal forge serves git over HTTP only")
    if flag(step, "lfs", "false"):
        raise StandinError("lfs: true is not emulated: the rehearsal forge has no Git LFS server")
    depth_text = step.input("fetch-depth") or "1"
    try:
        depth = max(int(float(depth_text)), 0)
    except ValueError:
        depth = 0
    persist = flag(step, "persist-credentials", "false")
    git = Git(step, folder, flag(step, "set-safe-directory", "true"))
    prepare_folder(step, git, git_url, flag(step, "clean", "true"))
    git.run("config", "--local", "gc.auto", "0")

    # git-auth-helper.ts: the token as an extraheader for the server's origin (kept with persist-credentials).
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(git_url))
    header_key = f"http.{origin}/.extraheader"
    credential = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    step.mask(credential)
    git.run("config", "--local", header_key, f"AUTHORIZATION: basic {credential}", quiet=True)
    step.save_state("repositoryPath", str(folder))
    try:
        fetch_and_checkout(step, git, ref, commit, depth)
        head = git.run("rev-parse", "HEAD", quiet=True).stdout.strip()
        step.set_output("commit", head)
    finally:
        if not persist:
            git.run("config", "--local", "--unset-all", header_key, check=False, quiet=True)
    step.set_output("ref", ref)


def fetch_and_checkout(step: Step, git: Git, ref: str, commit: str, depth: int) -> None:
    options = ["--prune", "--no-recurse-submodules"]
    if flag(step, "show-progress", "true"):
        options.append("--progress")
    sparse = step.lines_input("sparse-checkout")
    filter_spec = step.input("filter") or ("blob:none" if sparse else "")
    if filter_spec:
        options.append(f"--filter={filter_spec}")

    def fetch(specs: list[str], extra: list[str]) -> None:
        no_tags = [] if TAGS_REFSPEC in specs or flag(step, "fetch-tags", "false") else ["--no-tags"]
        git.run("-c", "protocol.version=2", "fetch", *no_tags, *options, *extra, "origin", *specs)

    if depth <= 0:
        fetch(
            refspecs(ref, commit, all_history=True),
            ["--unshallow"] if (git.folder / ".git" / "shallow").exists() else [],
        )
        if commit and not git.ok("cat-file", "-e", f"{commit}^{{commit}}"):
            fetch(refspecs(ref, commit, all_history=False), [])
    else:
        fetch(refspecs(ref, commit, all_history=False), [f"--depth={depth}"])
    target, start = checkout_target(git, ref, commit)
    if sparse:
        cone = [] if flag(step, "sparse-checkout-cone-mode", "true") else ["--no-cone"]
        git.run("sparse-checkout", "set", *cone, *sparse)
    else:
        git.run("sparse-checkout", "disable", check=False, quiet=True)
        # as the real action: disabling leaves extensions.worktreeConfig behind, which it removes
        git.run("config", "--local", "--unset-all", "extensions.worktreeConfig", check=False, quiet=True)
    if start:
        git.run("checkout", "--progress", "--force", "-B", target, start)
    else:
        git.run("checkout", "--progress", "--force", target)
    submodules = (step.input("submodules") or "false").lower()
    if submodules in ("true", "recursive"):
        recursive = ["--recursive"] if submodules == "recursive" else []
        git.run("submodule", "sync", *recursive)
        depth_flag = [f"--depth={depth}"] if depth > 0 else []
        git.run(
            "-c", "protocol.version=2", "submodule", "update", "--init", "--force", *depth_flag, *recursive
        )


def post(step: Step) -> None:
    """The real post step removes the persisted token from the repository's config."""
    folder = step.state("repositoryPath")
    if not folder or not (Path(folder) / ".git" / "config").is_file():
        return
    git_url, _ = forge_repository(step)
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(git_url))
    git = Git(step, Path(folder), safe_directory=True)
    git.run("config", "--local", "--unset-all", f"http.{origin}/.extraheader", check=False)
