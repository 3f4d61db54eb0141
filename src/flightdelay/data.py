"""`flightdelay data`: add, restore and list the DVC-tracked raw monthly partitions."""

from __future__ import annotations

import shutil
from pathlib import Path

from flightdelay import dvcio, source
from flightdelay.errors import DataError
from flightdelay.params import MONTH_RE, Params
from flightdelay.progress import say


def dvc_file(raw: Path, month: str) -> Path:
    return raw / f"{month}.dvc"


def tracked_months(raw: Path) -> list[str]:
    return sorted(p.stem for p in raw.glob("*.dvc") if MONTH_RE.match(p.stem))


def add(params: Params, months: list[str], *, push: bool = False) -> list[str]:
    """Materialise months from the embedded source and `dvc add` them (idempotent)."""
    raw = Path(params.paths.raw)
    for month in months:
        if not MONTH_RE.match(month):
            raise DataError(f"{month!r} is not a month", hint="write it as YYYY-MM, e.g. 2013-07")
    known = [m for m in months if dvc_file(raw, m).exists() and (raw / m).exists()]
    stale = dvcio.dirty([str(dvc_file(raw, m)) for m in known])
    todo = [m for m in months if m not in known or str(dvc_file(raw, m)) in stale]
    for month in sorted(set(months) - set(todo)):
        say(f"data: {month} already tracked and up to date")
    if not todo:
        return []
    for month in todo:
        source.materialize(month, raw)
    dvcio.run("add", "--quiet", *[str(raw / m) for m in todo])
    for month in todo:
        say(f"data: tracked {raw / month} ({dvcio.out_md5(dvc_file(raw, month))})")
    if push:
        dvcio.run("push", "--quiet", *[str(dvc_file(raw, m)) for m in todo])
    return todo


def restore(params: Params, *, push: bool = True) -> dict[str, str]:
    """Bring every tracked partition into the workspace: from the DVC cache/remote if it has it,
    else from the embedded source, verified against the md5 committed in the `.dvc` file."""
    raw = Path(params.paths.raw)
    months = tracked_months(raw)
    if not months:
        raise DataError(f"no partitions tracked under {raw}", hint="run `flightdelay data add 2013-01`")
    dvcio.configure_remote_from_env()
    target = {m: str(dvc_file(raw, m)) for m in months}
    todo = dvcio.dirty(list(target.values()))
    how = {m: "workspace" for m in months if target[m] not in todo}
    remote = dvcio.has_default_remote()
    if todo:
        # The local DVC cache first (a CI cache restore, an earlier run), then the remote.
        dvcio.run("checkout", "--quiet", *sorted(todo), check=False)  # partial success is fine
        still = dvcio.dirty(sorted(todo))
        how |= {m: "DVC cache" for m in months if target[m] in todo - still}
        if still and remote:
            dvcio.run("pull", "--quiet", *sorted(still), check=False)
            pulled, still = still, dvcio.dirty(sorted(still))
            how |= {m: "DVC remote" for m in months if target[m] in pulled - still}
        rebuild = [m for m in months if target[m] in still]
        originals = {m: dvc_file(raw, m).read_text() for m in rebuild}
        for month in rebuild:
            shutil.rmtree(raw / month, ignore_errors=True)
            source.materialize(month, raw)
        if rebuild:
            # `dvc commit` hashes the rebuilt partitions (and caches them); the hashes must not move.
            dvcio.run("commit", "--force", "--quiet", *[target[m] for m in rebuild])
        bad = [m for m in rebuild if dvc_file(raw, m).read_text() != originals[m]]
        for month in bad:
            dvc_file(raw, month).write_text(originals[month])
            shutil.rmtree(raw / month, ignore_errors=True)
        if bad:
            raise DataError(
                f"partition(s) {', '.join(bad)} rebuilt from the embedded source do not match "
                f"the committed .dvc files (e.g. expected md5 {dvcio.out_md5(dvc_file(raw, bad[0]))})",
                hint="the partition was changed by hand or the source package differs; "
                "restore it with `dvc pull` from the team remote",
            )
        how |= dict.fromkeys(rebuild, "embedded source")
    for month, origin in sorted(how.items()):
        say(f"data: {month} ← {origin}")
    if push and remote:
        proc = dvcio.run("push", "--quiet", *target.values(), check=False)
        if proc.returncode != 0:
            say("data: push to the DVC remote failed (continuing): " + proc.stderr.strip()[-200:])
    return how
