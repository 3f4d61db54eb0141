"""`drift check`: the current window against the training reference → verdict, outputs, exit code.

Steps: load the reference (paths.reference) and the current window → minimum-sample guard →
sampling cap on both sides → per-column distances (Evidently) weighted by feature importance →
prediction drift on `score` → model quality when outcomes are known → N-of-M trigger → outputs.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flightdelay.adapters import evidently as evidently_adapter
from flightdelay.core import drift as core
from flightdelay.core import features
from flightdelay.core.errors import DataError, ModelError, ToolError
from flightdelay.core.params import Params
from flightdelay.core.progress import say, step
from flightdelay.lifecycle.drift import outputs, sources, trigger

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class CheckResult:
    summary: dict[str, Any]
    out_dir: Path

    @property
    def exit_code(self) -> int:
        return int(self.summary["exit_code"])


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


def _quality(cur: pd.DataFrame, p: Params) -> dict[str, Any]:
    from flightdelay.core.metrics import classification_metrics

    path = Path(p.paths.metrics)
    if not path.is_file():
        raise ModelError(f"holdout metrics {path} are missing", hint="run `dvc repro`")
    ref = json.loads(path.read_text())
    thr = float(ref.get("threshold", p.evaluate.threshold))
    m = classification_metrics(cur[sources.LABEL].to_numpy(), cur["score"].to_numpy(), thr)
    floor = core.quality_floor(float(ref["roc_auc"]), p.drift)
    return {
        "current": {k: _finite(v) for k, v in m.items()},
        "reference": {
            k: ref[k]
            for k in ("roc_auc", "pr_auc", "log_loss", "brier", "f1", "positive_rate", "rows")
            if k in ref
        },
        "reference_months": ref.get("holdout_months", []),
        "floor": round(floor, 6),
        "threshold": thr,
    }


def _finite(v: float | None) -> float | None:
    return None if v is None or not np.isfinite(v) else round(float(v), 6)


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
    live: dict[str, Any] | None = None,
) -> CheckResult:
    """`live`: the `monitor outcomes` summary (live_quality.json): shown in the issue body, and its
    weekly quality drops are the trigger's concept-drift signal."""
    d = p.drift
    gateway = outputs.gateway_url(os.environ)
    out = Path(out_dir or d.output_dir)
    now = now or dt.datetime.now(dt.UTC)
    ref_full = load_reference(p) if reference is None else reference
    cur_full = current.frame
    say(f"drift: current = {current.description}: {current.rows:,} rows; reference {len(ref_full):,} rows")
    if current.labelled and "score" not in cur_full.columns:
        with step("drift: scoring the labelled window with the bundle"):
            cur_full = cur_full.assign(score=score_with_bundle(cur_full, Path(bundle_dir or p.paths.bundle)))
    rows = current.rows
    ref = sources.cap(ref_full, d.max_rows, d.seed)
    cur = sources.cap(cur_full, d.max_rows, d.seed)
    quality: dict[str, Any] | None = None
    columns: list[core.ColumnDrift] = []
    prediction: dict[str, Any] | None = None
    html: str | None = None
    if rows < d.min_rows:
        verdict = core.not_enough_data(rows, d)
        say(f"drift: not enough data: {rows} rows < drift.min_rows={d.min_rows}")
        (out / outputs.HTML_FILE).unlink(missing_ok=True)  # never leave an older run's report
    else:
        with step(f"drift: comparing {len(cur):,} current with {len(ref):,} reference rows"):
            result = evidently_adapter.run(ref, cur, d)
        weights = core.column_weights(_importance(p), d.columns)
        columns = core.with_weights(result.columns, weights)
        pred_score = result.prediction.score if result.prediction else None
        if result.prediction is not None:
            prediction = {
                "method": result.prediction.method,
                "score": _finite(pred_score),
                "threshold": result.prediction.threshold,
                "detected": bool(result.prediction.drifted),
                "mean_reference": _finite(float(ref["score"].mean())),
                "mean_current": _finite(float(cur["score"].mean())),
            }
        if current.labelled:
            quality = _quality(cur_full, p)
        verdict = core.decide(
            columns,
            d,
            prediction_score=pred_score if prediction else None,
            current_roc_auc=(quality or {}).get("current", {}).get("roc_auc"),
            floor=(quality or {}).get("floor"),
        )
        if quality is not None:
            quality["below_floor"] = verdict.quality_below_floor
        html = outputs.HTML_FILE
        evidently_adapter.save_html(result, out / html)

    hist_path = Path(history or d.history)
    entry = {
        "checked_at": now.isoformat(timespec="seconds"),
        "status": verdict.status,
        "drift_share": round(verdict.drift_share, 6),
        "source": current.description,
    }
    checks = trigger.append(hist_path, entry, d.trigger.history_size)
    drops = [w.get("drop") for w in live.get("weeks", [])] if live else None
    decision = trigger.decide([c["status"] for c in checks], d.trigger, drops)
    status, reasons, exit_code = verdict.status, list(verdict.reasons), verdict.exit_code
    if decision.quality_fired:  # concept drift: inputs may look stable while quality falls
        reasons.append(
            f"live quality below the floor in {decision.quality_drop_count} of the last "
            f"{len(decision.quality_considered or [])} weeks"
        )
        status, exit_code = "drift", core.EXIT_CODES["drift"]

    ordered = sorted(columns, key=lambda c: (-c.drifted, -c.weight))
    summary: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "status": status,
        "exit_code": exit_code,
        "drift_detected": status == "drift",
        "reasons": reasons,
        "checked_at": entry["checked_at"],
        "checked_at_unix": int(now.timestamp()),
        "current": {
            "source": current.source,
            "description": current.description,
            "rows": rows,
            "rows_used": len(cur),
            "lines_read": current.rows_read,
            "malformed_lines": current.malformed,
            "months": current.months,
            "model_versions": current.model_versions,
            "labelled": current.labelled,
        },
        "reference": {
            "path": p.paths.reference,
            "rows": len(ref_full),
            "rows_used": len(ref),
            "window": {"start": p.data.window.start, "end": p.data.window.end},
        },
        "drifted_features": [c.column for c in ordered if c.drifted],
        "data_drift": {
            "share": round(verdict.drift_share, 6),
            "unweighted_share": round(verdict.unweighted_share, 6),
            "threshold": d.share_threshold,
            "detected": verdict.data_drift,
            "critical_columns": verdict.critical_columns,
            "columns": [
                {
                    "column": c.column,
                    "kind": c.kind,
                    "method": c.method,
                    "threshold": c.threshold,
                    "score": _finite(c.score),
                    "drifted": c.drifted,
                    "weight": round(c.weight, 6),
                    "reference_values": c.reference_values,
                    "current_values": c.current_values,
                    "missing_increase": round(c.missing_increase, 6),
                }
                for c in ordered
            ],
        },
        "prediction_drift": prediction,
        "model_quality": quality,
        "live_quality": {k: v for k, v in live.items() if k != "days"} if live else None,
        "trigger": decision.as_dict() | {"history": str(hist_path)},
        "artifacts": {
            "html": html,
            "summary": outputs.SUMMARY_FILE,
            "markdown": outputs.MARKDOWN_FILE,
            "prometheus": outputs.PROM_FILE,
        },
        "run_url": run_url,
    }
    outputs.write_json(out / outputs.SUMMARY_FILE, summary)
    (out / outputs.MARKDOWN_FILE).write_text(outputs.render_markdown(summary, run_url))
    prom = outputs.render_prom(summary)
    (out / outputs.PROM_FILE).write_text(prom)
    if gateway:
        # The verdict and its files stand even when the gateway is down: warn, do not fail.
        try:
            outputs.push(gateway, prom)
            say(f"drift: pushed metrics to {gateway}")
        except ToolError as e:
            say(f"drift: warning: {e}")
    say(
        f"drift: {status}"
        + (f" ({'; '.join(reasons)})" if reasons else "")
        + f"; trigger {decision.drift_count}/{decision.n} of last {decision.m}"
        + (f" → retraining recommended ({decision.signal})" if decision.retrain else "")
        + f"; outputs in {out}/"
    )
    return CheckResult(summary=summary, out_dir=out)
