"""`monitor outcomes`: join the prediction log with arrived outcomes, compute live quality per day
and per week, write `live_quality.json` + `live.prom`, push to the Pushgateway.

Pushed under the drift job's name (`outputs.PUSH_JOB`, the one the alert rules select) with the
grouping label feed="outcomes". The drift check reads `live_quality.json` for its issue body and
for the quality signal of the retraining trigger.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from flightdelay.core.errors import DataError, ToolError
from flightdelay.core.params import LiveParams, Params
from flightdelay.core.progress import say
from flightdelay.lifecycle.drift import join, live, logread, outcomes, outputs, schema
from flightdelay.lifecycle.drift.sources import LABEL

SCHEMA_VERSION = schema.SCHEMA_VERSION
LIVE_FILE = "live_quality.json"
PROM_FILE = "live.prom"
PUSH_GROUP = {"feed": "outcomes"}
RELEASE_KEYS = tuple(f for f in schema.ReleaseFigures.model_fields if f not in ("version", "holdout_months"))


@dataclass(frozen=True)
class Release:
    version: str
    metrics: dict[str, float]
    holdout_months: list[str]


def releases(bundle_dirs: Sequence[Path]) -> list[Release]:
    from flightdelay.core import bundle

    out = []
    for d in bundle_dirs:
        b = bundle.load(d)
        out.append(Release(b.version, dict(b.meta.metrics), list(b.meta.holdout_months or [])))
    return out


def floors(release: Release, p: Params) -> schema.Floors:
    lv = p.drift.live
    return schema.Floors(
        accuracy=lv.accuracy_floor,
        roc_auc=round(float(release.metrics.get("roc_auc", float("nan"))) - p.drift.max_roc_auc_drop, 6),
        calibration_error=lv.max_calibration_error,
        min_joined_rows=lv.min_joined_rows,
    )


def figures_of(store: pd.DataFrame, idx: Any, lv: LiveParams) -> dict[str, Any]:
    rows = store.iloc[idx]
    return live.window_figures(
        rows[LABEL].to_numpy(),
        rows["score"].to_numpy(),
        rows["decision"].to_numpy(),
        confidence=lv.confidence,
        bins=lv.calibration_bins,
        replicates=lv.bootstrap,
        seed=lv.seed,
    )


def quality(store: pd.DataFrame, lv: LiveParams, fl: schema.Floors) -> dict[str, Any]:
    """Figures overall, per day, per ISO week (each week with its quality-drop verdict), newest 7 days."""
    win = outcomes.windows(store)
    weeks = []
    floor = {"accuracy": fl.accuracy, "roc_auc": fl.roc_auc}
    for name, idx in win["week"]:
        fig = figures_of(store, idx, lv)
        drop = live.is_drop(fig, floor, lv.drop_bound, lv.min_joined_rows)
        weeks.append(schema.WindowFigures(window=name, **fig, drop=drop))
    trailing = [schema.WindowFigures(window=n, **figures_of(store, i, lv)) for n, i in win["trailing_week"]]
    newest_day = win["day"][-1] if win["day"] else None
    return {
        "overall": schema.WindowFigures(**figures_of(store, slice(None), lv)),
        "newest_week": trailing[0] if trailing else None,
        "newest_day": (
            schema.WindowFigures(window=newest_day[0], **figures_of(store, newest_day[1], lv))
            if newest_day
            else None
        ),
        "weeks": weeks,
        "days": [schema.WindowFigures(window=n, **figures_of(store, i, lv)) for n, i in win["day"]],
    }


def summarize(
    p: Params,
    release: Release,
    log: Path,
    sources: Sequence[str],
    store: pd.DataFrame,
    store_file: Path,
    report: outcomes.JoinReport,
    *,
    replay: bool,
    now: dt.datetime,
) -> schema.LiveQuality:
    """`live_quality.json`: the release and its floors, what the join did, the figures."""
    lv = p.drift.live
    fl = floors(release, p)
    return schema.LiveQuality(
        schema_version=SCHEMA_VERSION,
        computed_at=now.isoformat(timespec="seconds"),
        computed_at_unix=int(now.timestamp()),
        confidence=lv.confidence,
        drop_bound=lv.drop_bound,
        release=schema.ReleaseFigures(
            version=release.version,
            **{k: release.metrics[k] for k in RELEASE_KEYS if k in release.metrics},
            holdout_months=release.holdout_months,
        ),
        floors=fl,
        join=schema.JoinSummary(
            log=str(log),
            outcomes=list(sources),
            replay=replay,
            store=str(store_file),
            store_rows=len(store),
            counts=dict(sorted(report.counts.items())),
            problems=report.problems,
        ),
        **quality(store, lv, fl),
    )


def run(
    p: Params,
    log: Path,
    sources: Sequence[str],
    *,
    bundle_dirs: Sequence[Path] = (),
    replay: bool = False,
    out_dir: Path | None = None,
    store_path: Path | None = None,
    now: dt.datetime | None = None,
    env: Mapping[str, str] | None = None,
    batch_lines: int = logread.BATCH_LINES,
) -> schema.LiveQuality:
    lv = p.drift.live
    gateway = outputs.gateway_url(os.environ if env is None else env)
    now = now or dt.datetime.now(dt.UTC)
    out = Path(out_dir or lv.output_dir)
    store_file = Path(store_path or lv.store)
    rels = releases(list(bundle_dirs) or [Path(p.paths.bundle)])
    if not sources:
        raise DataError("no outcome source given", hint="pass --outcomes YYYY-MM (or an outcome file)")
    report = outcomes.JoinReport()
    join.check_log(log)
    frames = [
        outcomes.read_outcomes(s, Path(p.paths.raw), p.prepare.delay_threshold_min, report) for s in sources
    ]
    outs = pd.concat([f for f in frames if len(f)] or frames[:1], ignore_index=True)
    store = join.load_store(store_file)
    new = join.join_log(
        log,
        outs,
        store,
        known_versions={r.version for r in rels},
        replay=replay,
        now=now,
        report=report,
        batch_lines=batch_lines,
    )
    store = join.save_store(store_file, store, new)
    for message in report.problems:
        say(f"monitor outcomes: warning: {message}")
    summary = summarize(p, rels[0], log, sources, store, store_file, report, replay=replay, now=now)
    schema.write(out / LIVE_FILE, summary)
    prom = render_prom(summary)
    (out / PROM_FILE).write_text(prom)
    if gateway:
        try:  # the figures and files stand when the gateway is down: warn, do not fail
            outputs.push(gateway, prom, group=PUSH_GROUP)
            say(f"monitor outcomes: pushed live quality to {gateway}")
        except ToolError as e:
            say(f"monitor outcomes: warning: {e}")
    say("monitor outcomes: " + headline(summary) + f"; outputs in {out}/")
    return summary


def _v(x: Any) -> str:
    return "NaN" if x is None else repr(float(x))


def render_prom(summary: schema.LiveSummary) -> str:
    """Gauges per window (`week` = the newest 7 days, `day` = the newest day) and bound."""
    lines: list[str] = []

    def gauge(name: str, help_text: str, samples: list[tuple[str, Any]]) -> None:
        lines.extend([f"# HELP {name} {help_text}", f"# TYPE {name} gauge"])
        lines.extend(f"{name}{labels} {_v(v)}" for labels, v in samples)

    wins = [(w, data) for w, data in (("week", summary.newest_week), ("day", summary.newest_day)) if data]
    for name in schema.LIVE_FIGURES:
        samples = [
            (f'{{window="{w}",bound="{b}"}}', getattr(fig, b) if fig else None)
            for w, data in wins
            for fig in [data.figure(name)]
            for b in ("estimate", "lower", "upper")
        ]
        gauge(f"flightdelay_live_{name}", f"live {name} of predictions joined with outcomes", samples)
    gauge(
        "flightdelay_live_joined_rows",
        "predictions joined with an outcome in the window",
        [(f'{{window="{w}"}}', data.rows) for w, data in wins] or [("", 0)],
    )
    fl = summary.floors
    gauge("flightdelay_live_accuracy_floor", "accuracy floor (params drift.live)", [("", fl.accuracy)])
    gauge(
        "flightdelay_live_roc_auc_floor", "release ROC AUC minus drift.max_roc_auc_drop", [("", fl.roc_auc)]
    )
    gauge(
        "flightdelay_live_calibration_error_bound",
        "largest acceptable expected calibration error",
        [("", fl.calibration_error)],
    )
    gauge("flightdelay_live_min_joined_rows", "fewest joined flights in 7 days", [("", fl.min_joined_rows)])
    gauge(
        "flightdelay_release_roc_auc",
        "holdout ROC AUC of the released model",
        [("", summary.release.roc_auc)],
    )
    counts = summary.join.counts
    gauge(
        "flightdelay_outcomes_rows",
        "rows of the last outcomes join by kind",
        [(f'{{kind="{k}"}}', v) for k, v in sorted(counts.items())] or [('{kind="log_lines"}', 0)],
    )
    gauge(
        "flightdelay_live_last_join_timestamp_seconds",
        "Unix time of the last join",
        [("", summary.computed_at_unix)],
    )
    return "\n".join(lines) + "\n"


def _ci(fig: schema.Figure | None, digits: int = 2) -> str:
    if fig is None or fig.estimate is None:
        return "–"
    lo, hi = fig.lower, fig.upper
    tail = f" [{lo:.{digits}f}, {hi:.{digits}f}]" if lo is not None and hi is not None else ""
    return f"{fig.estimate:.{digits}f}{tail}"


def headline(summary: schema.LiveSummary) -> str:
    """`live ROC AUC 0.71 [0.69, 0.73] over 8,412 flights vs 0.75 at release`."""
    o = summary.overall
    rel = summary.release.roc_auc
    vs = f" vs {rel:.2f} at release" if rel is not None else ""
    return f"live ROC AUC {_ci(o.roc_auc)} over {o.rows:,} flights{vs}"


def render_markdown(summary: schema.LiveSummary) -> list[str]:
    """The issue body's live-quality section."""
    o, w = summary.overall, summary.newest_week
    rel, fl = summary.release, summary.floors
    pct = f"{summary.confidence:.0%}"
    out = [
        f"### Live quality (predictions joined with outcomes, {pct} intervals)",
        "",
        f"{headline(summary)} (model {rel.version}).",
        "",
        f"| figure | all joined ({o.rows:,}) | newest 7 days {w.window if w else ''} "
        f"({w.rows if w else 0:,}) | at release | floor |",
        "|---|---|---|---:|---:|",
    ]
    floor_of = {"roc_auc": fl.roc_auc, "accuracy": fl.accuracy, "calibration_error": fl.calibration_error}
    for name in schema.LIVE_FIGURES:
        at_release = rel.figure(name)
        floor = floor_of.get(name)
        out.append(
            f"| {name} | {_ci(o.figure(name), 3)} | {_ci(w.figure(name) if w else None, 3)} | "
            f"{'–' if at_release is None else f'{at_release:.3f}'} | "
            f"{'–' if floor is None else f'{floor:.3f}'} |"
        )
    c = summary.join.counts
    out += [
        "",
        f"Join: {c.get('newly_joined', 0):,} newly joined, {c.get('already_joined', 0):,} already joined, "
        f"{c.get('awaiting_outcome', 0):,} awaiting an outcome, {c.get('outcomes_without_prediction', 0):,} "
        "outcomes without a prediction" + "".join(f"; {m}" for m in summary.join.problems) + ".",
        "",
    ]
    return out
