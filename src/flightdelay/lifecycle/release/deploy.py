"""Bump and roll back the image an overlay pins, as git commits; record each deployment on the
model version (deployed_<env>_at / replaced_<env>_at / rolled_back_at), so the registry alone
answers "which version ran in production when"."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from flightdelay.adapters import registry
from flightdelay.core.errors import ReleaseError
from flightdelay.core.params import Params
from flightdelay.core.progress import say
from flightdelay.lifecycle.release import gitops, overlay
from flightdelay.lifecycle.release.publish import out
from flightdelay.lifecycle.release.transaction import CHAMPION, PREVIOUS, now


@dataclass(frozen=True)
class Bumped:
    env: str
    version: str
    image: str
    changed: bool


def overlay_dir(p: Params, env: str) -> Path:
    if env not in p.release.overlays:
        raise ReleaseError(
            f"no overlay named {env!r}",
            hint=f"choose one of {sorted(p.release.overlays)} (release.overlays)",
        )
    return Path(p.release.overlays[env])


def version_image(version: str) -> overlay.ImageRef:
    """The image a version was released with (and its digest, once the build reported one)."""
    tags = registry.version_tags(version)
    if "image" not in tags:
        raise ReleaseError(
            f"model version {version} has no `image` tag: it was not released",
            hint="release it with `flightdelay release` first",
        )
    ref = overlay.ImageRef.parse(tags["image"])
    return replace(ref, digest=tags.get("image_digest") or ref.digest)


def deployed_version(env: str) -> str | None:
    """The version whose latest deployed_<env>_at is the newest (from version tags only)."""
    latest: tuple[str, str] | None = None
    for v in registry.versions():
        stamps = v["tags"].get(f"deployed_{env}_at", "").split()
        if stamps and (latest is None or stamps[-1] > latest[0]):
            latest = (stamps[-1], v["version"])
    return latest[1] if latest else None


def record_deployment(env: str, version: str, at: str | None = None) -> bool:
    """Append deployed_<env>_at on `version` (and replaced_<env>_at on the one it replaces);
    False when the registry already shows `version` as deployed there (idempotent)."""
    at = at or now()
    current = deployed_version(env)
    if current == version:
        return False
    if current is not None:
        registry.append_tag(current, f"replaced_{env}_at", at)
    registry.append_tag(version, f"deployed_{env}_at", at)
    return True


def _commit_and_push(p: Params, apply: Callable[[], None], *, push: bool) -> None:
    """Run `apply` (edit + commit); with `push`, publish it. On failure the commit is dropped,
    so the registry is only touched once git holds the change."""
    before = gitops.head()
    apply()
    try:
        if push:
            gitops.push(
                p.release.remote,
                p.release.branch,
                tags=[],
                reapply=apply,
                attempts=p.release.push_attempts,
            )
    except BaseException:
        gitops.reset_to(before)
        raise


def bump(
    p: Params,
    env: str,
    *,
    version: str | None = None,
    digest: str | None = None,
    push: bool = False,
    record: bool = True,
    allow_downgrade: bool = False,
) -> Bumped:
    """Point `env`'s overlay at a released version (default: the champion) and commit it."""
    d = overlay_dir(p, env)
    with gitops.release_lock():
        gitops.require_clean([str(d)])
        v = version or registry.alias_version(CHAMPION)
        if v is None:
            raise ReleaseError("there is no champion to deploy", hint="run `flightdelay release` first")
        ref = version_image(v)
        if digest:
            ref = replace(ref, digest=overlay.check_digest(digest))
            registry.set_version_tags(v, {"image_digest": digest})
        current = overlay.read(d)
        running = current.model_version
        if running is not None and running > int(v) and not allow_downgrade:
            say(
                f"bump: {env} already runs model-v{running}, newer than v{v}; leaving it "
                "(a rollback uses `flightdelay release rollback`)"
            )
            return Bumped(env, str(running), str(current), changed=False)

        def apply() -> None:
            overlay.write(d, ref)
            gitops.commit([str(d / overlay.KUSTOMIZATION)], f"deploy({env}): {gitops.tag_name(v)} {ref}")

        changed = current != ref
        if changed:
            _commit_and_push(p, apply, push=push)
        if record and record_deployment(env, v):
            say(f"bump: recorded deployed_{env}_at on version {v}")
        out(f"{env}: {ref}" + ("" if changed else " (already there; nothing to commit)"))
        return Bumped(env, v, str(ref), changed)


def _fallback(before: str) -> str | None:
    """The newest released (complete, not rolled back) version older than `before`."""
    for v in reversed(registry.versions()):
        t = v["tags"]
        if int(v["version"]) < int(before) and "image" in t and t.get("status") == "released":
            return str(v["version"])
    return None


def rollback(p: Params, *, to: str | None = None, push: bool = False) -> Bumped:
    """Revert the overlays running the champion to `to` (default: `previous`) in a new commit,
    move `champion` back, and mark the abandoned version rolled back."""
    with gitops.release_lock():
        dirs = {env: overlay_dir(p, env) for env in p.release.overlays}
        gitops.require_clean([str(d) for d in dirs.values()])
        current = registry.alias_version(CHAMPION)
        if current is None:
            raise ReleaseError("there is no champion to roll back", hint="nothing was released yet")
        target = to or registry.alias_version(PREVIOUS)
        if target is None:
            raise ReleaseError(
                f"champion v{current} has no `previous` version to roll back to",
                hint="pass --to VERSION",
            )
        if str(target) == current:
            out(f"champion is already v{current}; nothing to roll back")
            return Bumped(p.release.champion_env, current, str(version_image(current)), False)
        ref = version_image(target)
        if gitops.tag_commit(gitops.tag_name(target)) is None:
            raise ReleaseError(
                f"git tag {gitops.tag_name(target)} is missing; v{target} cannot "
                "be verified after a rollback",
                hint="fetch tags (`git fetch --tags`)",
            )
        envs = [
            env
            for env, d in dirs.items()
            if env == p.release.champion_env or overlay.read(d).model_version == int(current)
        ]

        def apply() -> None:
            for env in envs:
                overlay.write(dirs[env], ref)
            gitops.commit(
                [str(dirs[e] / overlay.KUSTOMIZATION) for e in envs],
                f"rollback: {gitops.tag_name(current)} → {gitops.tag_name(target)} "
                f"in {', '.join(envs)}\n\nimage: {ref}",
            )

        _commit_and_push(p, apply, push=push)
        at = now()
        registry.set_alias(CHAMPION, target)
        fallback = _fallback(target)
        if fallback:
            registry.set_alias(PREVIOUS, fallback)
        else:
            registry.delete_alias(PREVIOUS)
        registry.set_version_tags(current, {"status": "rolled_back", "rolled_back_to": target})
        registry.append_tag(current, "rolled_back_at", at)
        registry.set_version_tags(target, {"status": "released"})  # in case it was rolled back
        registry.append_tag(target, "champion_at", at)
        for env in envs:
            record_deployment(env, target, at)
        out(
            f"rolled back {', '.join(envs)}: {gitops.tag_name(current)} → "
            f"{gitops.tag_name(target)} ({ref}); champion → v{target}"
        )
        return Bumped(p.release.champion_env, str(target), str(ref), True)
