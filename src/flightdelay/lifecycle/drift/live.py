"""Live quality of predictions joined with their outcomes: figures with confidence intervals (pure).

Each figure is `{"estimate", "lower", "upper"}` at `drift.live.confidence`, so that a small window
shows a wide interval instead of an alarm:
- ROC AUC: DeLong's variance (midranks, one sort per window);
- PR AUC (average precision): the logit interval of Boyd, Eng and Page (2013);
- accuracy and recall at the served decision, positive rate: Wilson score intervals;
- Brier score: normal interval of the mean squared error;
- expected calibration error (ECE, equal-width score bins): bootstrap over the bins' counts and
  outcomes (`drift.live.bootstrap` replicates), at a cost independent of the window's size.
Every figure costs O(n log n) at most: a month of flights takes well under a second.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special, stats

from flightdelay.core.metrics import score_bins

Figure = dict[str, float | None]


def _z(confidence: float) -> float:
    return float(stats.norm.ppf(0.5 + confidence / 2))


def _fig(estimate: float | None, lower: float | None = None, upper: float | None = None) -> Figure:
    def r(v: float | None) -> float | None:
        return None if v is None or not math.isfinite(v) else round(float(v), 6)

    return {"estimate": r(estimate), "lower": r(lower), "upper": r(upper)}


def wilson(k: int, n: int, z: float) -> Figure:
    """Proportion k/n with its Wilson score interval (None when n is 0)."""
    if n == 0:
        return _fig(None)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return _fig(p, max(0.0, centre - half), min(1.0, centre + half))


def roc_auc_delong(y: np.ndarray, s: np.ndarray, z: float) -> Figure:
    """ROC AUC with DeLong's standard error (needs both classes)."""
    pos, neg = s[y == 1], s[y == 0]
    m, n = len(pos), len(neg)
    if m == 0 or n == 0:
        return _fig(None)
    ranks = stats.rankdata(np.concatenate([pos, neg]))
    r_pos, r_neg = ranks[:m], ranks[m:]
    auc = (r_pos.sum() - m * (m + 1) / 2) / (m * n)
    v10 = (r_pos - stats.rankdata(pos)) / n  # per positive: share of negatives scored below
    v01 = 1 - (r_neg - stats.rankdata(neg)) / m  # per negative: share of positives scored above
    var = (v10.var(ddof=1) / m if m > 1 else 0.0) + (v01.var(ddof=1) / n if n > 1 else 0.0)
    half = z * math.sqrt(max(var, 0.0))
    return _fig(auc, max(0.0, auc - half), min(1.0, auc + half))


def average_precision(y: np.ndarray, s: np.ndarray, z: float) -> Figure:
    """Average precision (PR AUC, ties as sklearn treats them) with the logit interval."""
    m = int(y.sum())
    if m == 0 or m == len(y):
        return _fig(None)
    order = np.argsort(-s, kind="mergesort")
    ys, ss = y[order], s[order]
    last = np.r_[np.flatnonzero(np.diff(ss)), len(ss) - 1]  # the last row of each distinct score
    tp = np.cumsum(ys)[last]
    precision = tp / (last + 1)
    recall_step = np.diff(np.r_[0, tp]) / m
    ap = float((recall_step * precision).sum())
    if not 0 < ap < 1:
        return _fig(ap)
    eta, se = special.logit(ap), 1 / math.sqrt(m * ap * (1 - ap))
    return _fig(ap, float(special.expit(eta - z * se)), float(special.expit(eta + z * se)))


def brier(y: np.ndarray, s: np.ndarray, z: float) -> Figure:
    err = (s - y) ** 2
    n = len(err)
    mean = float(err.mean())
    half = z * float(err.std(ddof=1)) / math.sqrt(n) if n > 1 else float("nan")
    return _fig(mean, max(0.0, mean - half), mean + half)


def calibration_error(
    y: np.ndarray, s: np.ndarray, bins: int, replicates: int, rng: np.random.Generator, confidence: float
) -> Figure:
    """ECE over equal-width score bins; interval from `replicates` draws of the bins' counts
    (multinomial) and their outcomes (binomial), each bin keeping its mean score."""
    n = len(y)
    idx = score_bins(s, bins)  # the bins of the holdout's figure it is held against
    count = np.bincount(idx, minlength=bins).astype(np.float64)
    pos = np.bincount(idx, weights=y, minlength=bins)
    score_sum = np.bincount(idx, weights=s, minlength=bins)
    used = count > 0
    rate = np.divide(pos, count, out=np.zeros(bins), where=used)
    mean_score = np.divide(score_sum, count, out=np.zeros(bins), where=used)
    ece = float((np.abs(pos - score_sum)).sum() / n)
    draws = rng.multinomial(n, count / n, size=replicates).astype(np.float64)
    hits = rng.binomial(draws.astype(np.int64), rate)
    boot = np.abs(hits - draws * mean_score).sum(axis=1) / n
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(boot, [alpha, 1 - alpha])
    return _fig(ece, float(lo), float(hi))


def window_figures(
    y: np.ndarray,
    s: np.ndarray,
    decision: np.ndarray,
    *,
    confidence: float,
    bins: int,
    replicates: int,
    seed: int,
) -> dict[str, Any]:
    """Every live figure of one window: y outcomes (0/1), s scores, decision as served (bool)."""
    y = np.asarray(y, dtype=np.float64)
    s = np.asarray(s, dtype=np.float64)
    decision = np.asarray(decision, dtype=bool)
    n, z = len(y), _z(confidence)
    out: dict[str, Any] = {"rows": n, "positives": int(y.sum())}
    if n == 0:
        return out
    truth = y == 1
    out.update(
        roc_auc=roc_auc_delong(y, s, z),
        pr_auc=average_precision(y, s, z),
        brier=brier(y, s, z),
        accuracy=wilson(int((decision == truth).sum()), n, z),
        recall=wilson(int((decision & truth).sum()), int(truth.sum()), z),
        positive_rate=wilson(int(truth.sum()), n, z),
        calibration_error=calibration_error(y, s, bins, replicates, np.random.default_rng(seed), confidence),
    )
    return out


def is_drop(fig: dict[str, Any], floors: dict[str, float], bound: str, min_rows: int) -> bool | None:
    """A quality drop: the `bound` of ROC AUC or accuracy below its floor. None when the window has
    fewer than `min_rows` rows (no verdict: it neither counts nor breaks the N-of-M window)."""
    if fig.get("rows", 0) < min_rows:
        return None
    for name in ("roc_auc", "accuracy"):
        value = (fig.get(name) or {}).get(bound)
        if value is not None and value < floors[name]:
            return True
    return False
