"""`backtest`: rolling-origin evaluation — each month scored by a model trained on all earlier months.

One month's holdout is too noisy to decide a promotion (2013 months range 0.65–0.76 ROC AUC with the
same model), so the pipeline also scores every month of the window from `backtest.min_train_months`
on, each by a model fitted (feature spec included) on the months before it only. The stage reuses
the featurized rows and, for the fold of the training months, the `train` stage's model (`folds`);
`backtest.parallel_folds` folds train at once, each with `backtest.n_jobs` threads; none logs to MLflow.

`flightdelay backtest --window 2013-01:2013-12` runs the same procedure on any months of the
embedded source (prepared on the fly, nothing under DVC changes) and prints the per-month table.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flightdelay.core import features
from flightdelay.core.errors import ConfigError, DataError
from flightdelay.core.metrics import month_metrics
from flightdelay.core.model import fit_model
from flightdelay.core.params import (
    BacktestParams,
    Params,
    Paths,
    PrepareParams,
    TrainParams,
    Window,
    month_range,
)
from flightdelay.core.progress import say
from flightdelay.pipeline import folds

PLOT_FILE = "backtest.json"  # under paths.plots: one row per month, for `dvc plots`
METRICS = ("roc_auc", "pr_auc", "brier", "log_loss", "ece", "positive_rate", "mean_predicted")
LOWER_IS_BETTER = frozenset({"brier", "log_loss", "ece"})

Fitter = folds.Fitter


# ---------------------------------------------------------------- pure core


def xgboost_fitter(train: TrainParams, *, min_category_count: int, n_jobs: int) -> Fitter:
    """Fit spec + XGBoost (+ its calibration) on a frame of earlier months; return its scoring function."""

    def fit(frame: pd.DataFrame) -> folds.Scorer:
        spec = features.fit_spec(frame, "disrupted", min_category_count)
        t = train.model_copy(update={"n_jobs": n_jobs})
        return folds.scorer(fit_model(frame, spec, t, min_category_count=min_category_count))

    return fit


def rolling_origin(
    frame: pd.DataFrame,
    months: Sequence[str],
    *,
    min_train_months: int,
    fitter: Fitter,
    bins: int,
    workers: int = 1,
) -> list[dict[str, Any]]:
    """One row per scored month M (from index `min_train_months` on): trained on months < M;
    `workers` folds at once."""
    if len(months) <= min_train_months:
        raise ConfigError(
            f"the backtest window has {len(months)} month(s); it needs more than "
            f"backtest.min_train_months={min_train_months} to score any",
            hint="widen the window or lower backtest.min_train_months in params.yaml",
        )
    part = frame["partition"].astype(str)
    missing = [m for m in months if not (part == m).any()]
    if missing:
        raise DataError(
            f"the backtest has no rows for {', '.join(missing)}",
            hint="run the pipeline on a window that holds these months (`dvc repro`)",
        )

    def fold(i: int) -> dict[str, Any]:
        t0 = time.perf_counter()
        train = frame[part.isin(months[:i])]
        test = frame[part == months[i]]
        m = month_metrics(test["disrupted"].to_numpy(), fitter(train)(test), bins)
        say(
            f"backtest: {months[i]} ROC AUC {m['roc_auc']:.4f} ({len(train):,} training rows, "
            f"{time.perf_counter() - t0:.1f}s)"
        )
        return {"month": months[i], "train_months": f"{months[0]}..{months[i - 1]}", **m}

    return folds.in_parallel(fold, range(min_train_months, len(months)), workers)


def summarize(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean of each metric over the scored months, and the worst month by ROC AUC."""
    out: dict[str, Any] = {"months": [r["month"] for r in rows]}
    for k in METRICS:
        vals = [float(r[k]) for r in rows if not math.isnan(float(r[k]))]
        out[f"mean_{k}"] = round(float(np.mean(vals)), 6) if vals else float("nan")
    worst = min(rows, key=lambda r: float(r["roc_auc"]))
    out["worst_month"] = worst["month"]
    out["worst_roc_auc"] = round(float(worst["roc_auc"]), 6)
    return out


def format_table(result: dict[str, Any]) -> str:
    cols = ("month", "rows", *METRICS)
    lines = ["  ".join(f"{c:>14}" if c != "month" else f"{c:<8}" for c in cols)]
    for r in result["per_month"]:
        cells = [f"{r['month']:<8}", f"{r['rows']:>14,}"]
        cells += [f"{float(r[c]):>14.4f}" for c in cols[2:]]
        lines.append("  ".join(cells))
    s = result["summary"]
    cells = [f"{'mean':<8}", f"{sum(r['rows'] for r in result['per_month']):>14,}"]
    cells += [f"{float(s['mean_' + c]):>14.4f}" for c in cols[2:]]
    lines.append("  ".join(cells))
    lines.append(f"worst month by ROC AUC: {s['worst_month']} {s['worst_roc_auc']:.4f}")
    return "\n".join(lines)


def round_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: round(v, 6) if isinstance(v, float) else v for k, v in r.items()} for r in rows]


# ---------------------------------------------------------------- I/O edges


@dataclass(frozen=True)
class BacktestConfig:
    """The stage's params: its section, the model's (`train`, its spec's category floor), the window."""

    backtest: BacktestParams
    train: TrainParams
    min_category_count: int
    window: Window


def config(p: Params) -> BacktestConfig:
    floor = p.featurize.min_category_count
    return BacktestConfig(backtest=p.backtest, train=p.train, min_category_count=floor, window=p.data.window)


def featurized_rows(paths: Paths) -> pd.DataFrame:
    """The pipeline's featurized rows (train + holdout): duplicates already dropped."""
    files = [Path(paths.features) / f"{split}.parquet" for split in ("train", "holdout")]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise DataError(
            f"backtest: the featurized rows {', '.join(missing)} are missing",
            hint="run the pipeline up to featurize (`dvc repro featurize`), or pass --window to "
            "backtest months of the embedded source",
        )
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def source_rows(paths: Paths, prepare_params: PrepareParams, months: Sequence[str]) -> pd.DataFrame:
    """Months prepared as the pipeline prepares them: from `paths.raw` when the partition is there,
    else cut from the embedded source into a temporary folder (nothing DVC tracks changes)."""
    from flightdelay.pipeline import featurize, prepare, source

    frames = []
    with tempfile.TemporaryDirectory(prefix="flightdelay-backtest-") as tmp:
        for m in months:
            raw = Path(paths.raw)
            if not (raw / m / source.FLIGHTS_FILE).is_file():
                raw = Path(tmp)
                # the previous month beside it: its last day's weather starts the precipitation sums
                for part in (prepare.previous_month(m), m):
                    if part in source.AVAILABLE_MONTHS and not (raw / part).is_dir():
                        source.materialize(part, raw)
            df, _ = prepare.prepare_month(m, raw, prepare_params)
            frames.append(df.loc[~df["is_duplicate"], featurize.KEEP])
    return pd.concat(frames, ignore_index=True)


def evaluate(
    cfg: BacktestConfig,
    frame: pd.DataFrame,
    months: Sequence[str],
    min_train_months: int,
    stage: Paths | None = None,
) -> dict[str, Any]:
    """The backtest of `months`; with the stage's `paths`, the train stage's model serves its fold."""
    b = cfg.backtest
    t0 = time.perf_counter()
    fitter = xgboost_fitter(cfg.train, min_category_count=cfg.min_category_count, n_jobs=b.n_jobs)
    if stage is not None:
        fitter = folds.reusing(fitter, stage, cfg.train, cfg.min_category_count)
    rows = rolling_origin(
        frame,
        months,
        min_train_months=min_train_months,
        fitter=fitter,
        bins=b.calibration_bins,
        workers=b.parallel_folds,
    )
    return {
        "window": f"{months[0]}..{months[-1]}",
        "min_train_months": min_train_months,
        "summary": summarize(rows),
        "per_month": round_rows(rows),
        "seconds": round(time.perf_counter() - t0, 1),  # not written: outputs must be reproducible
    }


def write(result: dict[str, Any], path: Path, plot: Path | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({k: v for k, v in result.items() if k != "seconds"}, indent=2) + "\n")
    if plot is not None:
        keep = ("month", "roc_auc", "pr_auc", "brier", "ece", "positive_rate", "mean_predicted")
        plot.parent.mkdir(parents=True, exist_ok=True)
        data = [{k: r[k] for k in keep} for r in result["per_month"]]
        plot.write_text(json.dumps(data, indent=2) + "\n")


def run(paths: Paths, cfg: BacktestConfig) -> dict[str, Any]:
    """The stage: the pipeline's window, its featurized rows, `paths.backtest` and the plot data."""
    months, frame = cfg.window.months, featurized_rows(paths)
    result = evaluate(cfg, frame, months, cfg.backtest.min_train_months, stage=paths)
    write(result, Path(paths.backtest), Path(paths.plots) / PLOT_FILE)
    s = result["summary"]
    say(
        f"backtest: {len(s['months'])} months in {result['seconds']}s: mean ROC AUC "
        f"{s['mean_roc_auc']:.4f}, worst {s['worst_month']} {s['worst_roc_auc']:.4f}, "
        f"mean ECE {s['mean_ece']:.4f}"
    )
    return result


def parse_window(text: str) -> list[str]:
    start, sep, end = text.partition(":")
    from flightdelay.core.params import MONTH_RE

    if not sep or not MONTH_RE.match(start) or not MONTH_RE.match(end) or start > end:
        raise ConfigError(
            f"--window {text!r} is not START:END",
            hint="write the months as YYYY-MM:YYYY-MM, e.g. --window 2013-01:2013-12",
        )
    return month_range(start, end)


def _handler(args: argparse.Namespace, p: Params) -> int:
    cfg = config(p)
    if args.window is None and args.min_train_months is None and args.out is None:
        result = run(p.paths, cfg)
    else:
        months = parse_window(args.window) if args.window else cfg.window.months
        min_train = cfg.backtest.min_train_months if args.min_train_months is None else args.min_train_months
        if min_train < 1:
            raise ConfigError(f"--min-train-months {min_train} is not a month count", hint="pass 1 or more")
        if set(months) <= set(cfg.window.months):
            frame = featurized_rows(p.paths)
        else:
            frame = source_rows(p.paths, p.prepare, months)
        result = evaluate(cfg, frame, months, min_train)
        if args.out:
            write(result, Path(args.out))
            say(f"backtest: written to {args.out}")
    print(format_table(result))  # noqa: T201 - the per-month table is this command's output
    say(f"backtest: {result['seconds']}s")
    return 0


def register(sub: argparse._SubParsersAction, handlers: dict[str, Any]) -> None:  # type: ignore[type-arg]
    b = sub.add_parser(
        "backtest",
        help="rolling origin: each month scored by a model trained on all earlier months",
        description="Without options: the pipeline stage (the window in params.yaml, written to "
        "paths.backtest). With --window: any months of the source, the table printed.",
    )
    b.add_argument("--window", metavar="START:END", help="months to use, e.g. 2013-01:2013-12")
    b.add_argument(
        "--min-train-months",
        type=int,
        metavar="N",
        help="score from the N+1th month of the window on (default: backtest.min_train_months)",
    )
    b.add_argument("--out", metavar="JSON", help="also write the result here")
    handlers["backtest"] = _handler
