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
    added: list[str] = []
    for month in months:
        if dvc_file(raw, month).exists() and dvcio.is_clean([str(dvc_file(raw, month))]):
            say(f"data: {month} already tracked and up to date")
            continue
        source.materialize(month, raw)
        dvcio.run("add", "--quiet", str(raw / month))
        say(f"data: tracked {raw / month} ({dvcio.out_md5(dvc_file(raw, month))})")
        added.append(month)
    if push and added:
        dvcio.run("push", *[str(dvc_file(raw, m)) for m in added])
    return added


def restore(params: Params, *, push: bool = True) -> dict[str, str]:
    """Bring every tracked partition into the workspace: from the DVC cache/remote if it has it,
    else from the embedded source, verified against the md5 committed in the `.dvc` file."""
    raw = Path(params.paths.raw)
    months = tracked_months(raw)
    if not months:
        raise DataError(f"no partitions tracked under {raw}", hint="run `flightdelay data add 2013-01`")
    dvcio.configure_remote_from_env()
    how: dict[str, str] = {}
    for month in months:
        target = str(dvc_file(raw, month))
        if (raw / month).exists() and dvcio.is_clean([target]):
            how[month] = "workspace"
            continue
        if dvcio.run("pull", "--quiet", target, check=False).returncode == 0 and dvcio.is_clean([target]):
            how[month] = "remote"
            continue
        expected = dvcio.out_md5(dvc_file(raw, month))
        shutil.rmtree(raw / month, ignore_errors=True)
        source.materialize(month, raw)
        if not dvcio.is_clean([target]):
            raise DataError(
                f"partition {month} rebuilt from the embedded source does not match {target} "
                f"(expected md5 {expected})",
                hint="the partition was changed by hand or the source package differs; "
                "restore it with `dvc pull` from the team remote",
            )
        dvcio.run("commit", "--force", "--quiet", target)
        how[month] = "embedded source"
    for month, origin in how.items():
        say(f"data: {month} ← {origin}")
    if push:
        proc = dvcio.run("push", "--quiet", *[str(dvc_file(raw, m)) for m in months], check=False)
        if proc.returncode != 0:
            say("data: push to the DVC remote failed (continuing): " + proc.stderr.strip()[-200:])
    return how
