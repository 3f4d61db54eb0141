"""Model quality metrics and curves: pure functions on label and score arrays.

scikit-learn is imported by the functions that use it, not with the module: the live-quality
monitor bins scores with `score_bins` and would otherwise pay ≈ 0.5 s of start-up for it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def classification_metrics(y: np.ndarray, score: np.ndarray, threshold: float) -> dict[str, float]:
    """ROC AUC, PR AUC, log loss, Brier, and F1/precision/recall at the operating threshold."""
    from sklearn import metrics as skm

    y = np.asarray(y, dtype=int)
    score = np.clip(np.asarray(score, dtype=float), 1e-7, 1 - 1e-7)
    pred = (score >= threshold).astype(int)
    both = len(np.unique(y)) == 2
    return {
        "roc_auc": float(skm.roc_auc_score(y, score)) if both else float("nan"),
        "pr_auc": float(skm.average_precision_score(y, score)) if both else float("nan"),
        "log_loss": float(skm.log_loss(y, score, labels=[0, 1])),
        "brier": float(skm.brier_score_loss(y, score)),
        "f1": float(skm.f1_score(y, pred, zero_division=0)),
        "precision": float(skm.precision_score(y, pred, zero_division=0)),
        "recall": float(skm.recall_score(y, pred, zero_division=0)),
        "positive_rate": float(y.mean()) if len(y) else float("nan"),
        "predicted_positive_rate": float(pred.mean()) if len(y) else float("nan"),
        "rows": len(y),
    }


# What a score says without an operating threshold (the threshold is evaluate's setting).
THRESHOLD_FREE = ("roc_auc", "pr_auc", "log_loss", "brier", "positive_rate", "rows")


def ranking_metrics(y: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """The threshold-free part of `classification_metrics`: ROC AUC, PR AUC, log loss, Brier."""
    return {k: v for k, v in classification_metrics(y, score, 0.5).items() if k in THRESHOLD_FREE}


def slice_metrics(frame: pd.DataFrame, by: str, threshold: float, min_rows: int) -> list[dict[str, Any]]:
    """Metrics per value of `by` (needs columns y, score); slices under `min_rows` are skipped."""
    out = []
    for value, g in frame.groupby(by, observed=True, sort=True):
        if len(g) < min_rows or g["y"].nunique() < 2:
            continue
        m = classification_metrics(g["y"].to_numpy(), g["score"].to_numpy(), threshold)
        out.append({"slice": by, "value": str(value), **{k: round(v, 6) for k, v in m.items()}})
    return out


def roc_points(y: np.ndarray, score: np.ndarray, n: int = 200) -> list[dict[str, float]]:
    from sklearn import metrics as skm

    fpr, tpr, thr = skm.roc_curve(y, score)
    idx = np.unique(np.linspace(0, len(fpr) - 1, min(n, len(fpr))).astype(int))
    return [
        {
            "fpr": round(float(fpr[i]), 6),
            "tpr": round(float(tpr[i]), 6),
            "threshold": round(float(min(thr[i], 1.0)), 6),
        }
        for i in idx
    ]


def pr_points(y: np.ndarray, score: np.ndarray, n: int = 200) -> list[dict[str, float]]:
    from sklearn import metrics as skm

    prec, rec, _ = skm.precision_recall_curve(y, score)
    idx = np.unique(np.linspace(0, len(prec) - 1, min(n, len(prec))).astype(int))
    return [{"recall": round(float(rec[i]), 6), "precision": round(float(prec[i]), 6)} for i in idx]


def score_bins(score: np.ndarray, bins: int) -> np.ndarray:
    """The equal-width bin (0 … bins − 1) of each score in [0, 1]: the one binning of every
    calibration figure (the holdout's, the backtest's and the live one held against them)."""
    which: np.ndarray = np.clip(np.digitize(score, np.linspace(0, 1, bins + 1)[1:-1]), 0, bins - 1)
    return which


def calibration_points(y: np.ndarray, score: np.ndarray, bins: int) -> list[dict[str, float]]:
    which = score_bins(score, bins)
    out = []
    for b in range(bins):
        mask = which == b
        if mask.any():
            out.append(
                {
                    "predicted": round(float(score[mask].mean()), 6),
                    "observed": round(float(np.asarray(y)[mask].mean()), 6),
                    "count": int(mask.sum()),
                }
            )
    return out


def expected_calibration_error(y: np.ndarray, score: np.ndarray, bins: int) -> float:
    """Row-weighted mean |predicted − observed| over equal-width score bins."""
    y, score = np.asarray(y, dtype=float), np.asarray(score, dtype=float)
    if not len(y):
        return float("nan")
    which = score_bins(score, bins)
    count = np.bincount(which, minlength=bins)
    gap = np.abs(np.bincount(which, score, bins) - np.bincount(which, y, bins))
    return float(gap.sum() / count.sum())


def month_metrics(y: np.ndarray, score: np.ndarray, bins: int) -> dict[str, float]:
    """A backtest month's metrics (scores clipped away from 0 and 1: log loss is finite)."""
    from sklearn import metrics as skm

    y = np.asarray(y, dtype=int)
    score = np.clip(np.asarray(score, dtype=float), 1e-7, 1 - 1e-7)
    both = len(np.unique(y)) == 2
    return {
        "roc_auc": float(skm.roc_auc_score(y, score)) if both else float("nan"),
        "pr_auc": float(skm.average_precision_score(y, score)) if both else float("nan"),
        "brier": float(skm.brier_score_loss(y, score)),
        "log_loss": float(skm.log_loss(y, score, labels=[0, 1])),
        "ece": expected_calibration_error(y, score, bins),
        "positive_rate": float(y.mean()),
        "mean_predicted": float(score.mean()),
        "rows": len(y),
    }
