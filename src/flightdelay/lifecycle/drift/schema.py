"""The two files the monitoring loop hands on, as types: the drift check's `summary.json` and
`monitor outcomes`' `live_quality.json`. Each is built as a model, written from it, and read back
into it by every consumer (the issue body, the Prometheus text, `drift issue-action`, the
retraining PR's evidence, the drift check's `--live`), so a renamed or missing field fails where
the file is read, naming the field, instead of as a `KeyError` deep in a renderer.

Schema version 1 of each: fields are only ever added within a version, so readers ignore fields
they do not know. Optional figures that a window may lack (no rows, no outcomes) are left out of
the JSON rather than written as null; `dump` keeps that shape.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, TypeVar

import pydantic
from pydantic import BaseModel, ConfigDict

from flightdelay.core.drift import Status
from flightdelay.core.errors import DataError

SCHEMA_VERSION = 1


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


# ---------------------------------------------------------------- live_quality.json


class Figure(_Model):
    """A live figure with its interval at `drift.live.confidence` (None: not computable)."""

    estimate: float | None
    lower: float | None = None
    upper: float | None = None


class WindowFigures(_Model):
    """Every live figure of one window (a day, an ISO week, the newest 7 days or all joined rows);
    the figures are absent when the window has no rows, `drop` only on weekly windows."""

    window: str | None = None
    rows: int
    positives: int
    roc_auc: Figure | None = None
    pr_auc: Figure | None = None
    brier: Figure | None = None
    accuracy: Figure | None = None
    recall: Figure | None = None
    positive_rate: Figure | None = None
    calibration_error: Figure | None = None
    drop: bool | None = None

    def figure(self, name: str) -> Figure | None:
        return getattr(self, name, None) if name in LIVE_FIGURES else None


LIVE_FIGURES = ("roc_auc", "pr_auc", "brier", "accuracy", "recall", "calibration_error", "positive_rate")


class ReleaseFigures(_Model):
    """The released model the live figures are held against (its holdout figures)."""

    version: str
    roc_auc: float | None = None
    pr_auc: float | None = None
    brier: float | None = None
    accuracy: float | None = None  # absent in bundles made before evaluate wrote it
    recall: float | None = None
    calibration_error: float | None = None  # likewise
    positive_rate: float | None = None
    rows: int | None = None
    holdout_months: list[str]

    def figure(self, name: str) -> float | None:
        value = getattr(self, name, None) if name in LIVE_FIGURES else None
        return None if value is None else float(value)


class Floors(_Model):
    accuracy: float
    roc_auc: float
    calibration_error: float
    min_joined_rows: int


class JoinSummary(_Model):
    log: str
    outcomes: list[str]
    replay: bool
    store: str
    store_rows: int
    counts: dict[str, int]
    problems: list[str]


class LiveSummary(_Model):
    """Live quality as the drift summary carries it (every figure but the per-day list)."""

    schema_version: Literal[1]
    computed_at: str
    computed_at_unix: int
    confidence: float
    drop_bound: Literal["upper", "lower"]
    release: ReleaseFigures
    floors: Floors
    join: JoinSummary
    overall: WindowFigures
    newest_week: WindowFigures | None
    newest_day: WindowFigures | None
    weeks: list[WindowFigures]

    def drops(self) -> list[bool | None]:
        """Per week, oldest first: did its quality drop below the floor (None: too few rows)."""
        return [w.drop for w in self.weeks]


class LiveQuality(LiveSummary):
    """`live_quality.json`, written by `flightdelay monitor outcomes`."""

    days: list[WindowFigures]

    def without_days(self) -> LiveSummary:
        return LiveSummary(**{name: getattr(self, name) for name in LiveSummary.model_fields})


# ---------------------------------------------------------------- summary.json


class CurrentWindow(_Model):
    source: str
    description: str
    rows: int
    rows_used: int
    lines_read: int
    malformed_lines: int
    months: list[str]
    model_versions: dict[str, int]
    labelled: bool


class MonthRange(_Model):
    start: str
    end: str


class ReferenceWindow(_Model):
    path: str
    rows: int
    rows_used: int
    window: MonthRange


class ColumnResult(_Model):
    column: str
    kind: Literal["numerical", "categorical"]
    method: str
    threshold: float
    score: float | None  # None: not compared (too few non-missing values)
    drifted: bool
    weight: float
    reference_values: int
    current_values: int
    missing_increase: float


class DataDrift(_Model):
    share: float
    unweighted_share: float
    threshold: float
    detected: bool
    critical_columns: list[str]
    columns: list[ColumnResult]  # drifted first, then by weight


class PredictionDrift(_Model):
    method: str
    score: float | None
    threshold: float
    detected: bool
    mean_reference: float | None
    mean_current: float | None


class Quality(_Model):
    """The model's quality on a labelled window against its holdout figures."""

    current: dict[str, float | None]
    reference: dict[str, float | int]
    reference_months: list[str]
    floor: float
    threshold: float
    below_floor: bool = False


class TriggerSummary(_Model):
    retrain_recommended: bool
    signal: str | None
    drift_count: int
    considered: list[str]
    quality_drop_count: int
    quality_considered: list[bool] | None
    n: int
    m: int
    history: str


class Artifacts(_Model):
    html: str | None
    summary: str
    markdown: str
    prometheus: str


class DriftSummary(_Model):
    """`summary.json` of `flightdelay drift check`."""

    schema_version: Literal[1]
    status: Status
    exit_code: int
    drift_detected: bool
    reasons: list[str]
    checked_at: str
    checked_at_unix: int
    current: CurrentWindow
    reference: ReferenceWindow
    drifted_features: list[str]
    data_drift: DataDrift
    prediction_drift: PredictionDrift | None
    model_quality: Quality | None
    live_quality: LiveSummary | None
    trigger: TriggerSummary
    artifacts: Artifacts
    run_url: str | None


# ---------------------------------------------------------------- reading and writing

M = TypeVar("M", bound=BaseModel)


def dump(model: BaseModel) -> dict[str, Any]:
    """The model as its JSON object (figures a window lacks stay absent, as written)."""
    return model.model_dump(mode="json", exclude_unset=True)


def write(path: Path, model: BaseModel) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dump(model), indent=2, allow_nan=False) + "\n")
    return path


def parse(kind: type[M], data: Any, origin: str, hint: str) -> M:
    """`data` (parsed JSON) as `kind`, or a DataError naming the file and the first bad fields."""
    try:
        return kind.model_validate(data)
    except pydantic.ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in err['loc']) or '(top)'}: {err['msg']}" for err in e.errors()[:3]
        )
        more = f" (+{e.error_count() - 3} more)" if e.error_count() > 3 else ""
        raise DataError(f"{origin} is not a valid {kind.__name__}: {problems}{more}", hint=hint) from e


def read(kind: type[M], path: Path, hint: str) -> M:
    if not path.is_file():
        raise DataError(f"{path} does not exist", hint=hint)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise DataError(f"{path} is not valid JSON: {e}", hint=hint) from e
    return parse(kind, data, str(path), hint)


SUMMARY_HINT = "pass the summary.json written by `flightdelay drift check`"
LIVE_HINT = "pass the live_quality.json written by `flightdelay monitor outcomes`"
