"""Whole monitoring files (`summary.json`, `live_quality.json` as models) for tests of what reads them."""

from __future__ import annotations

from typing import Any

from flightdelay.core.drift import Status
from flightdelay.lifecycle.drift import schema


def _column(name: str, score: float | None, weight: float, drifted: bool) -> dict[str, Any]:
    return {
        "column": name,
        "kind": "numerical",
        "method": "wasserstein",
        "score": score,
        "threshold": 0.1,
        "weight": weight,
        "drifted": drifted,
        "reference_values": 20000,
        "current_values": 20000 if score is not None else 3,
        "missing_increase": 0.0,
    }


def drift_summary(
    status: Status = "drift", roc: float | None = 0.71, retrain: bool = True, **changes: Any
) -> schema.DriftSummary:
    """July checked against the training reference; `roc` None: no outcomes (no model quality)."""
    data: dict[str, Any] = {
        "schema_version": 1,
        "status": status,
        "exit_code": {"drift": 10, "no_drift": 0, "not_enough_data": 11}[status],
        "drift_detected": status == "drift",
        "reasons": ["importance-weighted drift share 0.50 ≥ 0.3"] if status == "drift" else [],
        "checked_at": "2026-01-01T00:00:00+00:00",
        "checked_at_unix": 1767225600,
        "current": {
            "source": "partitions",
            "description": "labelled partitions 2013-07",
            "rows": 29425,
            "rows_used": 20000,
            "lines_read": 29425,
            "malformed_lines": 0,
            "months": ["2013-07"],
            "model_versions": {},
            "labelled": roc is not None,
        },
        "reference": {
            "path": "data/reference/reference.parquet",
            "rows": 20000,
            "rows_used": 20000,
            "window": {"start": "2013-01", "end": "2013-06"},
        },
        "drifted_features": ["temp"],
        "data_drift": {
            "share": 0.5,
            "unweighted_share": 0.53,
            "threshold": 0.3,
            "detected": status == "drift",
            "critical_columns": [],
            "columns": [_column("temp", 2.5, 0.06, True), _column("wind_gust", None, 0.04, False)],
        },
        "prediction_drift": {
            "method": "wasserstein",
            "score": 0.15,
            "threshold": 0.1,
            "detected": True,
            "mean_reference": 0.27,
            "mean_current": 0.29,
        },
        "model_quality": None
        if roc is None
        else {
            "current": {"roc_auc": roc},
            "reference": {"roc_auc": 0.75},
            "reference_months": ["2013-06"],
            "floor": 0.72,
            "threshold": 0.5,
            "below_floor": roc < 0.72,
        },
        "live_quality": None,
        "trigger": {
            "retrain_recommended": retrain,
            "signal": "input drift" if retrain else None,
            "drift_count": 2,
            "considered": ["drift"] * 2,
            "quality_drop_count": 0,
            "quality_considered": None,
            "n": 2,
            "m": 3,
            "history": "reports/drift/history.json",
        },
        "artifacts": {
            "html": "report.html",
            "summary": "summary.json",
            "markdown": "issue.md",
            "prometheus": "metrics.prom",
        },
        "run_url": None,
    }
    return schema.DriftSummary.model_validate(data | changes)


def live_quality(**fields: Any) -> schema.LiveQuality:
    """July's outcomes joined with 900 predictions; `fields` replace whole top-level fields."""
    figure = {"estimate": 0.7, "lower": 0.65, "upper": 0.75}
    full = schema.WindowFigures(window="2013-W27", rows=900, positives=300, roc_auc=figure, drop=False)
    empty = schema.WindowFigures(window="2013-07-01", rows=0, positives=0)  # no rows: no figures
    data: dict[str, Any] = {
        "schema_version": 1,
        "computed_at": "2026-01-01T00:00:00+00:00",
        "computed_at_unix": 1767225600,
        "confidence": 0.95,
        "drop_bound": "upper",
        "release": schema.ReleaseFigures(version="3", roc_auc=0.75, holdout_months=["2013-06"]),
        "floors": schema.Floors(accuracy=0.6, roc_auc=0.72, calibration_error=0.1, min_joined_rows=500),
        "join": schema.JoinSummary(
            log="p.jsonl",
            outcomes=["2013-07"],
            replay=True,
            store="joined.parquet",
            store_rows=900,
            counts={"newly_joined": 900},
            problems=[],
        ),
        "overall": schema.WindowFigures(rows=900, positives=300, roc_auc=figure),
        "newest_week": schema.WindowFigures(window="2013-07-01..2013-07-07", rows=900, positives=300),
        "newest_day": empty,
        "weeks": [full],
        "days": [empty],
    }
    return schema.LiveQuality(**(data | fields))
