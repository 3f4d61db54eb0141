"""`evaluate` stage: holdout metrics, slice metrics, DVC plot data, and the drift reference sample."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flightdelay.core import features
from flightdelay.core.metrics import (
    calibration_points,
    classification_metrics,
    pr_points,
    roc_points,
    slice_metrics,
)
from flightdelay.core.model import FlightDelayModel, load_classifier
from flightdelay.core.params import Params
from flightdelay.core.progress import say

SLICES = ("carrier", "origin")


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def load_model(p: Params) -> FlightDelayModel:
    return FlightDelayModel(features.FeatureSpec.load(p.paths.feature_spec), load_classifier(p.paths.model))


def score_frame(model: FlightDelayModel, df: pd.DataFrame) -> np.ndarray:
    return np.asarray(model.predict_proba(df[list(features.INPUT_COLUMNS)])[:, 1])


def run(p: Params) -> dict[str, Any]:
    fdir = Path(p.paths.features)
    holdout = pd.read_parquet(fdir / "holdout.parquet")
    train = pd.read_parquet(fdir / "train.parquet")
    model = load_model(p)
    thr = p.evaluate.threshold
    y = holdout["disrupted"].to_numpy()
    score = score_frame(model, holdout)

    m = classification_metrics(y, score, thr)
    holdout_months = sorted(holdout["partition"].unique().tolist())
    metrics: dict[str, Any] = {
        **{k: round(v, 6) for k, v in m.items()},
        "threshold": thr,
        "holdout_months": holdout_months,
        "train_rows": len(train),
    }
    _write_json(Path(p.paths.metrics), metrics)

    frame = holdout.assign(y=y, score=score)
    slices = [s for by in SLICES for s in slice_metrics(frame, by, thr, p.evaluate.min_slice_rows)]
    _write_json(Path(p.paths.slices), slices)

    plots = Path(p.paths.plots)
    _write_json(plots / "roc.json", roc_points(y, score))
    _write_json(plots / "precision_recall.json", pr_points(y, score))
    _write_json(plots / "calibration.json", calibration_points(y, score, p.evaluate.calibration_bins))
    gain = model.classifier.get_booster().get_score(importance_type="gain")
    names = list(features.FEATURES)
    importance = sorted(
        (
            {
                "feature": names[int(k[1:])] if k.startswith("f") and k[1:].isdigit() else k,
                "gain": round(float(v), 4),
            }
            for k, v in gain.items()
        ),
        key=lambda r: -float(r["gain"]),
    )
    _write_json(plots / "importance.json", importance)
    pd.DataFrame({"actual": y, "predicted": (score >= thr).astype(int)}).to_csv(
        plots / "confusion.csv", index=False
    )

    # Reference for drift checks: a fixed-seed sample of the training rows with label and score.
    n = min(p.featurize.reference_sample_rows, len(train))
    ref = train.sample(n=n, random_state=p.featurize.seed).reset_index(drop=True)
    ref = ref[["partition", *features.INPUT_COLUMNS, "disrupted"]].assign(score=score_frame(model, ref))
    Path(p.paths.reference).parent.mkdir(parents=True, exist_ok=True)
    ref.to_parquet(p.paths.reference, index=False)

    say(
        f"evaluate: {', '.join(holdout_months)} ROC AUC {m['roc_auc']:.4f}  "
        f"PR AUC {m['pr_auc']:.4f}  log loss {m['log_loss']:.4f}  Brier {m['brier']:.4f}  "
        f"F1@{thr} {m['f1']:.3f}"
    )
    return metrics
