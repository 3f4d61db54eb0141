"""Distribution distances between a reference and a current sample: pure functions, no I/O.

Distances rather than p-values, so that the verdict does not flip with sample size:
- PSI (population stability index) on quantile bins of the reference, for numeric columns;
- Wasserstein distance divided by the reference's standard deviation, for numeric columns;
- Jensen–Shannon distance (base 2, in [0, 1]) between category frequencies, for categoricals.
Missing values are left out of the distances and reported as a change in the missing fraction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.spatial.distance import jensenshannon
from scipy.stats import wasserstein_distance

EPS = 1e-4  # floor for empty bins, so PSI stays finite


def _finite(values: np.ndarray | pd.Series) -> np.ndarray:
    v = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    out: np.ndarray = v[np.isfinite(v)]
    return out


def psi(reference: np.ndarray | pd.Series, current: np.ndarray | pd.Series, bins: int = 10) -> float:
    """Population stability index of `current` against `reference` (quantile bins of the reference).

    0 means identical bin shares; 0.1–0.2 is a moderate shift, above 0.2 a material one.
    """
    ref, cur = _finite(reference), _finite(current)
    if len(ref) == 0 or len(cur) == 0:
        return float("nan")
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))
    ref_share = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=len(edges) + 1)
    cur_share = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=len(edges) + 1)
    p = np.maximum(ref_share / len(ref), EPS)
    q = np.maximum(cur_share / len(cur), EPS)
    return float(np.sum((q - p) * np.log(q / p)))


def wasserstein_normalized(reference: np.ndarray | pd.Series, current: np.ndarray | pd.Series) -> float:
    """Earth mover's distance in units of the reference's standard deviation."""
    ref, cur = _finite(reference), _finite(current)
    if len(ref) == 0 or len(cur) == 0:
        return float("nan")
    scale = float(np.std(ref)) or 1.0
    return float(wasserstein_distance(ref, cur)) / scale


def jensen_shannon(reference: Sequence[object] | pd.Series, current: Sequence[object] | pd.Series) -> float:
    """Jensen–Shannon distance (base 2) between the category frequencies; 0 same, 1 disjoint."""
    ref = pd.Series(reference).dropna().astype(str)
    cur = pd.Series(current).dropna().astype(str)
    if ref.empty or cur.empty:
        return float("nan")
    cats = sorted(set(ref.unique()) | set(cur.unique()))
    p = ref.value_counts().reindex(cats, fill_value=0).to_numpy(dtype="float64")
    q = cur.value_counts().reindex(cats, fill_value=0).to_numpy(dtype="float64")
    return float(jensenshannon(p / p.sum(), q / q.sum(), base=2))


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    kind: str  # "numeric" | "categorical"
    method: str  # "psi" | "js"
    score: float
    wasserstein: float  # numeric only (NaN for categoricals)
    reference_mean: float  # numeric mean, or the most frequent category's share
    current_mean: float
    missing_delta: float  # current missing fraction - reference missing fraction
    drifted: bool


def column_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    numeric: Sequence[str],
    categorical: Sequence[str],
    bins: int,
    psi_warn: float,
    wasserstein_warn: float,
    js_warn: float,
) -> list[ColumnDrift]:
    """One row per column; numeric columns drift when PSI or normalized Wasserstein is past its
    threshold, categoricals when the Jensen–Shannon distance is. Sorted by how far past it is."""
    rows: list[ColumnDrift] = []
    for col in numeric:
        r, c = reference[col], current[col]
        score = psi(r, c, bins)
        w = wasserstein_normalized(r, c)
        rows.append(
            ColumnDrift(
                column=col,
                kind="numeric",
                method="psi",
                score=score,
                wasserstein=w,
                reference_mean=float(_finite(r).mean()) if r.notna().any() else float("nan"),
                current_mean=float(_finite(c).mean()) if c.notna().any() else float("nan"),
                missing_delta=float(c.isna().mean() - r.isna().mean()),
                drifted=bool(score > psi_warn or w > wasserstein_warn),
            )
        )
    for col in categorical:
        r, c = reference[col].astype("object"), current[col].astype("object")
        score = jensen_shannon(r, c)
        top = r.dropna().astype(str).value_counts()
        top_value = str(top.index[0]) if len(top) else ""
        rows.append(
            ColumnDrift(
                column=col,
                kind="categorical",
                method="js",
                score=score,
                wasserstein=float("nan"),
                reference_mean=float((r.astype(str) == top_value).mean()) if top_value else float("nan"),
                current_mean=float((c.astype(str) == top_value).mean()) if top_value else float("nan"),
                missing_delta=float(c.isna().mean() - r.isna().mean()),
                drifted=bool(score > js_warn),
            )
        )

    def severity(d: ColumnDrift) -> float:
        """How far past its threshold a column is (the larger ratio for numerics)."""
        ratios = [d.score / (psi_warn if d.method == "psi" else js_warn)]
        if d.kind == "numeric":
            ratios.append(d.wasserstein / wasserstein_warn)
        finite = [r for r in ratios if not np.isnan(r)]  # NaN when a side has no values
        return -max(finite) if finite else 0.0

    return sorted(rows, key=severity)
