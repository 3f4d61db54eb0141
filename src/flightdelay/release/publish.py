"""`flightdelay release`: turn the reviewed model into a released one, without retraining.

Makes the workspace match the committed dvc.lock (refusing a stale lock; pulling, or
reproducing and checking, absent outputs), checks the bundle against the model hash in dvc.lock,
registers it, tags the version, moves `champion` (the old one becomes `previous`), writes the
model card and changelog, tags the commit `model-vN`, and writes the bundle copy (with
release.json) that the image bakes plus the champion archive that PR checks read. Every step
registers its undo; a failure anywhere rolls the earlier steps back. Re-running a release of an
already released commit rewrites the bundle copy and the archive and changes nothing else.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from flightdelay import bundle as bundle_mod
from flightdelay import bundle_archive, dvcio, hashing, registry
from flightdelay.errors import ConfigError, ModelError, ReleaseError
from flightdelay.params import Params, ReleaseParams
from flightdelay.progress import say
from flightdelay.release import card, gitops, overlay, workspace

CHAMPION, PREVIOUS = "champion", "previous"


def out(line: str) -> None:
    """A result line on stdout (progress goes to stderr)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def now() -> str:
    """UTC, milliseconds: history tags compare these as strings."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Released:
    version: str
    tag: str
    image: str
    previous: str | None
    created: bool  # False when this commit and model were already released


def card_path(p: Params, version: str | int) -> Path:
    return Path(p.release.cards_dir) / f"{gitops.tag_name(version)}.md"


def check_model_hash(p: Params) -> str:
    """The model md5 that dvc.lock records, after checking the workspace model and the bundle
    carry exactly it; a mismatch means this is not the model the PR built and reviewed."""
    recorded = dvcio.lock_outs().get(p.paths.model)
    if recorded is None:
        raise ReleaseError(
            f"dvc.lock records no hash for {p.paths.model}",
            hint="run `dvc repro` on the PR branch and commit dvc.lock",
        )
    found = {
        p.paths.model: Path(p.paths.model),
        f"{p.paths.bundle}/{bundle_mod.MODEL_FILE}": Path(p.paths.bundle) / bundle_mod.MODEL_FILE,
    }
    for label, path in found.items():
        if not path.is_file():
            raise ReleaseError(f"{label} is missing", hint="run `dvc pull` to fetch the reviewed model")
        actual = hashing.file_md5(path)
        if actual != recorded:
            raise ReleaseError(
                f"{label} has md5 {actual}, but dvc.lock records {recorded}: refusing to release a "
                "model that is not the one the pull request built (a release never retrains)",
                hint="run `dvc pull` (or `dvc checkout`) to restore the reviewed model, or rebuild "
                "it on a branch with `dvc repro` and merge that",
            )
    try:
        meta_md5 = bundle_mod.load(p.paths.bundle).metadata["model_md5"]
    except ModelError as e:
        raise ReleaseError(f"the bundle cannot be loaded: {e.message}", hint=e.hint) from e
    if meta_md5 != recorded:
        raise ReleaseError(
            f"{p.paths.bundle}/metadata.json names model md5 {meta_md5}, dvc.lock records {recorded}",
            hint="run `dvc repro bundle` and commit",
        )
    return recorded


def _read_json(path: str) -> Any:
    f = Path(path)
    return json.loads(f.read_text()) if f.is_file() else None


def _facts(
    p: Params,
    *,
    version: str,
    sha: str,
    model_md5: str,
    image: str,
    pr: str | None,
    released_at: str,
) -> card.ReleaseFacts:
    meta = bundle_mod.load(p.paths.bundle).metadata
    return card.ReleaseFacts(
        version=version,
        git_sha=sha,
        image=image,
        model_md5=model_md5,
        released_at=released_at,
        pr=pr,
        training_window=meta["training_window"],
        holdout_months=meta["holdout_months"],
        data_partitions=meta["data"]["partitions"],
        data_fingerprint=meta["data"]["fingerprint"],
        threshold=float(meta["threshold"]),
        params=meta.get("params", {}),
    )


def _version_tags(
    p: Params,
    *,
    sha: str,
    model_md5: str,
    pr: str | None,
    released_at: str,
    metrics: dict[str, Any],
) -> dict[str, str]:
    meta = bundle_mod.load(p.paths.bundle).metadata
    lock = dvcio.lock_outs()
    tags = {
        "git_sha": sha,
        "model_md5": model_md5,
        "dvc_bundle_md5": lock.get(p.paths.bundle, "unknown"),
        "dvc_features_md5": lock.get(p.paths.features, "unknown"),
        "data_fingerprint": meta["data"]["fingerprint"],
        "data_partitions": json.dumps(meta["data"]["partitions"], sort_keys=True),
        "training_window": f"{meta['training_window']['start']}..{meta['training_window']['end']}",
        "image_repository": p.release.image_repository,
        "released_at": released_at,
        "released_by": os.environ.get("GITHUB_ACTOR") or os.environ.get("USER") or "unknown",
        "status": "released",
        **{f"metric.{k}": str(v) for k, v in metrics.items() if isinstance(v, int | float)},
    }
    if pr:
        tags["pr"] = pr
    return tags


def already_released(p: Params, model_md5: str) -> tuple[str, dict[str, str]] | None:
    """The version that released this model from a commit that differs from HEAD only in files
    a release writes (cards, changelog, overlays): re-running a release is then a no-op."""
    managed = (p.release.cards_dir, p.release.changelog, *p.release.overlays.values())
    for v in reversed(registry.find_versions(model_md5=model_md5)):
        tags = registry.version_tags(v)
        changed = gitops.changed_since(tags.get("git_sha", ""))
        if changed is not None and all(_under(f, managed) for f in changed):
            return v, tags
    return None


def _under(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def champion_archive(p: Params) -> Path:
    """build/champion.tar.gz: the image bundle as one file (the `model-vN` release asset)."""
    return Path(p.release.image_bundle).parent / bundle_archive.ARCHIVE_NAME


def write_image_bundle(p: Params, release_doc: dict[str, Any]) -> Path:
    """Copy the bundle to `release.image_bundle`, add release.json (atomic replace), and pack
    the result into the champion archive."""
    dest = Path(p.release.image_bundle)
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(p.paths.bundle, tmp)
    (tmp / bundle_mod.RELEASE_FILE).write_text(json.dumps(release_doc, indent=2) + "\n")
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    bundle_archive.pack(dest, champion_archive(p))
    return dest


def _rewrite_outputs(p: Params, version: str, tags: dict[str, str], model_md5: str) -> Path:
    """The image bundle and archive of a version released before, from its registry tags: the
    same release.json the first run wrote (a re-run after a failed later step needs them)."""
    facts = _facts(
        p,
        version=version,
        sha=tags.get("git_sha", ""),
        model_md5=model_md5,
        image=tags.get("image", ""),
        pr=tags.get("pr"),
        released_at=tags.get("released_at", ""),
    )
    return write_image_bundle(p, facts.release_json(bundle_mod.MODEL_NAME))


def release(
    p: Params, *, image_repository: str | None = None, pr: str | None = None, push: bool = False
) -> Released:
    if image_repository:
        try:
            section = ReleaseParams.model_validate(
                {**p.release.model_dump(), "image_repository": image_repository}
            )
        except ValidationError as e:
            raise ConfigError(
                f"--image-repository {image_repository!r} is not an image name",
                hint="lowercase, without a tag, e.g. ghcr.io/acme/flightdelay",
            ) from e
        p = p.model_copy(update={"release": section})
    with gitops.release_lock():
        gitops.require_clean()
        workspace.ensure_reviewed_outputs(p)
        model_md5 = check_model_hash(p)
        sha = gitops.head()
        done = already_released(p, model_md5)
        if done:
            v, tags = done
            say(
                f"release: model {model_md5[:12]} and the code of {sha[:12]} are already released "
                f"as {gitops.tag_name(v)} (only release-managed files changed since); nothing to do"
            )
            dest = _rewrite_outputs(p, v, tags, model_md5)
            say(f"release: image bundle {dest} and {champion_archive(p)} rewritten for version {v}")
            image = tags.get("image", "")
            out(f"{bundle_mod.MODEL_NAME} v{v} already released as {gitops.tag_name(v)}; image {image}")
            return Released(v, gitops.tag_name(v), image, None, created=False)
        undo: list[Callable[[], None]] = []
        try:
            return _release(p, sha=sha, model_md5=model_md5, pr=pr, push=push, undo=undo)
        except BaseException:
            say(f"release: failed; undoing {len(undo)} step(s)")
            for step in reversed(undo):
                step()
            raise


def _release(
    p: Params,
    *,
    sha: str,
    model_md5: str,
    pr: str | None,
    push: bool,
    undo: list[Callable[[], None]],
) -> Released:
    released_at = now()
    metrics = _read_json(p.paths.metrics) or {}
    slices = _read_json(p.paths.slices) or []
    version = registry.register_bundle(
        p.paths.bundle,
        tags=_version_tags(p, sha=sha, model_md5=model_md5, pr=pr, released_at=released_at, metrics=metrics),
    )
    undo.append(lambda: registry.delete_version(version))
    tag = gitops.tag_name(version)
    say(f"release: registered {bundle_mod.MODEL_NAME} version {version}")
    if gitops.tag_exists(tag):
        raise ReleaseError(
            f"git tag {tag} already exists, but the registry just issued version "
            f"{version}: the registry and git disagree",
            hint="point MLFLOW_TRACKING_URI at this repository's registry",
        )

    image = str(overlay.ImageRef(p.release.image_repository, overlay.image_tag(version, sha)))
    facts = _facts(
        p,
        version=version,
        sha=sha,
        model_md5=model_md5,
        image=image,
        pr=pr,
        released_at=released_at,
    )
    cpath = card_path(p, version)
    registry.set_version_tags(version, {"git_tag": tag, "image": image, "model_card": str(cpath)})

    # Model card + changelog, committed together (the tag marks the code commit, not this one).
    previous = registry.alias_version(CHAMPION)
    changelog = Path(p.release.changelog)
    old_log = changelog.read_text() if changelog.is_file() else None

    def write_docs() -> None:  # also re-run on a fresh tip when a push races another merge
        cpath.parent.mkdir(parents=True, exist_ok=True)
        cpath.write_text(card.model_card(facts, metrics, slices, bundle_mod.MODEL_NAME))
        entry = card.changelog_entry(facts, metrics, str(cpath), previous)
        current = changelog.read_text() if changelog.is_file() else ""
        changelog.write_text(card.prepend_changelog(current, entry))
        gitops.commit([str(cpath), str(changelog)], f"release: {tag} (model card, changelog)")

    undo.append(lambda: _restore_docs(sha, cpath, changelog, old_log))
    write_docs()
    gitops.create_tag(
        tag,
        sha,
        f"{bundle_mod.MODEL_NAME} version {version}\n\nimage: {image}\nmodel md5: {model_md5}",
    )
    undo.append(lambda: gitops.delete_tag(tag))
    say(f"release: git tag {tag} → {sha[:12]}; model card {cpath}")

    dest = write_image_bundle(p, facts.release_json(bundle_mod.MODEL_NAME))
    registry.log_bundle_file(version, dest / bundle_mod.RELEASE_FILE)
    say(f"release: image bundle {dest} (release.json → version {version}); {champion_archive(p)}")

    # Release runs of different merges may overlap (one concurrency group per commit): a release of
    # an older merge that finishes last is registered and tagged, but `champion` keeps the newer one.
    champion_sha = registry.version_tags(previous).get("git_sha", "") if previous else ""
    if gitops.is_older(sha, champion_sha):
        say(
            f"release: champion stays v{previous}: its commit {champion_sha[:12]} is newer on "
            f"{p.release.branch} than this release's {sha[:12]}"
        )
    else:
        prev_previous = registry.alias_version(PREVIOUS)
        registry.set_alias(CHAMPION, version)
        undo.append(lambda: _restore_alias(CHAMPION, previous))
        if previous and previous != version:
            registry.set_alias(PREVIOUS, previous)
            undo.append(lambda: _restore_alias(PREVIOUS, prev_previous))
            registry.append_tag(previous, "superseded_at", released_at)
        registry.append_tag(version, "champion_at", released_at)
        say(f"release: alias champion → {version}" + (f", previous → {previous}" if previous else ""))

    if push:
        gitops.push(
            p.release.remote,
            p.release.branch,
            tags=[tag],
            reapply=write_docs,
            attempts=p.release.push_attempts,
        )
    out(f"released {bundle_mod.MODEL_NAME} v{version} as {tag}; image {image}")
    return Released(version, tag, image, previous, created=True)


def _restore_docs(sha: str, cpath: Path, changelog: Path, old_log: str | None) -> None:
    if gitops.head() != sha:
        gitops.reset_to(sha)  # drops only our docs commit: the tree was clean at the start
    cpath.unlink(missing_ok=True)
    if old_log is None:
        changelog.unlink(missing_ok=True)
    else:
        changelog.write_text(old_log)


def _restore_alias(alias: str, version: str | None) -> None:
    if version is None:
        registry.delete_alias(alias)
    else:
        registry.set_alias(alias, version)
