"""What each step of the drift check hands to the next (drift/check.py runs them); the parts
that reach `summary.json` are the schema's models."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from flightdelay.core import drift as core
from flightdelay.core.errors import ModelError
from flightdelay.core.params import Params
from flightdelay.lifecycle.drift import sources, trigger
from flightdelay.lifecycle.drift.schema import PredictionDrift, Quality


def finite(v: float | None) -> float | None:
    return None if v is None or not np.isfinite(v) else round(float(v), 6)


@dataclass(frozen=True)
class Window:
    """The two sides of one check, whole and capped at `drift.max_rows` (fixed seed)."""

    reference_full: pd.DataFrame
    current_full: pd.DataFrame
    reference: pd.DataFrame
    current: pd.DataFrame


@dataclass(frozen=True)
class Comparison:
    """What the comparison found: the verdict and what it rests on."""

    verdict: core.Verdict
    columns: list[core.ColumnDrift]
    prediction: PredictionDrift | None = None
    quality: Quality | None = None
    html: str | None = None


@dataclass(frozen=True)
class Outcome:
    """The verdict after the N-of-M trigger (which may turn live quality drops into drift)."""

    status: core.Status
    reasons: list[str]
    exit_code: int
    decision: trigger.TriggerDecision
    history: Path
    checked_at: str


def quality_of(cur: pd.DataFrame, p: Params) -> Quality:
    from flightdelay.core.metrics import classification_metrics

    path = Path(p.paths.metrics)
    if not path.is_file():
        raise ModelError(f"holdout metrics {path} are missing", hint="run `dvc repro`")
    ref = json.loads(path.read_text())
    thr = float(ref.get("threshold", p.evaluate.threshold))
    m = classification_metrics(cur[sources.LABEL].to_numpy(), cur["score"].to_numpy(), thr)
    floor = core.quality_floor(float(ref["roc_auc"]), p.drift)
    return Quality(
        current={k: finite(v) for k, v in m.items()},
        reference={
            k: ref[k]
            for k in ("roc_auc", "pr_auc", "log_loss", "brier", "f1", "positive_rate", "rows")
            if k in ref
        },
        reference_months=list(ref.get("holdout_months", [])),
        floor=round(floor, 6),
        threshold=thr,
    )
