"""params.yaml as strict, frozen pydantic models: one section per pipeline stage.

Longer than the package's 300-line guide on purpose: every section of params.yaml side by side, in
the file's own order, is what a reader compares with the file; each model is short.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from flightdelay.core.errors import ConfigError
from flightdelay.core.features import CATEGORICAL, FEATURES, INPUT_COLUMNS, PRECIP_HISTORY, SCHEDULE, WEATHER

MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def month_range(start: str, end: str) -> list[str]:
    """Inclusive list of 'YYYY-MM' months."""
    y, m = int(start[:4]), int(start[5:])
    ey, em = int(end[:4]), int(end[5:])
    out: list[str] = []
    while (y, m) <= (ey, em):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


class Paths(Section):
    raw: str = "data/raw"
    prepared: str = "data/prepared"
    validation: str = "reports/validation.json"
    features: str = "data/features"
    reference: str = "data/reference/reference.parquet"
    model: str = "models/model.json"
    feature_spec: str = "models/feature_spec.json"
    metrics: str = "reports/metrics.json"
    slices: str = "reports/slices.json"
    plots: str = "reports/plots"
    bundle: str = "models/bundle"
    pr_report: str = "reports/pr"
    backtest: str = "reports/backtest.json"
    tune: str = "reports/tune.json"  # the tuning evidence and suggested params (not a stage output)


class Window(Section):
    start: str
    end: str

    @field_validator("start", "end")
    @classmethod
    def _month(cls, v: str) -> str:
        if not MONTH_RE.match(v):
            raise ValueError(f"{v!r} is not a month; write it as YYYY-MM, e.g. 2013-01")
        return v

    @model_validator(mode="after")
    def _order(self) -> Window:
        if self.start > self.end:
            raise ValueError(f"window start {self.start} is after end {self.end}")
        return self

    @property
    def months(self) -> list[str]:
        return month_range(self.start, self.end)


class DataParams(Section):
    window: Window


class PrepareParams(Section):
    delay_threshold_min: int = Field(15, ge=0)
    max_wind_speed_mph: float = Field(100.0, gt=0)
    weather_lead_hours: int = Field(0, ge=0, le=6)  # weather as known this many hours before departure


class ValidateParams(Section):
    min_rows_per_month: int = Field(1000, ge=0)
    max_duplicate_fraction: float = Field(0.001, ge=0, le=1)
    max_null_fraction: dict[str, float]
    ranges: dict[str, tuple[float, float]]
    carriers: list[str]
    origins: list[str]
    dest_pattern: str = r"^[A-Z]{3}$"
    temp_monthly_mean_f: dict[int, tuple[float, float]]
    max_label_rate: float = Field(0.8, gt=0, le=1)
    min_label_rate: float = Field(0.05, ge=0, lt=1)
    forbidden_columns: list[str] = []
    max_unparsed_fraction: float = Field(0.0, ge=0, le=1)
    arr_delay_quantiles: dict[float, tuple[float, float]] = {
        0.1: (-60.0, -5.0),
        0.5: (-30.0, 20.0),
        0.9: (10.0, 240.0),
    }
    max_window_ratio: float = Field(2.5, gt=1)
    max_missing_arr_delay: float = Field(0.02, ge=0, le=1)
    temp_peak_hour: tuple[float, float] = (12.0, 16.5)
    min_temp_cycle_f: float = Field(1.0, ge=0)

    @model_validator(mode="after")
    def _bands(self) -> ValidateParams:
        bad = [q for q in self.arr_delay_quantiles if not 0 < q < 1]
        if bad:
            raise ValueError(f"arr_delay_quantiles keys {bad} are not quantiles; use values in (0, 1)")
        bands = {f"arr_delay_quantiles.{q:g}": b for q, b in self.arr_delay_quantiles.items()}
        bands["temp_peak_hour"] = self.temp_peak_hour
        bands["label rate"] = (self.min_label_rate, self.max_label_rate)
        wrong = [k for k, (lo, hi) in bands.items() if lo > hi]
        if wrong:
            raise ValueError(f"{wrong}: the lower bound is above the upper one")
        return self


class FeaturizeParams(Section):
    holdout_months: int = Field(1, ge=1)
    min_category_count: int = Field(20, ge=1)
    reference_sample_rows: int = Field(20000, ge=100)
    seed: int = 13


class DaskParams(Section):
    """Where `train.engine: dask` runs: a scheduler address, or a LocalCluster sized here."""

    scheduler: str = Field("", pattern=r"^((tcp|tls|inproc|ucx)://\S+)?$")  # empty: a LocalCluster
    n_workers: int = Field(2, ge=1)  # LocalCluster only
    threads_per_worker: int = Field(1, ge=1)  # LocalCluster only
    memory_limit: str = Field("2GiB", pattern=r"^\d+(\.\d+)?\s*([KMGT]i?B|B)?$")  # per LocalCluster worker
    processes: bool = True  # LocalCluster workers as processes (False: threads in this process)
    partitions_per_worker: int = Field(2, ge=1)  # training data is split so every worker holds a share
    connect_timeout_s: float = Field(30.0, gt=0)  # waiting for the scheduler at `scheduler`


class TrainParams(Section):
    n_estimators: int = Field(300, ge=1)
    max_depth: int = Field(6, ge=1, le=16)
    learning_rate: float = Field(0.1, gt=0, le=1)
    subsample: float = Field(0.8, gt=0, le=1)
    colsample_bytree: float = Field(0.8, gt=0, le=1)
    min_child_weight: float = Field(1.0, ge=0)
    reg_lambda: float = Field(1.0, ge=0)
    max_bin: int = Field(256, ge=2)
    seed: int = 13
    n_jobs: int = Field(2, ge=1)
    engine: Literal["local", "dask"] = "local"
    dask: DaskParams = DaskParams()
    # Probability calibration fitted on the newest training month (flightdelay.core.calibration).
    calibration: Literal["none", "platt", "isotonic"] = "none"
    # Directions the trees must respect, by feature: 1 = the score never falls as it rises, -1 =
    # never rises (XGBoost monotone constraints); unlisted features are free.
    monotone: dict[str, Literal[-1, 1]] = {}

    @field_validator("monotone")
    @classmethod
    def _monotone(cls, v: dict[str, int]) -> dict[str, int]:
        numeric = [f for f in FEATURES if f not in CATEGORICAL]
        unknown = sorted(set(v) - set(numeric))
        if unknown:
            raise ValueError(f"names {unknown}, which are not numeric features; choose from {numeric}")
        return v

    def hyperparameters(self) -> dict[str, Any]:
        """What the model is (bundle metadata, MLflow params); not where it was trained."""
        return self.model_dump(exclude={"engine", "dask"})


class BacktestParams(Section):
    """`backtest`: rolling origin over the window (each month scored by a model of the months before)."""

    min_train_months: int = Field(3, ge=1)  # the first scored month has this many before it
    calibration_bins: int = Field(10, ge=2)  # equal-width bins of the expected calibration error
    n_jobs: int = Field(1, ge=1)  # threads per fold (one is fastest on a busy 2-core runner)
    parallel_folds: int = Field(2, ge=1)  # folds fitted at once, on threads of this process


class TuneParams(Section):
    """`flightdelay tune`: the TPE search budget and space (a proposal tool, not a pipeline stage)."""

    trials: int = Field(20, ge=1)
    timeout_minutes: float = Field(0, ge=0)  # 0: no time limit
    seed: int = 13
    validation_months: int = Field(2, ge=1)  # newest training months, each scored by the months before
    n_jobs: int = Field(1, ge=1)
    space: dict[str, tuple[float, float]] = {
        "n_estimators": (100, 600),
        "max_depth": (3, 8),
        "learning_rate": (0.01, 0.2),
        "subsample": (0.5, 1.0),
        "colsample_bytree": (0.3, 1.0),
        "min_child_weight": (1.0, 50.0),
        "reg_lambda": (0.1, 50.0),
    }

    @model_validator(mode="after")
    def _space(self) -> TuneParams:
        tunable = set(TrainParams.model_fields) - {"seed", "n_jobs", "engine", "dask", "monotone"}
        unknown = sorted(set(self.space) - tunable)
        if unknown:
            raise ValueError(
                f"space names {unknown}, which are not train params; choose from {sorted(tunable)}"
            )
        empty = sorted(k for k, (lo, hi) in self.space.items() if not lo < hi)
        if empty:
            raise ValueError(f"space ranges {empty} are empty: write [low, high] with low < high")
        return self


class EvaluateParams(Section):
    threshold: float = Field(0.35, gt=0, lt=1)
    min_slice_rows: int = Field(200, ge=1)
    calibration_bins: int = Field(10, ge=2)


class ReleaseParams(Section):
    """Merge side: registry identity, image naming, the overlays a release bumps."""

    image_repository: str = Field(
        "ghcr.io/example-org/flightdelay", pattern=r"^[a-z0-9][a-z0-9._/:-]*[a-z0-9]$"
    )
    overlays: dict[str, str] = {
        "staging": "deploy/overlays/staging",
        "production": "deploy/overlays/production",
    }
    champion_env: str = "staging"  # the overlay that must always run the champion
    cards_dir: str = "models/cards"
    changelog: str = "CHANGELOG.md"
    image_bundle: str = "build/model"  # the released bundle (with release.json) the image bakes
    remote: str = "origin"
    branch: str = "main"
    push_attempts: int = Field(5, ge=1, le=20)

    @model_validator(mode="after")
    def _champion_env(self) -> ReleaseParams:
        if self.champion_env not in self.overlays:
            raise ValueError(
                f"champion_env {self.champion_env!r} is not one of the overlays {sorted(self.overlays)}"
            )
        return self


Metric = Literal["roc_auc", "pr_auc", "f1", "precision", "recall", "log_loss", "brier"]
LOWER_IS_BETTER: frozenset[str] = frozenset({"log_loss", "brier"})
BacktestMetric = Literal["mean_roc_auc", "worst_roc_auc"]


class GateParams(Section):
    """What a candidate must meet to ship (`flightdelay gate`)."""

    floors: dict[Metric, float] = {"roc_auc": 0.70}
    ceilings: dict[Metric, float] = {"log_loss": 0.69}
    tolerance: dict[Metric, float] = {"roc_auc": 0.005, "pr_auc": 0.01, "log_loss": 0.01}
    slice_metric: Metric = "roc_auc"
    slice_tolerance: float = Field(0.03, ge=0)
    min_slice_rows: int = Field(500, ge=1)
    max_slice_regressions: int = Field(0, ge=0)
    # Promotion: `better` ships a candidate only with evidence that it beats the champion (DeLong's
    # paired test on the holdout at `alpha`, or the backtest mean by `backtest_margin` when the base
    # is the champion); `not_worse` holds it to the tolerances only.
    promotion: Literal["better", "not_worse"] = "better"
    alpha: float = Field(0.05, gt=0, lt=1)
    backtest_margin: float = Field(0.002, gt=0)
    # The backtest (paths.backtest): mean and worst month ROC AUC, floors and allowed regression
    # against the base's backtest over the months both scored.
    backtest_floors: dict[BacktestMetric, float] = {"mean_roc_auc": 0.68, "worst_roc_auc": 0.62}
    backtest_tolerance: dict[BacktestMetric, float] = {"mean_roc_auc": 0.005, "worst_roc_auc": 0.02}

    @model_validator(mode="after")
    def _directions(self) -> GateParams:
        wrong = [m for m in self.floors if m in LOWER_IS_BETTER]
        wrong += [m for m in self.ceilings if m not in LOWER_IS_BETTER]
        if wrong:
            raise ValueError(
                f"{wrong}: floors are for higher-is-better metrics, ceilings for "
                f"losses ({sorted(LOWER_IS_BETTER)})"
            )
        if any(v < 0 for v in self.tolerance.values()):
            raise ValueError("tolerances are allowed regressions and must be >= 0")
        return self


class ReportParams(Section):
    """The pull-request report (`flightdelay report pr`)."""

    latency_repeats: int = Field(200, ge=5)
    max_slice_bars: int = Field(20, ge=1)


DistanceMethod = Literal["wasserstein", "jensenshannon", "psi", "hellinger"]
# Wasserstein needs numbers: Evidently refuses it for a categorical column.
CategoricalDistanceMethod = Literal["jensenshannon", "psi", "hellinger"]


class DriftTrigger(Section):
    """Ask for retraining only when drift was seen in at least `n` of the last `m` checks."""

    n: int = Field(2, ge=1)
    m: int = Field(3, ge=1)
    history_size: int = Field(100, ge=1)

    @model_validator(mode="after")
    def _n_le_m(self) -> DriftTrigger:
        if self.n > self.m:
            raise ValueError(f"trigger.n={self.n} is larger than trigger.m={self.m}; need n <= m")
        return self


class LiveParams(Section):
    """`monitor outcomes`: logged predictions joined with outcomes, and their live quality."""

    store: str = "reports/monitor/joined.parquet"
    output_dir: str = "reports/monitor"
    accuracy_floor: float = Field(0.70, gt=0, le=1)
    max_calibration_error: float = Field(0.10, gt=0, le=1)
    min_joined_rows: int = Field(500, ge=1)
    confidence: float = Field(0.95, gt=0.5, lt=1)
    calibration_bins: int = Field(10, ge=2, le=100)
    bootstrap: int = Field(200, ge=20)
    seed: int = 13
    drop_bound: Literal["upper", "lower"] = "upper"


class DriftParams(Section):
    """`drift check`: distance-based per-column drift, weighted by feature importance."""

    numerical: list[str] = [
        "sched_dep_time",
        "sched_arr_time",
        "distance",
        *WEATHER,
        *SCHEDULE,
        *PRECIP_HISTORY,
    ]
    categorical: list[str] = ["carrier", "origin", "dest"]
    num_method: DistanceMethod = "wasserstein"
    num_threshold: float = Field(0.1, gt=0)
    num_critical: float = Field(3.0, gt=0)
    cat_method: CategoricalDistanceMethod = "jensenshannon"
    cat_threshold: float = Field(0.1, gt=0)
    cat_critical: float = Field(0.5, gt=0)
    max_missing_increase: float = Field(0.5, gt=0, le=1)
    per_column_threshold: dict[str, float] = {}
    share_threshold: float = Field(0.3, gt=0, le=1)
    prediction_threshold: float = Field(0.1, gt=0)
    max_roc_auc_drop: float = Field(0.03, ge=0, le=1)
    min_rows: int = Field(5000, ge=1)
    min_column_values: int = Field(500, ge=1)
    max_rows: int = Field(20000, ge=100)
    seed: int = 13
    output_dir: str = "reports/drift"
    history: str = "reports/drift/history.json"
    trigger: DriftTrigger = DriftTrigger()
    live: LiveParams = LiveParams()

    @model_validator(mode="after")
    def _columns(self) -> DriftParams:
        both = set(self.numerical) & set(self.categorical)
        if both:
            raise ValueError(f"columns {sorted(both)} are listed as both numerical and categorical")
        unknown = sorted((set(self.numerical) | set(self.categorical)) - set(INPUT_COLUMNS))
        if unknown:
            raise ValueError(f"columns {unknown} are not model inputs; choose from {list(INPUT_COLUMNS)}")
        extra = sorted(set(self.per_column_threshold) - set(self.numerical) - set(self.categorical))
        if extra:
            raise ValueError(f"per_column_threshold names unmonitored columns {extra}")
        if self.min_rows > self.max_rows:
            raise ValueError(f"min_rows={self.min_rows} exceeds the sampling cap max_rows={self.max_rows}")
        return self

    @property
    def columns(self) -> list[str]:
        return [*self.numerical, *self.categorical]


class Params(Section):
    paths: Paths = Paths()
    data: DataParams
    prepare: PrepareParams = PrepareParams()
    validate_: ValidateParams = Field(alias="validate")
    featurize: FeaturizeParams = FeaturizeParams()
    train: TrainParams = TrainParams()
    evaluate: EvaluateParams = EvaluateParams()
    backtest: BacktestParams = BacktestParams()
    tune: TuneParams = TuneParams()
    gate: GateParams = GateParams()
    report: ReportParams = ReportParams()
    drift: DriftParams = DriftParams()
    release: ReleaseParams = ReleaseParams()

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @cached_property
    def window_months(self) -> list[str]:
        return self.data.window.months


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate params.yaml; errors name the key and say how to fix it."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"{p} not found", hint="run from the repository root, or pass --params")
    try:
        raw = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{p} is not valid YAML: {e}") from e
    try:
        return Params.model_validate(raw)
    except ValidationError as e:
        lines = [f"  {'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in e.errors()]
        raise ConfigError(
            f"{p} is invalid:\n" + "\n".join(lines),
            hint="fix the keys above (unknown keys are refused)",
        ) from e
