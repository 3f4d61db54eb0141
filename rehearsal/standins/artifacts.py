"""upload-artifact and download-artifact v4 stand-ins: files in REHEARSAL_STORE/artifacts/<run id>/<name>/.

v4 semantics kept: one directory path uploads its contents (several paths: their least common ancestor is
the root), hidden files are left out unless asked for, a name is unique within a run unless `overwrite`,
and download-artifact reads another run only when given `github-token` (then `run-id` and `repository`).
"""

from __future__ import annotations

import contextlib
import fcntl
import fnmatch
import hashlib
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from rehearsal.standins import globs, rest
from rehearsal.standins.checkout import repository_of
from rehearsal.standins.core import StandinError, Step

INVALID_NAME_CHARACTERS = {
    '"': "Double quote",
    ":": "Colon",
    "<": "Less than",
    ">": "Greater than",
    "|": "Vertical bar",
    "*": "Asterisk",
    "?": "Question mark",
    "\r": "Carriage return",
    "\n": "Line feed",
    "\\": "Backslash",
    "/": "Forward slash",
}
NOT_FOUND_HINT = (
    "\n        Please ensure that your artifact is not expired and the artifact was uploaded using a "
    "compatible version of toolkit/upload-artifact.\n        "
    "For more information, visit the GitHub Artifacts FAQ: "
    "https://github.com/actions/toolkit/blob/main/packages/artifact/docs/faq.md"
)


@contextlib.contextmanager
def locked(store: Path) -> Iterator[Path]:
    """Uploads from parallel jobs take turns: names must stay unique per run and ids unique overall."""
    root = store / "artifacts"
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield root
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def next_id(root: Path) -> int:
    counter = root / ".last-id"
    value = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(value))
    return value


def check_name(name: str) -> None:
    if not name:
        raise StandinError("Provided artifact name input during validation is empty")
    if name in (".", ".."):
        raise StandinError(f"The artifact name is not valid: {name}. It names a folder, not an artifact")
    for char, label in INVALID_NAME_CHARACTERS.items():
        if char in name:
            listing = "\n".join(f'{v}: "{k}"' for k, v in INVALID_NAME_CHARACTERS.items() if k not in "\r\n")
            raise StandinError(
                f"The artifact name is not valid: {name}. Contains the following character:  {label}\n\n"
                f"Invalid characters include: {listing}\n\nThese characters are not allowed in the artifact "
                "name due to limitations with certain file systems such as NTFS. To maintain file system "
                "agnostic behavior, these characters are intentionally not allowed to prevent potential "
                "problems with downloads on different file systems."
            )


def root_directory(patterns: list[globs.Pattern], files: list[Path]) -> Path:
    """search.ts: several search paths -> their least common ancestor; one file named alone -> its folder."""
    roots = globs.search_paths(patterns)
    if len(roots) > 1:
        return globs.least_common_ancestor(roots)
    if len(files) == 1 and roots[0] == files[0]:
        return files[0].parent
    return roots[0]


def digest_of(folder: Path) -> str:
    sha = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        sha.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return sha.hexdigest()


def int_input(step: Step, name: str, low: int, high: int | None) -> int | None:
    text = step.input(name)
    if not text:
        return None
    try:
        value = int(text)
    except ValueError as exc:
        raise StandinError(f"Invalid {name}") from exc
    if value < low or (high is not None and value > high):
        raise StandinError(
            f"Invalid {name}. Valid values are {low}-{high}" if high is not None else f"Invalid {name}"
        )
    return value


def upload(step: Step) -> None:
    name = step.input("name")
    check_name(name)
    lines = step.input("path", required=True).splitlines()
    if_none = step.input("if-no-files-found")
    if if_none not in ("warn", "error", "ignore"):
        raise StandinError(
            f"Unrecognized if-no-files-found input. Provided: {if_none}. Available options: warn,error,ignore"
        )
    retention = int_input(step, "retention-days", 0, None)
    int_input(step, "compression-level", 0, 9)
    overwrite, hidden = step.bool_input("overwrite"), step.bool_input("include-hidden-files")
    patterns = globs.parse(lines, step.workspace, step.home, implicit_descendants=True)
    files = [
        p for p in globs.search(patterns, implicit_descendants=True, include_hidden=hidden) if p.is_file()
    ]
    if not files:
        searched = "\n".join(lines)
        message = f"No files were found with the provided path: {searched}. No artifacts will be uploaded."
        if if_none == "error":
            raise StandinError(message)
        (step.warning if if_none == "warn" else step.info)(message)
        return
    step.info(
        f"With the provided path, there will be {len(files)} file{'' if len(files) == 1 else 's'} uploaded"
    )
    root = root_directory(patterns, files)
    run_id = step.need_env(
        "GITHUB_RUN_ID", "act sets it; the rehearsal harness passes each run's id with --env"
    )
    with locked(step.store) as store:
        folder, meta = store / run_id / name, store / run_id / f"{name}.json"
        if meta.exists():
            if not overwrite:
                raise StandinError(
                    "Failed to CreateArtifact: Received non-retryable error: Failed request: (409) Conflict: "
                    "an artifact with this name already exists on the workflow run"
                )
            shutil.rmtree(folder, ignore_errors=True)
            meta.unlink()
        for path in files:
            target = folder / path.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        artifact_id, digest = next_id(store), digest_of(folder)
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        record = {
            "id": artifact_id,
            "name": name,
            "run_id": run_id,
            "digest": digest,
            "size": size,
            "retention_days": retention,
            "created": time.time(),
            "path": str(folder),
        }
        meta.write_text(json.dumps(record, indent=1), encoding="utf-8")
    step.info(
        f"Artifact {name} has been successfully uploaded! Final size is {size} bytes. "
        f"Artifact ID is {artifact_id}"
    )
    server = step.env.get("GITHUB_SERVER_URL", "https://github.com")
    url = f"{server}/{step.env.get('GITHUB_REPOSITORY', '')}/actions/runs/{run_id}/artifacts/{artifact_id}"
    step.info(f"Artifact download URL: {url}")
    step.set_output("artifact-id", artifact_id)
    step.set_output("artifact-digest", digest)
    step.set_output("artifact-url", url)
    forge = step.env.get("REHEARSAL_FORGE_URL", "").rstrip("/")
    if forge:
        body = {"run_id": int(run_id) if run_id.isdigit() else run_id, "name": name, "path": str(folder)}
        try:
            rest.call("POST", f"{forge}/_forge/artifacts", body)
        except rest.RestError as exc:
            raise StandinError(f"the forge did not record the artifact: {exc}") from exc


def stored(store: Path, run_id: str) -> list[dict[str, object]]:
    folder = store / "artifacts" / run_id
    return (
        [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]
        if folder.is_dir()
        else []
    )


def download(step: Step) -> None:
    try:
        download_impl(step)
    except StandinError as exc:
        raise StandinError(f"Unable to download artifact(s): {exc}") from exc


def download_impl(step: Step) -> None:
    name, ids_text, token = step.input("name"), step.input("artifact-ids"), step.input("github-token")
    target = step.resolve(step.input("path") or str(step.workspace))
    if name and ids_text:
        raise StandinError(
            "Inputs 'name' and 'artifact-ids' cannot be used together. Please specify only one."
        )
    if token:
        repository = step.input("repository")
        owner, _, repo = repository.partition("/")
        if not owner or not repo:
            raise StandinError(f"Invalid repository: '{repository}'. Must be in format owner/repo")
        forge_git = step.env.get("REHEARSAL_FORGE_GIT_URL", "")
        forge_repo = repository_of(forge_git)
        if forge_git and repository.lower() != forge_repo.lower():
            raise StandinError(
                f"repository {repository} is not on the rehearsal forge, which serves only {forge_repo}"
            )
        run_id = step.input("run-id")
    else:
        run_id = step.need_env(
            "GITHUB_RUN_ID", "act sets it; the rehearsal harness passes each run's id with --env"
        )
    artifacts = stored(step.store, run_id)
    if name:
        chosen = [a for a in artifacts if a["name"] == name]
        if not chosen:
            raise StandinError(f"Artifact not found for name: {name}" + (NOT_FOUND_HINT if token else ""))
    elif ids_text:
        wanted = [part.strip() for part in ids_text.split(",") if part.strip()]
        if not wanted:
            raise StandinError("No valid artifact IDs provided in 'artifact-ids' input")
        for part in wanted:
            if not part.isdigit():
                raise StandinError(f"Invalid artifact ID: '{part}'. Must be a number.")
        chosen = [a for a in artifacts if str(a["id"]) in wanted]
        if not chosen:
            raise StandinError("None of the provided artifact IDs were found")
    else:
        pattern = step.input("pattern")
        chosen = [a for a in artifacts if not pattern or fnmatch.fnmatchcase(str(a["name"]), pattern)]
    merge = step.bool_input("merge-multiple")
    for artifact in chosen:
        destination = target if name or merge else target / str(artifact["name"])
        step.info(f"- {artifact['name']} (ID: {artifact['id']}, Expected Digest: {artifact['digest']})")
        shutil.copytree(Path(str(artifact["path"])), destination, dirs_exist_ok=True)
    step.info(f"Total of {len(chosen)} artifact(s) downloaded")
    step.set_output("download-path", str(target))
    step.info("Download artifact has finished successfully")
