"""`flightdelay data`: add (from the embedded source or from files in a public layout), restore
and list the DVC-tracked raw monthly partitions."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from flightdelay.adapters import dvcio, landing
from flightdelay.core.errors import DataError
from flightdelay.core.params import MONTH_RE, Params
from flightdelay.core.progress import say
from flightdelay.lifecycle import layouts
from flightdelay.pipeline import source

DEFAULT_TZ = "America/New_York"  # the origin airports' time zone (the model's NYC airports)


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


def read_sources(sources: list[str]) -> dict[str, tuple[str, pd.DataFrame]]:
    """Every CSV at or under the sources, by the partition file its layout becomes
    (`flights`/`weather`) → (url, rows). Refuses a file in no known layout, and two of one kind."""
    found: dict[str, tuple[str, pd.DataFrame]] = {}
    for src in sources:
        for entry in landing.listing(src):
            if not entry.url.lower().endswith(landing.SUFFIX):
                continue
            layout = layouts.detect(landing.header(entry.url), entry.url)
            if layout.name in found:
                raise DataError(
                    f"two {layout.name} files: {found[layout.name][0]} and {entry.url}",
                    hint="give one month: one flights file and one weather file",
                )
            found[layout.name] = (entry.url, landing.read_csv(entry.url))
    missing = [lay.title for lay in layouts.LAYOUTS if lay.name not in found]
    if missing:
        raise DataError(
            f"no {' and no '.join(missing)} file in {', '.join(sources)}",
            hint="pass a folder or S3 prefix holding both files, or both files (--from twice)",
        )
    return found


def add_from(
    params: Params, sources: list[str], month: str | None = None, *, tz: str = DEFAULT_TZ, push: bool = False
) -> str:
    """Import one month from files in the BTS on-time and IEM ASOS layouts (local or s3://): map
    them to the partition schema, validate the month with the window's other months, `dvc add` it.
    A month that fails a rule is not added (nothing is left behind)."""
    found = read_sources(sources)
    fl = layouts.flights(found["flights"][1], tz)
    months = layouts.months_of(fl)
    if len(months) != 1 or (month and months != [month]):
        raise DataError(
            f"{found['flights'][0]} holds flights of {', '.join(months) or 'no month'}"
            + (f", not {month}" if month else ""),
            hint="import one calendar month per file (BTS exports one month per download)",
        )
    month = months[0]
    raw = Path(params.paths.raw)
    if dvc_file(raw, month).exists():
        raise DataError(
            f"{month} is already tracked ({dvc_file(raw, month)})",
            hint=f"to replace it, `dvc remove {dvc_file(raw, month)}` first and commit that",
        )
    we = layouts.weather(found["weather"][1], tz, month)
    staging = raw / ".import"
    shutil.rmtree(staging, ignore_errors=True)
    (staging / month).mkdir(parents=True)
    try:
        fl.to_csv(staging / month / source.FLIGHTS_FILE, index=False, na_rep="NA")
        we.to_csv(staging / month / source.WEATHER_FILE, index=False, na_rep="NA")
        say(f"data: {month}: {len(fl):,} flights, {len(we):,} weather hours mapped")
        _validate(params, raw, staging, month)
        shutil.rmtree(raw / month, ignore_errors=True)
        (staging / month).rename(raw / month)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    dvcio.run("add", "--quiet", str(raw / month))
    say(f"data: tracked {raw / month} ({dvcio.out_md5(dvc_file(raw, month))})")
    if push:
        dvcio.run("push", "--quiet", str(dvc_file(raw, month)))
    return month


def _validate(params: Params, raw: Path, staging: Path, month: str) -> None:
    """The quality rules on the new month next to the window's months present in the workspace
    (the rules that compare a month with its window need them)."""
    from flightdelay.core import features
    from flightdelay.core.errors import DataValidationError
    from flightdelay.pipeline import prepare, validate

    frames, parts = [], {}
    others = [m for m in params.window_months if m != month and (raw / m / source.FLIGHTS_FILE).exists()]
    for m, where in [*((m, raw) for m in others), (month, staging)]:
        df, parts[m] = prepare.prepare_month(m, where, params.prepare)
        frames.append(df)
    rows = pd.concat(frames, ignore_index=True)
    # As the prepare stage stores them: text that failed to parse stays text for the rules to name.
    for col in rows.columns:
        if rows[col].dtype == object and col not in ("partition", *features.CATEGORICAL):
            rows[col] = rows[col].astype("string")
    report = validate.check(rows, parts, params.validate_)
    failed = [r for r in report["rules"] if not r["passed"]]
    if failed:
        raise DataValidationError(
            f"{month} fails {len(failed)} validation rule(s); it was not added:\n"
            + validate.format_failures(report),
            hint="fix the export (or the rule's budget in params.yaml) and import it again",
        )
    say(f"data: {month} passed {len(report['rules'])} validation rules (with {len(others)} window months)")


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
        # The local DVC cache first (a CI cache restore, an earlier run), then the remote. A
        # checkout or pull that exits 0 restored every target (DVC fails the command when one is
        # missing), so only a partial one needs `dvc status` again: each DVC process costs seconds.
        done = dvcio.run("checkout", "--quiet", *sorted(todo), check=False).returncode == 0
        still = set() if done else dvcio.dirty(sorted(todo))
        how |= {m: "DVC cache" for m in months if target[m] in todo - still}
        if still and remote:
            done = dvcio.run("pull", "--quiet", *sorted(still), check=False).returncode == 0
            pulled, still = still, set() if done else dvcio.dirty(sorted(still))
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
