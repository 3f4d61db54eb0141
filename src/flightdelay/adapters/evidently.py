"""The one module that talks to Evidently (0.7 API): run the drift report, read scores, save HTML.

When Evidently's API moves, only this file changes. Everything it returns is plain data
(`core.ColumnDrift`) so the verdict stays a pure function.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from flightdelay.core.drift import ColumnDrift
from flightdelay.core.errors import ToolError
from flightdelay.core.params import DriftParams

SCORE = "score"


@dataclass(frozen=True)
class EngineResult:
    columns: list[ColumnDrift]
    prediction: ColumnDrift | None
    snapshot: Any  # evidently Snapshot (None until asked for: identical data); only `save_html` uses it
    make_snapshot: Callable[[], Any] | None = field(default=None, repr=False, compare=False)


def _frame(df: pd.DataFrame, numerical: list[str], categorical: list[str]) -> pd.DataFrame:
    out = pd.DataFrame(index=df.index)
    for c in numerical:
        out[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
    for c in categorical:
        out[c] = df[c].astype("object").where(df[c].notna(), None).astype("string")
    return out.reset_index(drop=True)


@dataclass(frozen=True)
class Plan:
    """Which columns to compare, with which method and threshold (params `drift:`)."""

    numerical: list[str]
    compared: list[str]
    counts: dict[str, tuple[int, int]]
    methods: dict[str, str]
    thresholds: dict[str, float]


def plan(ref: pd.DataFrame, cur: pd.DataFrame, p: DriftParams, numerical: list[str]) -> Plan:
    counts = {c: (int(ref[c].notna().sum()), int(cur[c].notna().sum())) for c in ref.columns}
    thresholds = {
        **dict.fromkeys(p.numerical, p.num_threshold),
        **dict.fromkeys(p.categorical, p.cat_threshold),
        **p.per_column_threshold,
        SCORE: p.prediction_threshold,
    }
    methods: dict[str, str] = {
        **dict.fromkeys(numerical, p.num_method),
        **dict.fromkeys(p.categorical, p.cat_method),
    }
    compared = [c for c in ref.columns if min(counts[c]) >= p.min_column_values]
    return Plan(numerical, compared, counts, methods, thresholds)


def _evaluate(
    ref: pd.DataFrame, cur: pd.DataFrame, pl: Plan, categorical: list[str]
) -> tuple[Any, list[Any]]:
    """Evidently's report on the compared columns → (snapshot, its metrics as plain data)."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(
        numerical_columns=[c for c in pl.numerical if c in pl.compared],
        categorical_columns=[c for c in categorical if c in pl.compared],
    )
    report = Report(
        [
            DataDriftPreset(
                columns=pl.compared,
                per_column_method={c: pl.methods[c] for c in pl.compared},
                per_column_threshold={c: pl.thresholds[c] for c in pl.compared},
            )
        ]
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Evidently's own deprecation chatter
            snapshot = report.run(
                Dataset.from_pandas(cur, data_definition=definition),
                Dataset.from_pandas(ref, data_definition=definition),
            )
            return snapshot, list(snapshot.dict()["metrics"])
    except (ValueError, TypeError, KeyError) as e:
        raise ToolError(
            f"Evidently could not compare the data: {e}",
            hint="check the current data's columns and types",
        ) from e


def _scores(metrics: list[Any], compared: list[str]) -> dict[str, float]:
    scores: dict[str, float] = {}
    for m in metrics:
        cfg = m.get("config", {})
        if cfg.get("type", "").endswith(":ValueDrift"):
            scores[str(cfg["column"])] = float(m["value"])
    missing = sorted(set(compared) - set(scores))
    if missing:
        raise ToolError(
            f"Evidently returned no drift value for {missing}",
            hint="the Evidently version may have changed its result shape",
        )
    return scores


def run(reference: pd.DataFrame, current: pd.DataFrame, p: DriftParams) -> EngineResult:
    """Per-column distances of `current` against `reference` with the methods in params."""
    with_score = SCORE in reference.columns and SCORE in current.columns
    numerical = [*p.numerical, *([SCORE] if with_score else [])]
    ref = _frame(reference, numerical, p.categorical)
    cur = _frame(current, numerical, p.categorical)
    pl = plan(ref, cur, p, numerical)
    snapshot: Any = None
    if ref.equals(cur):
        # Identical samples (a pull request that changes no data): every allowed method is a
        # distance, 0 between identical samples, so Evidently's import and report (10-20 s of a
        # PR report) are skipped; tests/adapters/test_evidently.py checks that Evidently agrees.
        scores = dict.fromkeys(pl.compared, 0.0)
    else:
        snapshot, metrics = _evaluate(ref, cur, pl, p.categorical)
        scores = _scores(metrics, pl.compared)

    def result(c: str, kind: str) -> ColumnDrift:
        return ColumnDrift(
            column=c,
            kind="numerical" if kind == "numerical" else "categorical",
            method=pl.methods[c],
            threshold=pl.thresholds[c],
            score=scores.get(c),
            reference_values=pl.counts[c][0],
            current_values=pl.counts[c][1],
            reference_rows=len(ref),
            current_rows=len(cur),
        )

    cols = [result(c, "numerical") for c in p.numerical]
    cols += [result(c, "categorical") for c in p.categorical]
    pred = result(SCORE, "numerical") if with_score else None
    return EngineResult(
        columns=cols,
        prediction=pred,
        snapshot=snapshot,
        make_snapshot=None if snapshot is not None else lambda: _evaluate(ref, cur, pl, p.categorical)[0],
    )


def save_html(result: EngineResult, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snapshot = result.snapshot
        if snapshot is None and result.make_snapshot is not None:
            snapshot = result.make_snapshot()
        snapshot.save_html(str(path))
    return path
