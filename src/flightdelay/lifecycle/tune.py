"""`flightdelay tune`: a seeded TPE search (Optuna) over the train params, validated in time order.

A trial's score is the backtest procedure on the training months only: each of the newest
`tune.validation_months` training months is scored by a model fitted on the months before it, and
the trial scores their mean ROC AUC. The holdout month is never seen, so the gate and the backtest
still judge the result. Each trial is a nested MLflow run under one parent run. The best params go
to `paths.tune` (JSON, with the trials) and are printed as params.yaml lines; `--apply` writes them
into params.yaml `train:` (comments kept) for a reviewed pull request — tuning never ships a model.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from flightdelay.core.errors import ConfigError, DataError
from flightdelay.core.params import Params, TrainParams
from flightdelay.core.progress import say
from flightdelay.pipeline import backtest

# Searched on a log scale: their useful values span orders of magnitude.
LOG_SCALE = frozenset({"learning_rate", "min_child_weight", "reg_lambda"})
INTEGER = frozenset({"n_estimators", "max_depth", "max_bin"})

Objective = Callable[[TrainParams], tuple[float, list[dict[str, Any]]]]
TrialLogger = Callable[[int, dict[str, Any], float, list[dict[str, Any]]], None]


# ---------------------------------------------------------------- pure core


def validation_objective(
    frame: pd.DataFrame, months: list[str], validation_months: int, n_jobs: int, **kw: Any
) -> Objective:
    """Mean ROC AUC over the newest `validation_months` of `months`, each scored by a model of the
    months before it (the backtest's rolling origin, restricted to training months)."""
    if len(months) <= validation_months:
        raise ConfigError(
            f"tuning needs more training months than tune.validation_months={validation_months}; "
            f"the training months are {', '.join(months)}",
            hint="lower tune.validation_months or widen data.window",
        )

    def score(t: TrainParams) -> tuple[float, list[dict[str, Any]]]:
        fitter = backtest.xgboost_fitter(t, n_jobs=n_jobs, **kw)
        rows = backtest.rolling_origin(
            frame, months, min_train_months=len(months) - validation_months, fitter=fitter, bins=10
        )
        return float(sum(r["roc_auc"] for r in rows) / len(rows)), rows

    return score


def search(
    base: TrainParams,
    space: Mapping[str, tuple[float, float]],
    objective: Objective,
    *,
    trials: int,
    seed: int,
    timeout_s: float | None = None,
    on_trial: TrialLogger | None = None,
) -> dict[str, Any]:
    """TPE (seeded) over `space`; trial 0 is `base` as it stands, so the result says what tuning adds."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.enqueue_trial({k: getattr(base, k) for k in space})
    history: list[dict[str, Any]] = []

    def run_trial(trial: optuna.Trial) -> float:
        values: dict[str, Any] = {}
        for name, (low, high) in space.items():
            if name in INTEGER:
                values[name] = trial.suggest_int(name, int(low), int(high))
            else:
                values[name] = trial.suggest_float(name, low, high, log=name in LOG_SCALE)
        t0 = time.perf_counter()
        value, rows = objective(base.model_copy(update=values))
        history.append({"trial": trial.number, "value": round(value, 6), "params": values})
        say(f"tune: trial {trial.number}: ROC AUC {value:.4f} ({time.perf_counter() - t0:.1f}s) {values}")
        if on_trial is not None:
            on_trial(trial.number, values, value, rows)
        return value

    study.optimize(run_trial, n_trials=trials, timeout=timeout_s)
    best = study.best_trial
    return {
        "best_value": round(float(best.value or math.nan), 6),
        "baseline_value": history[0]["value"],
        "best_trial": best.number,
        "best_params": {k: _rounded(v) for k, v in best.params.items()},
        "trials": history,
    }


def _rounded(v: Any) -> Any:
    return v if isinstance(v, int) else float(f"{v:.4g}")


def apply_to_params_text(text: str, best: Mapping[str, Any]) -> str:
    """params.yaml text with the `train:` values of `best` replaced, layout and comments kept."""
    out, section, seen = [], None, set()
    for line in text.splitlines(keepends=True):
        top = re.match(r"^([A-Za-z_][\w-]*):", line)
        if top:
            section = top.group(1)
        m = re.match(r"^(\s+)([\w-]+):(\s*)([^#\n]*?)(\s*#.*)?(\n?)$", line)
        if section == "train" and m and m.group(2) in best and len(m.group(1)) == 2:
            key = m.group(2)
            comment = m.group(5) or ""
            out.append(f"{m.group(1)}{key}:{m.group(3) or ' '}{best[key]}{comment}{m.group(6)}")
            seen.add(key)
        else:
            out.append(line)
    missing = sorted(set(best) - seen)
    if missing:
        raise ConfigError(
            f"params.yaml `train:` has no line for {missing}",
            hint="add the keys to the train section (block style), then apply again",
        )
    return "".join(out)


# ---------------------------------------------------------------- I/O edges


def run(p: Params, *, apply: bool = False, trials: int | None = None, log: bool = True) -> dict[str, Any]:
    t = p.tune
    if trials is not None and trials < 1:
        raise ConfigError(f"--trials {trials} is not a number of trials", hint="pass 1 or more")
    path = Path(p.paths.features) / "train.parquet"
    if not path.is_file():
        raise DataError(
            f"tune: the featurized training rows {path} are missing",
            hint="run the pipeline up to featurize first (`dvc repro featurize`)",
        )
    train = pd.read_parquet(path)
    months = sorted(train["partition"].astype(str).unique())
    objective = validation_objective(
        train, months, t.validation_months, t.n_jobs, min_category_count=p.featurize.min_category_count
    )
    n = trials or t.trials
    space = {k: (float(lo), float(hi)) for k, (lo, hi) in t.space.items()}
    timeout = t.timeout_minutes * 60 if t.timeout_minutes else None
    validated = months[-t.validation_months :]
    if log:
        from flightdelay.adapters import tracking

        with tracking.parent_run(
            "tune",
            params={"tune.trials": n, "tune.seed": t.seed, "tune.validation": ",".join(validated)},
        ) as child:
            result = search(
                p.train, space, objective, trials=n, seed=t.seed, timeout_s=timeout, on_trial=child
            )
            child(-1, {f"best.{k}": v for k, v in result["best_params"].items()}, result["best_value"], [])
    else:
        result = search(p.train, space, objective, trials=n, seed=t.seed, timeout_s=timeout)
    result = {"validation_months": validated, "seed": t.seed, **result}
    out = Path(p.paths.tune)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    say(f"tune: {len(result['trials'])} trials written to {out}")
    print(summary(result))  # noqa: T201 - the suggestion is this command's output
    if apply:
        params_file = Path("params.yaml")
        params_file.write_text(apply_to_params_text(params_file.read_text(), result["best_params"]))
        say("tune: params.yaml `train:` updated; run `dvc repro` and open a pull request")
    return result


def summary(result: Mapping[str, Any]) -> str:
    gain = result["best_value"] - result["baseline_value"]
    lines = [
        f"validation ({', '.join(result['validation_months'])}, rolling origin): current params "
        f"{result['baseline_value']:.4f}, best trial {result['best_trial']} {result['best_value']:.4f} "
        f"({gain:+.4f})",
        "suggested params.yaml (`flightdelay tune --apply` writes them; review them in a PR):",
        "train:",
        *(f"  {k}: {v}" for k, v in result["best_params"].items()),
    ]
    return "\n".join(lines)


def _handler(args: argparse.Namespace, p: Params) -> int:
    run(p, apply=args.apply, trials=args.trials, log=not args.no_mlflow)
    return 0


def register(sub: argparse._SubParsersAction, handlers: dict[str, Any]) -> None:  # type: ignore[type-arg]
    t = sub.add_parser(
        "tune", help="TPE search over the train params (time-ordered validation); suggests params"
    )
    t.add_argument("--trials", type=int, help="override tune.trials for this run")
    t.add_argument("--apply", action="store_true", help="write the best params into params.yaml `train:`")
    t.add_argument("--no-mlflow", action="store_true", help="do not log the trials to MLflow")
    handlers["tune"] = _handler
