"""The one drift definition, shared by the monitor's drift check and the PR report: the columns,
the distance and the threshold of each (params `drift:`), Evidently computing the distances."""

from __future__ import annotations

import pandas as pd

from flightdelay.adapters import evidently as evidently_adapter
from flightdelay.core.drift import ColumnDrift
from flightdelay.core.params import DriftParams
from flightdelay.lifecycle.drift import sources


def columns(reference: pd.DataFrame, current: pd.DataFrame, p: DriftParams) -> list[ColumnDrift]:
    """Each monitored column of `current` against `reference`, both capped at `drift.max_rows`
    rows (fixed seed) as the drift check caps them: drifted columns first, then by how far past
    its threshold each is."""
    ref = sources.cap(reference, p.max_rows, p.seed)
    cur = sources.cap(current, p.max_rows, p.seed)
    drop = [evidently_adapter.SCORE]  # the model's score is the check's prediction drift, not a column
    result = evidently_adapter.run(
        ref.drop(columns=drop, errors="ignore"), cur.drop(columns=drop, errors="ignore"), p
    )
    return sorted(result.columns, key=lambda c: (not c.drifted, -(c.score or 0.0) / c.threshold))


def thresholds(p: DriftParams) -> str:
    """The definition in one line, for a reader of the report."""
    overrides = ", ".join(f"{c} {t}" for c, t in sorted(p.per_column_threshold.items()))
    return (
        f"{p.num_method} ≥ {p.num_threshold} (numerical columns), {p.cat_method} ≥ {p.cat_threshold} "
        f"(categorical){f'; per column: {overrides}' if overrides else ''}; a column with fewer than "
        f"{p.min_column_values} values is not compared; each side sampled to at most {p.max_rows:,} rows "
        "(params `drift:`, the drift check's definition)"
    )
