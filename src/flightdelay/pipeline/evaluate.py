"""`evaluate` stage: holdout metrics, slice metrics, DVC plot data, and the drift reference sample."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flightdelay.core import features
from flightdelay.core.metrics import (
    calibration_points,
    classification_metrics,
    expected_calibration_error,
    pr_points,
    roc_points,
    slice_metrics,
)
from flightdelay.core.model import FlightDelayModel, load_classifier
from flightdelay.core.params import EvaluateParams, Params, Paths
from flightdelay.core.progress import say

SLICES = ("carrier", "origin")


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


@dataclass(frozen=True)
class EvaluateConfig:
    """What the stage reads of params.yaml: its section and the drift reference's sample
    (`featurize.reference_sample_rows` rows drawn with `featurize.seed`)."""

    evaluate: EvaluateParams
    reference_rows: int
    seed: int


def config(p: Params) -> EvaluateConfig:
    return EvaluateConfig(
        evaluate=p.evaluate, reference_rows=p.featurize.reference_sample_rows, seed=p.featurize.seed
    )


def load_model(paths: Paths) -> FlightDelayModel:
    """The pipeline's model (`paths.model`) with its feature spec (`paths.feature_spec`)."""
    return FlightDelayModel(features.FeatureSpec.load(paths.feature_spec), load_classifier(paths.model))


def score_frame(model: FlightDelayModel, df: pd.DataFrame) -> np.ndarray:
    return np.asarray(model.predict_proba(df[list(features.INPUT_COLUMNS)])[:, 1])


def run(paths: Paths, cfg: EvaluateConfig) -> dict[str, Any]:
    fdir = Path(paths.features)
    holdout = pd.read_parquet(fdir / "holdout.parquet")
    train = pd.read_parquet(fdir / "train.parquet")
    model = load_model(paths)
    thr = cfg.evaluate.threshold
    y = holdout["disrupted"].to_numpy()
    score = score_frame(model, holdout)

    m = classification_metrics(y, score, thr)
    holdout_months = sorted(holdout["partition"].unique().tolist())
    metrics: dict[str, Any] = {
        **{k: round(v, 6) for k, v in m.items()},
        # What live quality is held against (`monitor outcomes`, the drift issue's "at release"):
        # the share of right decisions at the threshold, and the calibration error (equal-width bins).
        "accuracy": round(float(np.mean((score >= thr) == (y == 1))), 6),
        "calibration_error": round(expected_calibration_error(y, score, cfg.evaluate.calibration_bins), 6),
        "threshold": thr,
        "holdout_months": holdout_months,
        "train_rows": len(train),
    }
    _write_json(Path(paths.metrics), metrics)

    frame = holdout.assign(y=y, score=score)
    slices = [s for by in SLICES for s in slice_metrics(frame, by, thr, cfg.evaluate.min_slice_rows)]
    _write_json(Path(paths.slices), slices)

    plots = Path(paths.plots)
    _write_json(plots / "roc.json", roc_points(y, score))
    _write_json(plots / "precision_recall.json", pr_points(y, score))
    _write_json(plots / "calibration.json", calibration_points(y, score, cfg.evaluate.calibration_bins))
    gain = model.classifier.get_booster().get_score(importance_type="gain")
    names = list(model.spec.features)
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
    n = min(cfg.reference_rows, len(train))
    ref = train.sample(n=n, random_state=cfg.seed).reset_index(drop=True)
    ref = ref[["partition", *features.INPUT_COLUMNS, "disrupted"]].assign(score=score_frame(model, ref))
    Path(paths.reference).parent.mkdir(parents=True, exist_ok=True)
    ref.to_parquet(paths.reference, index=False)

    say(
        f"evaluate: {', '.join(holdout_months)} ROC AUC {m['roc_auc']:.4f}  "
        f"PR AUC {m['pr_auc']:.4f}  log loss {m['log_loss']:.4f}  Brier {m['brier']:.4f}  "
        f"F1@{thr} {m['f1']:.3f}"
    )
    return metrics
