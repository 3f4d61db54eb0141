"""`drift check`: the current window against the training reference → verdict, outputs, exit code.

Steps: load the reference (paths.reference) and the current window → minimum-sample guard →
sampling cap on both sides → per-column distances (Evidently) weighted by feature importance →
prediction drift on `score` → model quality when outcomes are known → N-of-M trigger → outputs.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flightdelay.adapters import evidently as evidently_adapter
from flightdelay.core import drift as core
from flightdelay.core import features
from flightdelay.core.errors import DataError
from flightdelay.core.params import Params
from flightdelay.core.progress import say, step
from flightdelay.lifecycle.drift import outputs, schema, sources, trigger
from flightdelay.lifecycle.drift import summary as summary_of
from flightdelay.lifecycle.drift.results import (
    Comparison,
    Outcome,
    Window,
    finite,
    quality_of,
)


@dataclass(frozen=True)
class CheckResult:
    summary: schema.DriftSummary
    out_dir: Path

    @property
    def exit_code(self) -> int:
        return self.summary.exit_code


def load_reference(p: Params) -> pd.DataFrame:
    path = Path(p.paths.reference)
    if not path.is_file():
        raise DataError(
            f"drift reference {path} is missing",
            hint="run `dvc repro` (or `dvc pull`) to produce it",
        )
    return pd.read_parquet(path)


def _importance(p: Params) -> list[dict[str, Any]]:
    path = Path(p.paths.plots) / "importance.json"
    if not path.is_file():
        say(f"drift: warning: {path} missing; every column weighs the same")
        return []
    return list(json.loads(path.read_text()))


def score_with_bundle(frame: pd.DataFrame, bundle_dir: Path) -> np.ndarray:
    """Score rows as the service does: the bundle's feature spec and booster."""
    from flightdelay.core import bundle

    b = bundle.load(bundle_dir)
    x = features.encode_frame(b.spec, frame[list(features.INPUT_COLUMNS)])
    return np.asarray(b.booster.inplace_predict(x), dtype="float64")


def load_window(
    p: Params, current: sources.Current, bundle_dir: Path | None, reference: pd.DataFrame | None
) -> Window:
    """Step 1: the reference and the current window (scored when labelled), each capped."""
    d = p.drift
    ref_full = load_reference(p) if reference is None else reference
    cur_full = current.frame
    say(f"drift: current = {current.description}: {current.rows:,} rows; reference {len(ref_full):,} rows")
    if current.labelled and "score" not in cur_full.columns:
        with step("drift: scoring the labelled window with the bundle"):
            cur_full = cur_full.assign(score=score_with_bundle(cur_full, Path(bundle_dir or p.paths.bundle)))
    return Window(
        ref_full,
        cur_full,
        sources.cap(ref_full, d.max_rows, d.seed),
        sources.cap(cur_full, d.max_rows, d.seed),
    )


def compare(p: Params, w: Window, current: sources.Current, out: Path) -> Comparison:
    """Step 2: per-column distances weighted by importance, prediction drift, model quality →
    the verdict (or not enough data); Evidently's HTML report beside the outputs."""
    d = p.drift
    if current.rows < d.min_rows:
        say(f"drift: not enough data: {current.rows} rows < drift.min_rows={d.min_rows}")
        (out / outputs.HTML_FILE).unlink(missing_ok=True)  # never leave an older run's report
        return Comparison(core.not_enough_data(current.rows, d), [])
    with step(f"drift: comparing {len(w.current):,} current with {len(w.reference):,} reference rows"):
        result = evidently_adapter.run(w.reference, w.current, d)
    columns = core.with_weights(result.columns, core.column_weights(_importance(p), d.columns))
    pred = result.prediction
    prediction = (
        schema.PredictionDrift(
            method=pred.method,
            score=finite(pred.score),
            threshold=pred.threshold,
            detected=bool(pred.drifted),
            mean_reference=finite(float(w.reference["score"].mean())),
            mean_current=finite(float(w.current["score"].mean())),
        )
        if pred is not None
        else None
    )
    quality = quality_of(w.current_full, p) if current.labelled else None
    verdict = core.decide(
        columns,
        d,
        prediction_score=pred.score if pred is not None else None,
        current_roc_auc=quality.current.get("roc_auc") if quality else None,
        floor=quality.floor if quality else None,
    )
    if quality is not None:
        quality = quality.model_copy(update={"below_floor": verdict.quality_below_floor})
    evidently_adapter.save_html(result, out / outputs.HTML_FILE)
    return Comparison(verdict, columns, prediction, quality, outputs.HTML_FILE)


def apply_trigger(
    p: Params,
    verdict: core.Verdict,
    source: str,
    *,
    now: dt.datetime,
    history: Path,
    live: schema.LiveQuality | None,
) -> Outcome:
    """Step 3: record the check in the history and ask the N-of-M trigger."""
    d = p.drift
    checked_at = now.isoformat(timespec="seconds")
    entry = {
        "checked_at": checked_at,
        "status": verdict.status,
        "drift_share": round(verdict.drift_share, 6),
        "source": source,
    }
    checks = trigger.append(history, entry, d.trigger.history_size)
    drops = live.drops() if live else None
    decision = trigger.decide([c["status"] for c in checks], d.trigger, drops)
    status, reasons, exit_code = verdict.status, list(verdict.reasons), verdict.exit_code
    if decision.quality_fired:  # concept drift: inputs may look stable while quality falls
        reasons.append(
            f"live quality below the floor in {decision.quality_drop_count} of the last "
            f"{len(decision.quality_considered or [])} weeks"
        )
        status, exit_code = "drift", core.EXIT_CODES["drift"]
    return Outcome(status, reasons, exit_code, decision, history, checked_at)


def run_check(
    p: Params,
    current: sources.Current,
    *,
    out_dir: Path | None = None,
    history: Path | None = None,
    bundle_dir: Path | None = None,
    run_url: str | None = None,
    reference: pd.DataFrame | None = None,
    now: dt.datetime | None = None,
    live: schema.LiveQuality | None = None,
) -> CheckResult:
    """`live`: the `monitor outcomes` summary (live_quality.json): shown in the issue body, and its
    weekly quality drops are the trigger's concept-drift signal."""
    out = Path(out_dir or p.drift.output_dir)
    now = now or dt.datetime.now(dt.UTC)
    window = load_window(p, current, bundle_dir, reference)
    comparison = compare(p, window, current, out)
    o = apply_trigger(
        p,
        comparison.verdict,
        current.description,
        now=now,
        history=Path(history or p.drift.history),
        live=live,
    )
    summary = summary_of.summarize(p, current, window, comparison, o, now=now, live=live, run_url=run_url)
    summary_of.publish(summary, out, run_url)
    d = o.decision
    say(
        f"drift: {o.status}"
        + (f" ({'; '.join(o.reasons)})" if o.reasons else "")
        + f"; trigger {d.drift_count}/{d.n} of last {d.m}"
        + (f" → retraining recommended ({d.signal})" if d.retrain else "")
        + f"; outputs in {out}/"
    )
    return CheckResult(summary=summary, out_dir=out)
