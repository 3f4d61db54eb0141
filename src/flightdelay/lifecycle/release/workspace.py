"""Before a release: the workspace must hold exactly what the committed dvc.lock records.

A merge can bring a dvc.lock that no longer describes its own inputs (params, data or code
changed without `dvc repro`): the lock then names an older model than this commit builds, and the
release refuses. Outputs that are merely absent (the pull-request job built them but, having no
credentials, never pushed them) are pulled from the DVC remote, or else reproduced with
`dvc repro` (training is deterministic) and checked against the committed lock before anything is
registered; reproduced outputs are pushed so that later jobs can pull them.
"""

from __future__ import annotations

from pathlib import Path

from flightdelay.adapters import dvcio
from flightdelay.adapters.gitio import git
from flightdelay.core.errors import ReleaseError
from flightdelay.core.params import Params
from flightdelay.core.progress import say
from flightdelay.lifecycle import data, lockcheck
from flightdelay.lifecycle.release import gitops

STALE_HINT = (
    "dvc.lock is stale (params, data or code changed without `dvc repro`): run `make repro` on a "
    "branch, commit dvc.lock (`flightdelay retrain prepare` does both) and merge that; if outputs "
    "were edited by hand, `dvc checkout` (or `dvc pull`) restores the recorded ones"
)


def _lines(by_stage: dict[str, list[str]]) -> str:
    return "\n".join(f"  stage {stage}: {what}" for stage, items in by_stage.items() for what in items)


def ensure_reviewed_outputs(p: Params) -> bool:
    """Make the workspace match the committed dvc.lock, or refuse; True when it reproduced."""
    committed = lockcheck.committed_lock("HEAD")
    data.restore(p, push=False)  # the raw partitions the lock's hashes are computed from
    status = dvcio.pipeline_status()
    remote = dvcio.default_remote()
    if status.missing and remote:
        targets = sorted(status.missing)
        say(f"release: pulling {', '.join(targets)} from the DVC remote `{remote}`")
        pulled = dvcio.run("pull", "--quiet", *targets, check=False)
        if pulled.returncode != 0:
            say("release: the DVC remote lacks some outputs; they will be reproduced")
        status = dvcio.pipeline_status()
    if status.changed:
        raise ReleaseError(
            "refusing to release: the workspace is not what the committed dvc.lock records, so "
            "dvc.lock does not name the model this commit builds:\n" + _lines(status.changed),
            hint=STALE_HINT,
        )
    if not status.missing:
        return False
    reproduce(committed, missing=status.missing, remote=remote)
    return True


def reproduce(committed: str, *, missing: dict[str, list[str]], remote: str | None) -> None:
    """`dvc repro` the absent outputs; the lock it writes must equal the committed one."""
    paths = sorted({path for items in missing.values() for path in items})
    say(f"release: reproducing {', '.join(paths)} (`dvc repro`; training is deterministic) …")
    dvcio.run("repro", stream=True)
    diffs = lockcheck.compare(committed, Path(lockcheck.LOCK).read_text())
    if diffs:
        gitops.reset_to("HEAD")  # the committed lock and metrics again (the tree was clean)
        raise ReleaseError(
            "refusing to release: the reproduced outputs differ from what the committed dvc.lock "
            "records (nothing was registered):\n" + "\n".join(f"  {d.line()}" for d in diffs),
            hint="the lock was edited, or the pipeline is not reproducible on this machine: "
            "run `make repro` and `flightdelay lock check` on a branch to see which stage moves",
        )
    git("checkout", "HEAD", "--", lockcheck.LOCK)  # the committed text (also undoes autostage)
    gitops.require_clean()  # git-tracked outputs (metrics, plots) must be the committed ones too
    say("release: reproduced outputs match dvc.lock")
    if remote is None:
        say("release: no DVC remote configured; the reproduced outputs stay in this workspace")
        return
    dvcio.run("push", "--quiet")
    say(f"release: pushed the reproduced outputs to the DVC remote `{remote}`")
