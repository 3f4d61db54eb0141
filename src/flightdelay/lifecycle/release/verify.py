"""`flightdelay release verify` and `history`: do git tag, registry alias, model card and each
overlay agree on what runs, is every registered version a complete release (none orphaned or
half-released), and which version ran where and when (from version tags alone)."""

from __future__ import annotations

from dataclasses import dataclass, field

from flightdelay.adapters import registry
from flightdelay.core.errors import ReleaseError
from flightdelay.core.params import Params
from flightdelay.lifecycle.release import gitops, overlay, transaction
from flightdelay.lifecycle.release.deploy import overlay_dir, version_image
from flightdelay.lifecycle.release.facts import card_path
from flightdelay.lifecycle.release.transaction import CHAMPION


@dataclass
class Report:
    ok: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def check(self, cond: bool, good: str, bad: str) -> bool:
        (self.ok if cond else self.problems).append(good if cond else bad)
        return cond


def _check_version(p: Params, r: Report, version: str, where: str) -> None:
    """A released version's git tag, card and registry tags agree with each other."""
    tags = registry.version_tags(version)
    tag = gitops.tag_name(version)
    sha = tags.get("git_sha", "")
    at = gitops.tag_commit(tag)
    r.check(
        at is not None and at == sha,
        f"{where}: git tag {tag} → {sha[:12]}",
        f"{where}: git tag {tag} "
        + ("is missing" if at is None else f"points at {at[:12]}, the registry says {sha[:12]}"),
    )
    card = card_path(p, version)
    text = card.read_text() if card.is_file() else ""
    r.check(
        f"`{tag}`" in text and tags.get("model_md5", "?") in text and tags.get("image", "?") in text,
        f"{where}: model card {card} names {tag}, its model md5 and image",
        f"{where}: model card {card} "
        + ("is missing" if not text else "does not match the registry (tag, md5 or image)"),
    )


def _check_versions(p: Params, r: Report, in_flight: bool) -> None:
    """Every version is a complete release (or was rolled back or abandoned); with `in_flight`, one
    still being released (progress within the window in which the next release leaves it alone)
    is reported as such, not as a mismatch."""
    versions = registry.versions()
    bad = 0
    for v in versions:
        why = transaction.incomplete(v["version"], v["tags"])
        if why is not None and in_flight and transaction.in_flight(v["tags"]):
            r.ok.append(
                f"registry: v{v['version']} is being released by another run ({why}); not checked yet"
            )
            continue
        if why is not None:
            bad += 1
            r.problems.append(
                f"registry: v{v['version']} (commit {v['tags'].get('git_sha', '?')[:12]}) is {why}; "
                f"run `flightdelay release` on {p.release.branch} to finish it (or re-run its release job)"
            )
    if versions and not bad:
        r.ok.append(f"registry: all {len(versions)} version(s) completely released (or rolled back)")


def verify(p: Params, *, in_flight: bool = False) -> Report:
    """The release state, as `release verify` prints it. `in_flight`: another release may be
    running (release.yml's own check, while later merges release beside it)."""
    r = Report()
    _check_versions(p, r, in_flight)
    champion = registry.alias_version(CHAMPION)
    if champion is None:
        r.problems.append("registry: no `champion` alias (nothing released)")
        return r
    r.ok.append(f"registry: champion → v{champion}")
    _check_version(p, r, champion, f"champion v{champion}")
    want = version_image(champion)
    for env in p.release.overlays:
        d = overlay_dir(p, env)
        try:
            ref = overlay.read(d)
        except ReleaseError as e:
            r.problems.append(f"{env}: {e.message}")
            continue
        v = ref.model_version
        if env == p.release.champion_env:
            r.check(
                ref == want,
                f"{env}: {ref} (champion)",
                f"{env}: overlay pins {ref}, champion v{champion} is {want}; "
                f"run `flightdelay release bump --env {env}`",
            )
            continue
        if v is None:
            r.ok.append(f"{env}: {ref} (no released model promoted yet)")
            continue
        tags = registry.version_tags(str(v)) if str(v) in _known() else {}
        if not r.check(bool(tags), "", f"{env}: overlay pins model-v{v}, unknown to the registry"):
            continue
        got = version_image(str(v))
        r.check(
            ref == got,
            f"{env}: {ref} (v{v})",
            f"{env}: overlay pins {ref}, version {v} was released as {got}",
        )
        r.check(
            tags.get("status") != "rolled_back",
            "",
            f"{env}: runs v{v}, which was rolled back; promote the champion or roll back {env}",
        )
        _check_version(p, r, str(v), f"{env} v{v}")
    r.ok = [line for line in r.ok if line]
    return r


def _known() -> set[str]:
    return {v["version"] for v in registry.versions()}


def history(env: str) -> list[tuple[str, str, str]]:
    """(timestamp, event, version) for one environment, oldest first, from version tags."""
    events: list[tuple[str, str, str]] = []
    for v in registry.versions():
        for key, name in (
            (f"deployed_{env}_at", "deployed"),
            (f"replaced_{env}_at", "replaced"),
            ("rolled_back_at", "rolled back"),
        ):
            events += [(t, name, v["version"]) for t in v["tags"].get(key, "").split()]
    return sorted(events)


def running_at(env: str, when: str) -> str | None:
    """The version deployed to `env` at ISO time `when` (None before the first deployment)."""
    current = None
    for t, event, v in history(env):
        if t > when:
            break
        if event == "deployed":
            current = v
    return current


def summary(r: Report) -> str:
    return "\n".join([*(f"ok       {line}" for line in r.ok), *(f"MISMATCH {line}" for line in r.problems)])
