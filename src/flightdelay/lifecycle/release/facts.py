"""What a release is made of, before any step runs: the model's hash checked against dvc.lock,
the facts and registry tags of a version, the survey of earlier versions of this commit and model,
and the files a release writes (the image's bundle copy, the champion archive)."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from flightdelay.adapters import dvcio, hashing, registry
from flightdelay.core import bundle as bundle_mod
from flightdelay.core import bundle_archive
from flightdelay.core.errors import ConfigError, ModelError, ReleaseError
from flightdelay.core.params import Params, ReleaseParams
from flightdelay.lifecycle.release import card, gitops, transaction


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


def read_json(path: str) -> Any:
    f = Path(path)
    return json.loads(f.read_text()) if f.is_file() else None


def version_facts(
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


def version_tags(
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


def rewrite_outputs(p: Params, version: str, tags: dict[str, str], model_md5: str) -> Path:
    """The image bundle and archive of a version released before, from its registry tags: the
    same release.json the first run wrote (a re-run after a failed later step needs them)."""
    facts = version_facts(
        p,
        version=version,
        sha=tags.get("git_sha", ""),
        model_md5=model_md5,
        image=tags.get("image", ""),
        pr=tags.get("pr"),
        released_at=tags.get("released_at", ""),
    )
    return write_image_bundle(p, facts.release_json(bundle_mod.MODEL_NAME))


def with_branch(p: Params, image_repository: str | None, branch: str | None) -> Params:
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
