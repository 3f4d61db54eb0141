"""`train` stage: fit the XGBoost model on the training months and log the run to MLflow."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from flightdelay import features, gitio, hashing, tracking
from flightdelay.errors import RegistryError
from flightdelay.metrics import classification_metrics
from flightdelay.model import FlightDelayModel, make_classifier
from flightdelay.params import Params
from flightdelay.progress import say, step


def fit(p: Params, train: pd.DataFrame, spec: features.FeatureSpec) -> FlightDelayModel:
    model = FlightDelayModel(spec, make_classifier(p.train))
    return model.fit(train[list(features.INPUT_COLUMNS)], train["disrupted"].to_numpy())


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
    train = pd.read_parquet(fdir / "train.parquet")
    holdout = pd.read_parquet(fdir / "holdout.parquet")
    spec = features.FeatureSpec.load(p.paths.feature_spec)
    with step(f"train: XGBoost {p.train.n_estimators} trees, depth {p.train.max_depth}, {len(train):,} rows"):
        model = fit(p, train, spec)
    out = Path(p.paths.model)
    out.parent.mkdir(parents=True, exist_ok=True)
    model.classifier.get_booster().save_model(str(out))

    score = model.predict_proba(holdout[list(features.INPUT_COLUMNS)])[:, 1]
    m = classification_metrics(holdout["disrupted"].to_numpy(), score, p.evaluate.threshold)
    say(f"train: holdout ROC AUC {m['roc_auc']:.4f}, PR AUC {m['pr_auc']:.4f}")
    if log:
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
                params={f"train.{k}": v for k, v in p.train.model_dump().items()}
                | {"evaluate.threshold": p.evaluate.threshold, "data.window": tags["window"]},
                metrics={f"holdout_{k}": v for k, v in m.items()},
                tags=tags,
                model=model,
                input_example=holdout[list(features.INPUT_COLUMNS)].head(5).reset_index(drop=True),
                artifacts=[Path(p.paths.feature_spec)],
            )
        say(f"train: MLflow run {run_id} at {tracking.tracking_uri()}")
    return model
