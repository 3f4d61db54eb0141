"""A release as a resumable transaction: its steps, the progress recorded on the registry version,
the signals that stop it cleanly, and what the next run does with a release that stopped half-way.

A version is registered with `status=releasing`; after each step its tag `release_step` names the
last step done; `status=released` is written last. Every step is idempotent, so a run that finds
its own commit's model in `status=releasing` redoes the steps from the start and finishes it: a
kill at any point (even between a step and its record) leaves a state the next run completes.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import FrameType

from flightdelay.adapters import registry
from flightdelay.core.errors import FlightDelayError, Interrupted, ReleaseError
from flightdelay.core.progress import say
from flightdelay.lifecycle import faults
from flightdelay.lifecycle.release import gitops

CHAMPION, PREVIOUS = "champion", "previous"
STEPS = ("register", "tags", "card", "git-tag", "bundle", "champion", "previous", "push", "released")
RELEASING, RELEASED, ROLLED_BACK, ABANDONED = "releasing", "released", "rolled_back", "abandoned"
STEP_TAG = "release_step"  # the last step done
UPDATED_TAG = "release_updated_at"
PREVIOUS_TAG = "release_previous"  # the champion this release replaces ("none"): resume needs it
# A release interrupted on another runner is left alone this long (the release job's timeout is
# 20 minutes): it may still be running. Older ones are abandoned by the next release.
STALE_AFTER = timedelta(minutes=30)


def now() -> str:
    """UTC, milliseconds: history tags compare these as strings."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Progress:
    """What the running release has done so far (for the message when it stops)."""

    version: str | None = None
    step: str | None = None
    resumed_from: str | None = None
    done: list[str] = field(default_factory=list)


def record(progress: Progress, step: str) -> None:
    """Step `step` is done: a fault injected there fires first (the step done but not recorded)."""
    faults.point("release", step)
    registry.set_version_tags(str(progress.version), {STEP_TAG: step, UPDATED_TAG: now()})
    progress.step = step
    progress.done.append(step)


def previous_of(tags: Mapping[str, str]) -> str | None:
    v = tags.get(PREVIOUS_TAG, "none")
    return None if v in ("", "none") else v


def incomplete(version: str, tags: Mapping[str, str]) -> str | None:
    """Why `version` is not a complete release (None when it is, or when it is not a release)."""
    status = tags.get("status")
    if status in (ROLLED_BACK, ABANDONED):
        return None
    if status == RELEASING:
        last = tags.get(STEP_TAG)
        where = f"stopped after step `{last}`" if last else "stopped before its first step was recorded"
        return f"half-released (status=releasing, {where}, last progress {tags.get(UPDATED_TAG, '?')})"
    if status != RELEASED:
        return f"an orphan: registered but never released (status={status or 'none'})"
    tag = gitops.tag_name(version)
    at = gitops.tag_commit(tag)
    if at is None:
        return f"an orphan: marked status=released but git tag {tag} is missing"
    if at != tags.get("git_sha"):
        return f"git tag {tag} points at {at[:12]}, the registry says {tags.get('git_sha', '?')[:12]}"
    return None


def in_flight(tags: Mapping[str, str]) -> bool:
    """Being released, with progress recent enough that its run may still be going."""
    return tags.get("status") == RELEASING and not is_stale(tags)


def is_stale(tags: Mapping[str, str]) -> bool:
    stamp = tags.get(UPDATED_TAG) or tags.get("released_at") or ""
    try:
        at = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return True
    return datetime.now(UTC) - at > STALE_AFTER


def abandon(version: str, tags: Mapping[str, str], *, superseded_by: str) -> None:
    """Roll back an interrupted release of another commit: the aliases it moved go back, the
    version is kept (status=abandoned) for the record."""
    prior = previous_of(tags)
    if registry.alias_version(CHAMPION) == version:
        if prior is None:
            registry.delete_alias(CHAMPION)
        else:
            registry.set_alias(CHAMPION, prior)
    registry.set_version_tags(
        version, {"status": ABANDONED, "abandoned_for": superseded_by, UPDATED_TAG: now()}
    )
    say(f"release: v{version} (commit {tags.get('git_sha', '?')[:12]}) was interrupted long ago; abandoned")


def stopped(progress: Progress, e: BaseException, branch: str) -> FlightDelayError:
    """The one-paragraph error for a release that stopped after registering its version."""
    v = progress.version
    where = f"after step `{progress.step}`" if progress.step else "before its first recorded step"
    hint = (
        f"nothing is lost: the registry marks v{v} status=releasing and `flightdelay release verify` "
        f"reports it until it is finished; re-run `flightdelay release` on {branch} (or re-run the "
        "release job) to finish it"
    )
    if isinstance(e, Interrupted):
        return Interrupted(e.exit_code - 128, f"release of v{v} interrupted {where} ({e.message})", hint=hint)
    if isinstance(e, FlightDelayError):
        reason = e.message if not e.hint else f"{e.message} ({e.hint})"
        return type(e)(f"release of v{v} stopped {where}: {reason}", hint=hint)
    first = (str(e).strip().splitlines() or [""])[0][:300]
    return ReleaseError(f"release of v{v} stopped {where}: {type(e).__name__}: {first}", hint=hint)


_deferring: list[int | None] = []


def _raise(signum: int, _frame: FrameType | None) -> None:
    if _deferring:
        _deferring[-1] = signum  # finish the git commit first; raised when it is done
        return
    raise Interrupted(signum, f"stopped by {signal.Signals(signum).name}")


@contextlib.contextmanager
def handle_signals() -> Iterator[None]:
    """SIGINT and SIGTERM (a cancelled CI job) raise Interrupted, so the release stops with a
    message and its recorded progress instead of dying mid-line."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, _raise) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold SIGINT/SIGTERM until the block is done (a file write and its commit stay together)."""
    _deferring.append(None)
    try:
        yield
    finally:
        pending = _deferring.pop()
        if pending is not None:
            _raise(pending, None)


def move_champion(branch: str, version: str, sha: str, previous: str | None) -> tuple[bool, str | None]:
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
            f"{branch} than this release's {sha[:12]}"
        )
        return False, previous
    if champion != previous:  # another release moved it since this one planned: it is replaced now
        registry.set_version_tags(version, {PREVIOUS_TAG: champion or "none"})
    registry.set_alias(CHAMPION, version)
    return True, champion
