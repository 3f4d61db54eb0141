"""actions/cache, cache/restore and cache/save stand-ins: path snapshots in REHEARSAL_STORE/cache/<key>.

A snapshot is a tree of private copies that never change: a file equal (same size and mtime) to
one in an earlier snapshot is a hard link to that copy, and a restore skips files already equal
on disk. Paths outside the job's workspace (the uv download cache under ~) live on this host for
every job, as on a self-hosted runner: the entry records them and copies nothing, which keeps a
save of ≈2 GB from costing half a minute per key.

As on GitHub: an entry is immutable, its version is a hash of the path lines (a restore with other paths
misses it), restore-keys match by prefix with the newest entry first, and a run sees entries of its own ref,
its PR's base branch and the default branch.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from rehearsal.standins import globs
from rehearsal.standins.core import StandinError, Step

MAX_KEYS = 10
MAX_KEY_LENGTH = 512


@dataclass(frozen=True)
class Entry:
    key: str
    version: str
    scope: str
    created: int
    tree: Path


def version_of(paths: list[str]) -> str:
    # @actions/cache: sha256 of the path lines and the compression method; the stand-in always "uses" zstd.
    return hashlib.sha256("|".join([*paths, "zstd"]).encode()).hexdigest()


def check_key(key: str) -> None:
    if len(key) > MAX_KEY_LENGTH:
        raise StandinError(f"Key Validation Error: {key} cannot be larger than {MAX_KEY_LENGTH} characters.")
    if "," in key:
        raise StandinError(f"Key Validation Error: {key} cannot contain commas.")


def scopes(step: Step) -> list[str]:
    """The refs whose caches this run may read, its own first."""
    ref = step.env.get("GITHUB_REF", "")
    base = step.env.get("GITHUB_BASE_REF", "")
    default = "refs/heads/main"
    event_path = step.env.get("GITHUB_EVENT_PATH", "")
    if event_path and Path(event_path).is_file():
        repository = json.loads(Path(event_path).read_text(encoding="utf-8")).get("repository") or {}
        default = f"refs/heads/{repository.get('default_branch') or 'main'}"
    ordered = [ref, f"refs/heads/{base}" if base else "", default]
    return [s for i, s in enumerate(ordered) if s and s not in ordered[:i]]


def cache_root(step: Step) -> Path:
    root = step.store / "cache"
    root.mkdir(parents=True, exist_ok=True)
    return root


def entries(step: Step) -> list[Entry]:
    found: list[Entry] = []
    for meta in cache_root(step).glob("*/*.json"):
        data = json.loads(meta.read_text(encoding="utf-8"))
        found.append(
            Entry(data["key"], data["version"], data["scope"], data["created"], meta.with_suffix(".tree"))
        )
    return found


def lookup(step: Step, paths: list[str], keys: list[str]) -> Entry | None:
    """GitHub's order, per scope: the primary key exactly, then each restore key as a prefix, newest first."""
    version = version_of(paths)
    usable = [e for e in entries(step) if e.version == version]
    for scope in scopes(step):
        in_scope = sorted((e for e in usable if e.scope == scope), key=lambda e: e.created, reverse=True)
        for index, key in enumerate(keys):
            for entry in in_scope:
                if entry.key == key or (index > 0 and entry.key.startswith(key)):
                    return entry
    return None


def arcname(step: Step, path: Path) -> str:
    """Workspace files go in relative to the workspace (each job has its own), others by absolute path."""
    workspace = step.workspace.resolve()
    return (
        f"w/{path.relative_to(workspace)}" if workspace in path.parents or path == workspace else f"a{path}"
    )


def _equal(a: os.stat_result, b: os.stat_result) -> bool:
    return a.st_size == b.st_size and a.st_mtime_ns == b.st_mtime_ns


def _copy(source: Path, target: Path, *, same: Path | None = None) -> None:
    """`target` becomes a copy of `source` (symlinks stay symlinks); `same`, an unchanging file equal
    to `source`, is hard-linked instead of copied."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    if source.is_symlink():
        target.symlink_to(source.readlink())
        return
    if same is not None:
        try:
            os.link(same, target)
            return
        except OSError:  # another file system: copy
            pass
    shutil.copy2(source, target)


def _files(root: Path) -> list[Path]:
    if root.is_file() or root.is_symlink():
        return [root]
    return [Path(d) / f for d, _, names in os.walk(root) for f in names]


def snapshot(step: Step, found: list[Path], tree: Path) -> None:
    earlier = [e.tree for e in sorted(entries(step), key=lambda e: -e.created)]
    workspace = step.workspace.resolve()
    tree.mkdir(parents=True)
    for path in found:
        if workspace not in path.resolve().parents and path.resolve() != workspace:
            step.info(
                f"{path} is on the host for every job (a self-hosted runner's disk): recorded, not copied"
            )
            continue
        for file in _files(path):
            name = arcname(step, file)
            same = None
            if not file.is_symlink():
                stat = file.stat()
                same = next(
                    (e / name for e in earlier if (e / name).is_file() and _equal((e / name).stat(), stat)),
                    None,
                )
            _copy(file, tree / name, same=same)


def restore_paths(step: Step, tree: Path) -> None:
    workspace = step.workspace.resolve()
    for file in _files(tree):
        prefix, _, rest = str(file.relative_to(tree)).partition("/")
        target = workspace / rest if prefix == "w" else Path("/") / rest
        if not file.is_symlink() and target.is_file() and _equal(target.stat(), file.stat()):
            continue  # already the same file on disk
        _copy(file, target)


def restore_impl(step: Step, *, with_state: bool) -> Entry | None:
    if not step.env.get("GITHUB_REF"):
        step.info(
            f"[warning]Event Validation Error: The event type {step.env.get('GITHUB_EVENT_NAME', '')} is not "
            "supported because it's not tied to a branch or tag ref."
        )
        return None
    primary = step.input("key", required=True)
    record = step.save_state if with_state else step.set_output
    record("CACHE_KEY" if with_state else "cache-primary-key", primary)
    restore_keys = step.lines_input("restore-keys")
    paths = step.lines_input("path")
    if not paths:
        raise StandinError("Input required and not supplied: path")
    keys = [primary, *restore_keys]
    if len(keys) > MAX_KEYS:
        raise StandinError(f"Key Validation Error: Keys are limited to a maximum of {MAX_KEYS}.")
    for key in keys:
        check_key(key)
    entry = lookup(step, paths, keys)
    if entry is None:
        if step.bool_input("fail-on-cache-miss"):
            raise StandinError(
                f"Failed to restore cache entry. Exiting as fail-on-cache-miss is set. Input key: {primary}"
            )
        step.info(f"Cache not found for input keys: {', '.join(keys)}")
        return None  # cache-hit stays unset on a miss, as in actions/cache (issue 1466)
    if with_state:
        step.save_state("CACHE_RESULT", entry.key)
    else:
        step.set_output("cache-matched-key", entry.key)
    step.set_output("cache-hit", str(entry.key.casefold() == primary.casefold()).lower())
    if step.bool_input("lookup-only"):
        step.info(f"Cache found and can be restored from key: {entry.key}")
    else:
        restore_paths(step, entry.tree)
        step.info(f"Cache restored from key: {entry.key}")
    return entry


def save_impl(step: Step, primary: str, restored: str) -> bool:
    if not step.env.get("GITHUB_REF"):
        step.info("[warning]Event Validation Error: the event is not tied to a branch or tag ref.")
        return False
    if not primary:
        step.info("[warning]Key is not specified.")
        return False
    if restored and restored.casefold() == primary.casefold():
        step.info(f"Cache hit occurred on the primary key {primary}, not saving cache.")
        return True
    paths = step.lines_input("path")
    try:
        check_key(primary)
    except StandinError as exc:
        step.info(f"[warning]{exc}")
        return False
    patterns = globs.parse(paths, step.workspace, step.home, implicit_descendants=False)
    found = globs.search(patterns, implicit_descendants=False)
    if not found:
        step.info(
            "[warning]Path Validation Error: Path(s) specified in the action for caching do(es) not exist, "
            "hence no cache is being saved."
        )
        return False
    version, scope = version_of(paths), step.env.get("GITHUB_REF", "")
    if any(e.key == primary and e.version == version and e.scope == scope for e in entries(step)):
        step.info(
            f"[warning]Failed to save: Unable to reserve cache with key {primary}, "
            "another job may be creating this cache."
        )
        return False
    folder = cache_root(step) / quote(primary, safe="")
    folder.mkdir(parents=True, exist_ok=True)
    name = uuid.uuid4().hex
    partial = folder / f"{name}.partial"
    snapshot(step, found, partial)
    partial.rename(folder / f"{name}.tree")
    meta = {"key": primary, "version": version, "scope": scope, "created": time.time_ns(), "paths": paths}
    written = folder / f"{name}.json.partial"
    written.write_text(json.dumps(meta, indent=1), encoding="utf-8")
    written.rename(folder / f"{name}.json")  # readers list *.json: an entry appears whole or not at all
    step.info(f"Cache saved with key: {primary}")
    return True


def main(step: Step) -> None:
    """actions/cache: restore now; the post step saves (unless the primary key hit)."""
    restore_impl(step, with_state=True)


def post(step: Step) -> None:
    try:
        save_impl(step, step.state("CACHE_KEY") or step.input("key"), step.state("CACHE_RESULT"))
    except StandinError as exc:  # a failed save only warns, as in actions/cache
        step.info(f"[warning]{exc}")


def restore(step: Step) -> None:
    """actions/cache/restore: outputs cache-hit, cache-primary-key and cache-matched-key."""
    restore_impl(step, with_state=False)


def save(step: Step) -> None:
    """actions/cache/save: a failed save warns `Cache save failed.` and the step succeeds."""
    try:
        saved = save_impl(step, step.input("key"), "")
    except StandinError as exc:
        step.info(f"[warning]{exc}")
        saved = False
    if not saved:
        step.warning("Cache save failed.")
