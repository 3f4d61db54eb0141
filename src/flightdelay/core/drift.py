"""Pure drift logic: column weights, the verdict, model quality against its floor, exit codes."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from flightdelay.core.params import DriftParams

EXIT_NO_DRIFT = 0
EXIT_DRIFT = 10
EXIT_NOT_ENOUGH_DATA = 11
Status = Literal["no_drift", "drift", "not_enough_data"]
EXIT_CODES: dict[Status, int] = {
    "no_drift": EXIT_NO_DRIFT,
    "drift": EXIT_DRIFT,
    "not_enough_data": EXIT_NOT_ENOUGH_DATA,
}
# Model features derived from input columns (see features.FEATURES); calendar features map to
# calendar columns, which drift checks leave out.
FEATURE_TO_COLUMN = {
    "dep_minute": "sched_dep_time",
    "arr_minute": "sched_arr_time",
    "day_of_week": "day",
}


@dataclass(frozen=True)
class ColumnDrift:
    """One column's comparison, as the drift engine reported it."""

    column: str
    kind: Literal["numerical", "categorical"]
    method: str
    threshold: float
    score: float | None  # None: not compared (too few non-missing values)
    reference_values: int
    current_values: int
    weight: float = 0.0
    reference_rows: int = 0  # rows compared (after the cap), to tell missing from absent
    current_rows: int = 0

    @property
    def missing_increase(self) -> float:
        """How much more often the value is missing now than in the reference (−1..1)."""
        if not self.reference_rows or not self.current_rows:
            return 0.0
        ref_missing = 1 - self.reference_values / self.reference_rows
        return (1 - self.current_values / self.current_rows) - ref_missing

    @property
    def compared(self) -> bool:
        return self.score is not None and math.isfinite(self.score)

    @property
    def drifted(self) -> bool:
        # Every allowed method is a distance: larger is more different.
        return self.compared and float(self.score or 0.0) >= self.threshold


@dataclass(frozen=True)
class Verdict:
    status: Status
    drift_share: float
    unweighted_share: float
    data_drift: bool
    critical_columns: list[str]
    prediction_drift: bool
    quality_below_floor: bool
    reasons: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]


def column_weights(importance: Iterable[Mapping[str, Any]], columns: list[str]) -> dict[str, float]:
    """Map model feature gains back to input columns and normalise over the monitored columns.

    Features that come from unmonitored columns (month, day of week) drop out; a monitored column
    the model never split on gets weight 0. With no usable importance, every column counts equally.
    """
    gain: dict[str, float] = dict.fromkeys(columns, 0.0)
    for row in importance:
        col = FEATURE_TO_COLUMN.get(str(row["feature"]), str(row["feature"]))
        if col in gain:
            gain[col] += max(float(row["gain"]), 0.0)
    total = sum(gain.values())
    if total <= 0:
        return {c: 1.0 / len(columns) for c in columns} if columns else {}
    return {c: g / total for c, g in gain.items()}


def with_weights(results: list[ColumnDrift], weights: Mapping[str, float]) -> list[ColumnDrift]:
    return [ColumnDrift(**{**r.__dict__, "weight": float(weights.get(r.column, 0.0))}) for r in results]


def drift_shares(results: list[ColumnDrift]) -> tuple[float, float]:
    """(importance-weighted, unweighted) share of drifted columns among those compared."""
    compared = [r for r in results if r.compared]
    if not compared:
        return 0.0, 0.0
    wsum = sum(r.weight for r in compared)
    weighted = (sum(r.weight for r in compared if r.drifted) / wsum) if wsum > 0 else 0.0
    return weighted, sum(r.drifted for r in compared) / len(compared)


def critical_columns(results: list[ColumnDrift], p: DriftParams) -> list[str]:
    """Columns so far off that the feed is broken, whatever their weight: a critical distance
    (e.g. °C sent for °F), or values gone missing (e.g. a field the client stopped sending)."""
    out = []
    for r in results:
        limit = p.num_critical if r.kind == "numerical" else p.cat_critical
        if (r.compared and float(r.score or 0.0) >= limit) or (r.missing_increase >= p.max_missing_increase):
            out.append(r.column)
    return out


def quality_floor(holdout_roc_auc: float, p: DriftParams) -> float:
    return holdout_roc_auc - p.max_roc_auc_drop


def decide(
    results: list[ColumnDrift],
    p: DriftParams,
    *,
    prediction_score: float | None,
    current_roc_auc: float | None,
    floor: float | None,
) -> Verdict:
    """The verdict: drift when the weighted share reaches `share_threshold`, a column is critical,
    the score distribution moved, or (labels known) ROC AUC fell below the floor."""
    weighted, unweighted = drift_shares(results)
    critical = critical_columns(results, p)
    data_drift = weighted >= p.share_threshold or bool(critical)
    pred = prediction_score is not None and prediction_score >= p.prediction_threshold
    below = (
        current_roc_auc is not None
        and floor is not None
        and math.isfinite(current_roc_auc)
        and current_roc_auc < floor
    )
    reasons = []
    if weighted >= p.share_threshold:
        reasons.append(f"importance-weighted drift share {weighted:.2f} ≥ {p.share_threshold}")
    if critical:
        reasons.append(f"critical shift in {', '.join(critical)}")
    if pred:
        reasons.append(f"prediction drift {prediction_score:.3f} ≥ {p.prediction_threshold}")
    if below:
        reasons.append(f"ROC AUC {current_roc_auc:.4f} below the floor {floor:.4f}")
    drift = data_drift or pred or below
    return Verdict(
        status="drift" if drift else "no_drift",
        drift_share=weighted,
        unweighted_share=unweighted,
        data_drift=data_drift,
        critical_columns=critical,
        prediction_drift=pred,
        quality_below_floor=below,
        reasons=reasons,
    )


def not_enough_data(rows: int, p: DriftParams) -> Verdict:
    return Verdict(
        status="not_enough_data",
        drift_share=0.0,
        unweighted_share=0.0,
        data_drift=False,
        critical_columns=[],
        prediction_drift=False,
        quality_below_floor=False,
        reasons=[f"{rows} current rows < drift.min_rows={p.min_rows}"],
    )
