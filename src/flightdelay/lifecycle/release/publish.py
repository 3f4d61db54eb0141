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

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flightdelay.adapters import registry
from flightdelay.core import bundle as bundle_mod
from flightdelay.core.errors import Interrupted, ReleaseError
from flightdelay.core.params import Params
from flightdelay.core.progress import say
from flightdelay.lifecycle.release import card, gitops, overlay, transaction, workspace
from flightdelay.lifecycle.release.facts import (
    Survey,
    card_path,
    champion_archive,
    check_model_hash,
    managed_paths,
    read_json,
    rewrite_outputs,
    survey,
    version_facts,
    version_tags,
    with_branch,
    write_image_bundle,
)
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


def release(
    p: Params,
    *,
    image_repository: str | None = None,
    pr: str | None = None,
    push: bool = False,
    branch: str | None = None,
) -> Released:
    p = with_branch(p, image_repository, branch)
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
            dest = rewrite_outputs(p, v, tags, model_md5)
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


@dataclass(frozen=True)
class Start:
    """The version this run releases: freshly registered, or the one it resumes."""

    version: str
    tag: str
    sha: str
    released_at: str
    pr: str | None
    tags: dict[str, str]


def _register_or_resume(
    p: Params,
    *,
    sha: str,
    model_md5: str,
    pr: str | None,
    metrics: dict[str, Any],
    progress: transaction.Progress,
    found: Survey,
) -> Start:
    """Step `register`: a new registry version (status=releasing), or the unfinished one of this
    commit, whose recorded commit, time and PR win over this run's."""
    if found.resume is not None:
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
        return Start(version, tag, sha, released_at, pr, tags)
    released_at = now()
    version = registry.register_bundle(
        p.paths.bundle,
        tags=version_tags(p, sha=sha, model_md5=model_md5, pr=pr, released_at=released_at, metrics=metrics),
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
    return Start(version, tag, sha, released_at, pr, {})


@dataclass(frozen=True)
class Planned:
    """What the version will be released as, and the champion it replaces (kept for a resume)."""

    image: str
    facts: card.ReleaseFacts
    card: Path
    previous: str | None


def _tag_version(p: Params, st: Start, model_md5: str, progress: transaction.Progress) -> Planned:
    """Step `tags`: the image, the git tag, the model card and the champion it replaces, on the version."""
    image = str(overlay.ImageRef(p.release.image_repository, overlay.image_tag(st.version, st.sha)))
    facts = version_facts(
        p,
        version=st.version,
        sha=st.sha,
        model_md5=model_md5,
        image=image,
        pr=st.pr,
        released_at=st.released_at,
    )
    cpath = card_path(p, st.version)
    champion = registry.alias_version(CHAMPION)
    planned = transaction.previous_of(st.tags) if transaction.PREVIOUS_TAG in st.tags else champion
    previous = planned if champion in (st.version, planned) else champion
    registry.set_version_tags(
        st.version,
        {
            "git_tag": st.tag,
            "image": image,
            "model_card": str(cpath),
            transaction.PREVIOUS_TAG: previous or "none",
        },
    )
    transaction.record(progress, "tags")
    return Planned(image, facts, cpath, previous)


def _docs_writer(
    p: Params, st: Start, plan: Planned, metrics: dict[str, Any], slices: list[Any]
) -> Callable[[], None]:
    """Step `card`: model card + changelog, committed together (the tag marks the code commit, not
    this one); also re-run on a fresh tip when a push races another merge."""
    changelog = Path(p.release.changelog)

    def write_docs() -> None:
        with transaction.deferred_signals():
            plan.card.parent.mkdir(parents=True, exist_ok=True)
            plan.card.write_text(card.model_card(plan.facts, metrics, slices, bundle_mod.MODEL_NAME))
            current = changelog.read_text() if changelog.is_file() else ""
            if f"## {st.tag} — " not in current:
                entry = card.changelog_entry(plan.facts, metrics, str(plan.card), plan.previous)
                changelog.write_text(card.prepend_changelog(current, entry))
            gitops.commit([str(plan.card), str(changelog)], f"release: {st.tag} (model card, changelog)")

    return write_docs


def _tag_commit(st: Start, plan: Planned, model_md5: str) -> None:
    """Step `git-tag`: `model-vN` on the code commit."""
    if gitops.tag_commit(st.tag) is None:
        gitops.create_tag(
            st.tag,
            st.sha,
            f"{bundle_mod.MODEL_NAME} version {st.version}\n\nimage: {plan.image}\nmodel md5: {model_md5}",
        )
    say(f"release: git tag {st.tag} → {st.sha[:12]}; model card {plan.card}")


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
    metrics = read_json(p.paths.metrics) or {}
    slices = read_json(p.paths.slices) or []
    st = _register_or_resume(
        p, sha=sha, model_md5=model_md5, pr=pr, metrics=metrics, progress=progress, found=found
    )
    plan = _tag_version(p, st, model_md5, progress)
    write_docs = _docs_writer(p, st, plan, metrics, slices)
    write_docs()
    transaction.record(progress, "card")
    _tag_commit(st, plan, model_md5)
    transaction.record(progress, "git-tag")
    dest = write_image_bundle(p, plan.facts.release_json(bundle_mod.MODEL_NAME))
    registry.log_bundle_file(st.version, dest / bundle_mod.RELEASE_FILE)
    say(f"release: image bundle {dest} (release.json → version {st.version}); {champion_archive(p)}")
    transaction.record(progress, "bundle")
    moved, previous = transaction.move_champion(p.release.branch, st.version, st.sha, plan.previous)
    transaction.record(progress, "champion")
    if moved:
        if previous and previous != st.version:
            registry.set_alias(PREVIOUS, previous)
            registry.append_tag_once(previous, "superseded_at", st.released_at)
        registry.append_tag_once(st.version, "champion_at", st.released_at)
        say(f"release: alias champion → {st.version}" + (f", previous → {previous}" if previous else ""))
    transaction.record(progress, "previous")
    if push:
        gitops.push(
            p.release.remote,
            p.release.branch,
            tags=[st.tag],
            reapply=write_docs,
            attempts=p.release.push_attempts,
        )
    transaction.record(progress, "push")
    registry.set_version_tags(st.version, {"status": transaction.RELEASED})  # last: now it counts
    transaction.record(progress, "released")
    out(f"released {bundle_mod.MODEL_NAME} v{st.version} as {st.tag}; image {plan.image}")
    return Released(st.version, st.tag, plan.image, previous, created=True)
