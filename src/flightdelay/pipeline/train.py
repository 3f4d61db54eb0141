"""`train` stage: fit the XGBoost model on the training months and log the run to MLflow."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from flightdelay.adapters import gitio, hashing, tracking
from flightdelay.core import features
from flightdelay.core.errors import ConfigError, RegistryError
from flightdelay.core.metrics import ranking_metrics
from flightdelay.core.model import FlightDelayModel, fit_dask, fit_model
from flightdelay.core.params import DaskParams, Params
from flightdelay.core.progress import say, step


def fit(p: Params, train: pd.DataFrame, spec: features.FeatureSpec) -> FlightDelayModel:
    return fit_model(train, spec, p.train, min_category_count=p.featurize.min_category_count)


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


def fit_on_dask(p: Params, spec: features.FeatureSpec) -> tuple[FlightDelayModel, int]:
    """`train.engine: dask`: the training rows as a Dask DataFrame, trained with xgboost.dask."""
    import dask.dataframe as dd

    path = Path(p.paths.features) / "train.parquet"
    with dask_client(p.train.dask) as client:
        frame = dd.read_parquet(path, columns=[*features.INPUT_COLUMNS, "disrupted"])
        frame, workers = spread(client, frame, p.train.dask.partitions_per_worker)
        rows = int(frame.shape[0].compute())
        with step(f"train: xgboost.dask on {workers} worker(s), {rows:,} rows"):
            return fit_dask(spec, p.train, frame, client), rows


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


def run(p: Params, *, log: bool = True) -> FlightDelayModel:
    fdir = Path(p.paths.features)
    holdout = pd.read_parquet(fdir / "holdout.parquet")
    spec = features.FeatureSpec.load(p.paths.feature_spec)
    trees = f"{p.train.n_estimators} trees, depth {p.train.max_depth}"
    if p.train.engine == "dask":
        if p.train.calibration != "none":
            raise ConfigError(
                f"train.calibration: {p.train.calibration} is fitted by the local engine only",
                hint="set train.engine: local, or train.calibration: none for a Dask-trained model",
            )
        model, rows = fit_on_dask(p, spec)
        say(f"train: XGBoost {trees}, {rows:,} rows (engine dask)")
    else:
        train = pd.read_parquet(fdir / "train.parquet")
        with step(f"train: XGBoost {trees}, {len(train):,} rows"):
            model = fit(p, train, spec)
    out = Path(p.paths.model)
    out.parent.mkdir(parents=True, exist_ok=True)
    model.classifier.get_booster().save_model(str(out))

    score = model.predict_proba(holdout[list(features.INPUT_COLUMNS)])[:, 1]
    m = ranking_metrics(holdout["disrupted"].to_numpy(), score)  # the threshold is evaluate's
    say(f"train: holdout ROC AUC {m['roc_auc']:.4f}, PR AUC {m['pr_auc']:.4f}")
    if log and not tracking.enabled():
        say(f"train: not logged to MLflow ({tracking.TRACKING_ENV}=off)")
    elif log:
        hashes = hashing.partition_hashes(p.paths.raw, p.window_months)
        tags = {
            "git_sha": gitio.head_sha(),
            "git_dirty": str(gitio.is_dirty()).lower(),
            "dvc.model_md5": hashing.file_md5(out),
            "dvc.data_fingerprint": hashing.data_fingerprint(hashes),
            "window": f"{p.data.window.start}..{p.data.window.end}",
            **{f"dvc.raw.{k}": v for k, v in hashes.items()},
        }
        with step("train: logging run to MLflow"), _saved_model_hint(out):
            run_id = tracking.log_training_run(
                params={f"train.{k}": v for k, v in p.train.hyperparameters().items()}
                | {"train.engine": p.train.engine}
                | {"data.window": tags["window"]},
                metrics={f"holdout_{k}": v for k, v in m.items()},
                tags=tags,
                model=model,
                input_example=holdout[list(features.INPUT_COLUMNS)].head(5).reset_index(drop=True),
                artifacts=[Path(p.paths.feature_spec)],
            )
        say(f"train: MLflow run {run_id} at {tracking.tracking_uri()}")
    return model
