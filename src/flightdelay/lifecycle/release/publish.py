"""`flightdelay release`: turn the reviewed model into a released one, without retraining.

Refuses unless HEAD is the tip of the release branch (`release.branch`, `--branch`); makes the
workspace match the committed dvc.lock (refusing a stale lock; pulling, or reproducing and
checking, absent outputs), checks the bundle against the model hash in dvc.lock, then runs the
steps of `transaction.STEPS`: registers it (`status=releasing`), tags the version, writes the model
card and changelog, tags the commit `model-vN`, writes the bundle copy (with release.json) that the
image bakes plus the champion archive that PR checks read, moves `champion` (the old one becomes
`previous`), pushes, and only then marks the version `status=released`. Each step is recorded on
the version and is idempotent: a run that was killed, interrupted or hit by a registry error is
finished by the next run. Re-running a complete release rewrites the bundle copy and the archive
and changes nothing else.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from flightdelay.adapters import dvcio, hashing, registry
from flightdelay.core import bundle as bundle_mod
from flightdelay.core import bundle_archive
from flightdelay.core.errors import ConfigError, Interrupted, ModelError, ReleaseError
from flightdelay.core.params import Params, ReleaseParams
from flightdelay.core.progress import say
from flightdelay.lifecycle.release import card, gitops, overlay, transaction, workspace
from flightdelay.lifecycle.release.transaction import CHAMPION, PREVIOUS, now


def out(line: str) -> None:
    """A result line on stdout (progress goes to stderr)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


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
        "status": transaction.RELEASING,  # "released" only once every step is done
        **{f"metric.{k}": str(v) for k, v in metrics.items() if isinstance(v, int | float)},
    }
    if pr:
        tags["pr"] = pr
    return tags


def managed_paths(p: Params) -> tuple[str, ...]:
    """Files a release (and a bump) writes: commits touching only these change no code."""
    return (p.release.cards_dir, p.release.changelog, *p.release.overlays.values())


@dataclass(frozen=True)
class Survey:
    """What the registry holds for this commit's model: a complete release, one to resume, and
    the other interrupted releases (of other commits, or older attempts at this one)."""

    done: tuple[str, dict[str, str]] | None
    resume: tuple[str, dict[str, str]] | None
    others: list[tuple[str, dict[str, str]]]


def survey(p: Params, model_md5: str) -> Survey:
    """A release of this model from a commit that differs from HEAD only in release-managed
    files is this release: complete (nothing to do) or not (resume it)."""
    managed = managed_paths(p)
    done = resume = None
    others = []
    for v in reversed(registry.versions()):
        version, tags = v["version"], v["tags"]
        if tags.get("status") in (transaction.ABANDONED, None):
            continue
        changed = gitops.changed_since(tags.get("git_sha", ""))
        ours = tags.get("model_md5") == model_md5 and changed is not None
        ours = ours and all(_under(f, managed) for f in changed or [])
        why = transaction.incomplete(version, tags)
        if ours and why is None and done is None:
            done = (version, tags)
        elif ours and why is not None and resume is None and done is None:
            resume = (version, tags)
        elif tags.get("status") == transaction.RELEASING:  # another commit's, or an older attempt
            others.append((version, tags))
    return Survey(done, resume, others)


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


def _with_branch(p: Params, image_repository: str | None, branch: str | None) -> Params:
    update: dict[str, Any] = {}
    if image_repository:
        update["image_repository"] = image_repository
    if branch:
        update["branch"] = branch
    if not update:
        return p
    try:
        section = ReleaseParams.model_validate({**p.release.model_dump(), **update})
    except ValidationError as e:
        raise ConfigError(
            f"--image-repository {image_repository!r} is not an image name",
            hint="lowercase, without a tag, e.g. ghcr.io/acme/flightdelay",
        ) from e
    return p.model_copy(update={"release": section})


def release(
    p: Params,
    *,
    image_repository: str | None = None,
    pr: str | None = None,
    push: bool = False,
    branch: str | None = None,
) -> Released:
    p = _with_branch(p, image_repository, branch)
    with gitops.release_lock(), transaction.handle_signals():
        gitops.require_clean()
        gitops.require_release_branch(p.release.branch, p.release.remote, managed_paths(p))
        workspace.ensure_reviewed_outputs(p)
        model_md5 = check_model_hash(p)
        sha = gitops.head()
        found = survey(p, model_md5)
        for version, tags in found.others:
            if transaction.is_stale(tags):
                transaction.abandon(version, tags, superseded_by=sha)
            else:
                say(
                    f"release: v{version} (commit {tags.get('git_sha', '?')[:12]}) is "
                    f"{transaction.incomplete(version, tags)}; it may still be running elsewhere, "
                    "so it is left alone (`flightdelay release verify` reports it)"
                )
        if found.done:
            v, tags = found.done
            say(
                f"release: model {model_md5[:12]} and the code of {sha[:12]} are already released "
                f"as {gitops.tag_name(v)} (only release-managed files changed since); nothing to do"
            )
            dest = _rewrite_outputs(p, v, tags, model_md5)
            say(f"release: image bundle {dest} and {champion_archive(p)} rewritten for version {v}")
            image = tags.get("image", "")
            out(f"{bundle_mod.MODEL_NAME} v{v} already released as {gitops.tag_name(v)}; image {image}")
            return Released(v, gitops.tag_name(v), image, None, created=False)
        progress = transaction.Progress()
        if found.resume:
            v, tags = found.resume
            progress.version, progress.resumed_from = v, tags.get(transaction.STEP_TAG)
            why = transaction.incomplete(v, tags)
            say(f"release: v{v} of this commit is {why}; resuming it")
        try:
            return _release(p, sha=sha, model_md5=model_md5, pr=pr, push=push, progress=progress, found=found)
        except Refused:
            raise
        except (Exception, Interrupted) as e:
            if progress.version is None:
                raise
            raise transaction.stopped(progress, e, p.release.branch) from e


class Refused(ReleaseError):
    """A release step that must not happen (nothing of this run is left behind)."""


def _release(
    p: Params,
    *,
    sha: str,
    model_md5: str,
    pr: str | None,
    push: bool,
    progress: transaction.Progress,
    found: Survey,
) -> Released:
    metrics = _read_json(p.paths.metrics) or {}
    slices = _read_json(p.paths.slices) or []
    if found.resume is None:
        released_at = now()
        version = registry.register_bundle(
            p.paths.bundle,
            tags=_version_tags(
                p, sha=sha, model_md5=model_md5, pr=pr, released_at=released_at, metrics=metrics
            ),
        )
        progress.version = version
        tag = gitops.tag_name(version)
        say(f"release: registered {bundle_mod.MODEL_NAME} version {version} (status=releasing)")
        if gitops.tag_exists(tag):
            registry.delete_version(version)
            raise Refused(
                f"git tag {tag} already exists, but the registry just issued version "
                f"{version}: the registry and git disagree (the new version was deleted)",
                hint="point MLFLOW_TRACKING_URI at this repository's registry",
            )
        transaction.record(progress, "register")
        tags: dict[str, str] = {}
    else:
        version, tags = found.resume
        sha, released_at, pr = tags.get("git_sha", sha), tags.get("released_at") or now(), tags.get("pr")
        tag = gitops.tag_name(version)
        at = gitops.tag_commit(tag)
        if at is not None and at != sha:
            raise ReleaseError(
                f"git tag {tag} points at {at[:12]}, but v{version} was built from {sha[:12]}",
                hint=f"a tag of another clone or registry: delete the local tag (`git tag -d {tag}`) "
                "if it is not published, or point MLFLOW_TRACKING_URI at this repository's registry",
            )

    # tags: what the version will be released as, and the champion it replaces (kept for resume)
    image = str(overlay.ImageRef(p.release.image_repository, overlay.image_tag(version, sha)))
    facts = _facts(
        p, version=version, sha=sha, model_md5=model_md5, image=image, pr=pr, released_at=released_at
    )
    cpath = card_path(p, version)
    champion = registry.alias_version(CHAMPION)
    planned = transaction.previous_of(tags) if transaction.PREVIOUS_TAG in tags else champion
    previous = planned if champion in (version, planned) else champion
    registry.set_version_tags(
        version,
        {
            "git_tag": tag,
            "image": image,
            "model_card": str(cpath),
            transaction.PREVIOUS_TAG: previous or "none",
        },
    )
    transaction.record(progress, "tags")

    # card: model card + changelog, committed together (the tag marks the code commit, not this one)
    changelog = Path(p.release.changelog)

    def write_docs() -> None:  # also re-run on a fresh tip when a push races another merge
        with transaction.deferred_signals():
            cpath.parent.mkdir(parents=True, exist_ok=True)
            cpath.write_text(card.model_card(facts, metrics, slices, bundle_mod.MODEL_NAME))
            current = changelog.read_text() if changelog.is_file() else ""
            if f"## {tag} — " not in current:
                entry = card.changelog_entry(facts, metrics, str(cpath), previous)
                changelog.write_text(card.prepend_changelog(current, entry))
            gitops.commit([str(cpath), str(changelog)], f"release: {tag} (model card, changelog)")

    write_docs()
    transaction.record(progress, "card")

    if gitops.tag_commit(tag) is None:
        gitops.create_tag(
            tag,
            sha,
            f"{bundle_mod.MODEL_NAME} version {version}\n\nimage: {image}\nmodel md5: {model_md5}",
        )
    say(f"release: git tag {tag} → {sha[:12]}; model card {cpath}")
    transaction.record(progress, "git-tag")

    dest = write_image_bundle(p, facts.release_json(bundle_mod.MODEL_NAME))
    registry.log_bundle_file(version, dest / bundle_mod.RELEASE_FILE)
    say(f"release: image bundle {dest} (release.json → version {version}); {champion_archive(p)}")
    transaction.record(progress, "bundle")

    moved, previous = _move_champion(p, version, sha, previous)
    transaction.record(progress, "champion")
    if moved:
        if previous and previous != version:
            registry.set_alias(PREVIOUS, previous)
            registry.append_tag_once(previous, "superseded_at", released_at)
        registry.append_tag_once(version, "champion_at", released_at)
        say(f"release: alias champion → {version}" + (f", previous → {previous}" if previous else ""))
    transaction.record(progress, "previous")

    if push:
        gitops.push(
            p.release.remote,
            p.release.branch,
            tags=[tag],
            reapply=write_docs,
            attempts=p.release.push_attempts,
        )
    transaction.record(progress, "push")

    registry.set_version_tags(version, {"status": transaction.RELEASED})  # last: now it counts
    transaction.record(progress, "released")
    out(f"released {bundle_mod.MODEL_NAME} v{version} as {tag}; image {image}")
    return Released(version, tag, image, previous, created=True)


def _move_champion(p: Params, version: str, sha: str, previous: str | None) -> tuple[bool, str | None]:
    """Point `champion` at `version` unless it names a newer merge: (whether it names `version`
    now, the version it replaced)."""
    champion = registry.alias_version(CHAMPION)
    if champion == version:
        return True, previous
    # Release runs of different merges may overlap (one concurrency group per commit): a release
    # of an older merge that finishes last is registered and tagged, but `champion` keeps the newer.
    champion_sha = registry.version_tags(champion).get("git_sha", "") if champion else ""
    if gitops.is_older(sha, champion_sha):
        say(
            f"release: champion stays v{champion}: its commit {champion_sha[:12]} is newer on "
            f"{p.release.branch} than this release's {sha[:12]}"
        )
        return False, previous
    if champion != previous:  # another release moved it since this one planned: it is replaced now
        registry.set_version_tags(version, {transaction.PREVIOUS_TAG: champion or "none"})
    registry.set_alias(CHAMPION, version)
    return True, champion
