"""`train` stage: fit the XGBoost model on the training months and log the run to MLflow."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from flightdelay.adapters import gitio, hashing, tracking
from flightdelay.core import features
from flightdelay.core.errors import ConfigError, RegistryError
from flightdelay.core.metrics import ranking_metrics
from flightdelay.core.model import FlightDelayModel, fit_dask, fit_model
from flightdelay.core.params import DaskParams, Params, Paths, TrainParams, Window
from flightdelay.core.progress import say, step


@dataclass(frozen=True)
class TrainConfig:
    """What the stage reads of params.yaml: its section, the category floor of the feature spec
    that the calibration's model of the earlier months fits, and the window (the MLflow run's tag)."""

    train: TrainParams
    min_category_count: int
    window: Window


def config(p: Params) -> TrainConfig:
    return TrainConfig(train=p.train, min_category_count=p.featurize.min_category_count, window=p.data.window)


def fit(cfg: TrainConfig, train: pd.DataFrame, spec: features.FeatureSpec) -> FlightDelayModel:
    return fit_model(train, spec, cfg.train, min_category_count=cfg.min_category_count)


@contextmanager
def dask_client(d: DaskParams) -> Iterator[Any]:
    """A client of the scheduler at `train.dask.scheduler`, or of a LocalCluster sized by
    `train.dask` when it is empty (closed on exit)."""
    from distributed import Client, LocalCluster

    if d.scheduler:
        try:
            client = Client(d.scheduler, timeout=d.connect_timeout_s)
        except OSError as e:
            raise ConfigError(
                f"no Dask scheduler answers at train.dask.scheduler={d.scheduler!r}: {e}",
                hint="start the cluster (deploy/training/ has a DaskCluster), fix the address, "
                "or set it to '' to train on a LocalCluster on this machine",
            ) from e
        with client:
            yield client
        return
    cluster = LocalCluster(
        n_workers=d.n_workers,
        threads_per_worker=d.threads_per_worker,
        memory_limit=d.memory_limit,
        processes=d.processes,
        dashboard_address=None,
    )
    with cluster, Client(cluster) as client:
        yield client


def fit_on_dask(paths: Paths, train: TrainParams, spec: features.FeatureSpec) -> tuple[FlightDelayModel, int]:
    """`train.engine: dask`: the training rows as a Dask DataFrame, trained with xgboost.dask."""
    import dask.dataframe as dd

    path = Path(paths.features) / "train.parquet"
    with dask_client(train.dask) as client:
        frame = dd.read_parquet(path, columns=[*features.INPUT_COLUMNS, "disrupted"])
        frame, workers = spread(client, frame, train.dask.partitions_per_worker)
        rows = int(frame.shape[0].compute())
        with step(f"train: xgboost.dask on {workers} worker(s), {rows:,} rows"):
            return fit_dask(spec, train, frame, client), rows


def spread(client: Any, frame: Any, per_worker: int) -> tuple[Any, int]:
    """`frame` in the workers' memory (split to at least `per_worker` partitions per worker),
    partition i on worker i mod n, and how many workers hold a share. Left to the scheduler, the
    partitions of one file stay on the worker that read it and the others get nothing to train on."""
    import dask.dataframe as dd
    from distributed import futures_of, wait

    workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
    if not workers:
        raise ConfigError("the Dask cluster has no workers", hint="scale its worker group above 0")
    if frame.npartitions < len(workers) * per_worker:
        frame = frame.repartition(npartitions=len(workers) * per_worker)
    parts = [
        client.persist(frame.partitions[i], workers=[workers[i % len(workers)]], allow_other_workers=False)
        for i in range(frame.npartitions)
    ]
    wait(parts)
    holding = {w for part in parts for ws in client.who_has(futures_of(part)).values() for w in ws}
    return dd.concat(parts), len(holding)


@contextmanager
def _saved_model_hint(model_path: Path) -> Iterator[None]:
    """A tracking server that fails after training: say that the model itself is safe."""
    try:
        yield
    except RegistryError as e:
        raise RegistryError(
            f"{e.message} (the model was trained and saved to {model_path}; only its MLflow run is missing)",
            hint=f"{e.hint}; or unset MLFLOW_TRACKING_URI to log to the local file instead",
        ) from e


def run(paths: Paths, cfg: TrainConfig, *, log: bool = True) -> FlightDelayModel:
    t = cfg.train
    fdir = Path(paths.features)
    holdout = pd.read_parquet(fdir / "holdout.parquet")
    spec = features.FeatureSpec.load(paths.feature_spec)
    trees = f"{t.n_estimators} trees, depth {t.max_depth}"
    if t.engine == "dask":
        if t.calibration != "none":
            raise ConfigError(
                f"train.calibration: {t.calibration} is fitted by the local engine only",
                hint="set train.engine: local, or train.calibration: none for a Dask-trained model",
            )
        model, rows = fit_on_dask(paths, t, spec)
        say(f"train: XGBoost {trees}, {rows:,} rows (engine dask)")
    else:
        train = pd.read_parquet(fdir / "train.parquet")
        with step(f"train: XGBoost {trees}, {len(train):,} rows"):
            model = fit(cfg, train, spec)
    out = Path(paths.model)
    out.parent.mkdir(parents=True, exist_ok=True)
    model.classifier.get_booster().save_model(str(out))

    score = model.predict_proba(holdout[list(features.INPUT_COLUMNS)])[:, 1]
    m = ranking_metrics(holdout["disrupted"].to_numpy(), score)  # the threshold is evaluate's
    say(f"train: holdout ROC AUC {m['roc_auc']:.4f}, PR AUC {m['pr_auc']:.4f}")
    if log and not tracking.enabled():
        say(f"train: not logged to MLflow ({tracking.TRACKING_ENV}=off)")
    elif log:
        hashes = hashing.partition_hashes(paths.raw, cfg.window.months)
        tags = {
            "git_sha": gitio.head_sha(),
            "git_dirty": str(gitio.is_dirty()).lower(),
            "dvc.model_md5": hashing.file_md5(out),
            "dvc.data_fingerprint": hashing.data_fingerprint(hashes),
            "window": f"{cfg.window.start}..{cfg.window.end}",
            **{f"dvc.raw.{k}": v for k, v in hashes.items()},
        }
        with step("train: logging run to MLflow"), _saved_model_hint(out):
            run_id = tracking.log_training_run(
                params={f"train.{k}": v for k, v in t.hyperparameters().items()}
                | {"train.engine": t.engine}
                | {"data.window": tags["window"]},
                metrics={f"holdout_{k}": v for k, v in m.items()},
                tags=tags,
                model=model,
                input_example=holdout[list(features.INPUT_COLUMNS)].head(5).reset_index(drop=True),
                artifacts=[Path(paths.feature_spec)],
            )
        say(f"train: MLflow run {run_id} at {tracking.tracking_uri()}")
    return model
