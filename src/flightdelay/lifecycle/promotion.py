"""Is the candidate *better* than the champion? DeLong's paired test on one holdout, and the backtest.

Pure functions on arrays and the backtest JSON (`flightdelay.pipeline.backtest`): the gate (`gate.decide`)
turns their results into checks, the PR report shows them in words.

DeLong, DeLong & Clarke-Pearson (1988): the two ROC AUCs of scores on the same rows, their
difference's variance from the per-row structural components (computed with midranks, after Sun &
Xu 2014), and a one-sided p-value for "the candidate's AUC is higher".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

TEST_NAME = "DeLong paired test on ROC AUC (one-sided: candidate > champion)"


@dataclass(frozen=True)
class PairedTest:
    test: str
    rows: int
    candidate_auc: float
    champion_auc: float
    difference: float
    std_error: float
    z: float
    p_value: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def delong(y: np.ndarray, candidate: np.ndarray, champion: np.ndarray) -> PairedTest:
    """DeLong's test of AUC(candidate) > AUC(champion), both scored on the same rows `y`."""
    from scipy.stats import rankdata  # ~2 s of imports a gate that reuses its verdict skips

    y = np.asarray(y).astype(bool)
    m, n = int(y.sum()), int((~y).sum())
    if m < 2 or n < 2:
        raise ValueError(f"the holdout needs both classes twice or more (positives {m}, negatives {n})")
    scores = np.vstack([np.asarray(candidate, dtype=float), np.asarray(champion, dtype=float)])
    pos, neg = scores[:, y], scores[:, ~y]
    aucs, v01, v10 = [], [], []
    for k in range(2):
        tx = rankdata(pos[k])
        ty = rankdata(neg[k])
        tz = rankdata(np.concatenate([pos[k], neg[k]]))
        aucs.append((tz[:m].sum() - m * (m + 1) / 2) / (m * n))
        v01.append((tz[:m] - tx) / n)  # per positive: share of negatives it outranks
        v10.append(1.0 - (tz[m:] - ty) / m)  # per negative: share of positives that outrank it
    s = np.cov(np.vstack(v01)) / m + np.cov(np.vstack(v10)) / n
    var = float(s[0, 0] + s[1, 1] - 2 * s[0, 1])
    diff = float(aucs[0] - aucs[1])
    se = math.sqrt(max(var, 0.0))
    # identical scores: no difference; a difference with no variance is certain
    z = (0.0 if diff == 0 else math.copysign(math.inf, diff)) if se == 0.0 else diff / se
    p = 0.5 * math.erfc(z / math.sqrt(2))  # P(Z >= z) under "no difference"
    return PairedTest(TEST_NAME, m + n, float(aucs[0]), float(aucs[1]), diff, se, z, p)


def common_months(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """Months both backtests scored (a window that moved compares on its overlap only)."""
    return sorted({r["month"] for r in a.get("per_month", [])} & {r["month"] for r in b.get("per_month", [])})


def backtest_mean(bt: Mapping[str, Any], months: Sequence[str], metric: str = "roc_auc") -> float:
    vals = [float(r[metric]) for r in bt.get("per_month", []) if r["month"] in set(months)]
    return float(np.mean(vals)) if vals else float("nan")


def backtest_worst(bt: Mapping[str, Any], months: Sequence[str], metric: str = "roc_auc") -> float:
    vals = [float(r[metric]) for r in bt.get("per_month", []) if r["month"] in set(months)]
    return float(min(vals)) if vals else float("nan")


def in_words(test: PairedTest | None, alpha: float) -> str:
    """The paired test's result as a sentence for the report and the verdict."""
    if test is None:
        return "no paired test: there is no champion scored on the candidate's holdout"
    verb = "is" if test.p_value < alpha else "is not"
    return (
        f"{test.test}: candidate {test.candidate_auc:.4f} vs champion {test.champion_auc:.4f} "
        f"({test.difference:+.4f}, standard error {test.std_error:.4f}, z {test.z:.2f}) on "
        f"{test.rows:,} flights, p = {test.p_value:.4g}: the improvement {verb} significant at α = {alpha}"
    )
