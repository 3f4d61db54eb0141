"""MLflow adapter: the one module that imports mlflow for tracking (the registry lives in registry.py)."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DEFAULT_URI = "sqlite:///mlflow.db"
EXPERIMENT = "flightdelay"


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI", "").strip() or DEFAULT_URI


def is_configured() -> bool:
    """True when MLFLOW_TRACKING_URI names a registry (rather than the local default file)."""
    return bool(os.environ.get("MLFLOW_TRACKING_URI", "").strip())


TRACKING_ENV = "FLIGHTDELAY_TRACKING"


def enabled() -> bool:
    """False when FLIGHTDELAY_TRACKING=off: a run nobody keeps (a pull request's runner is thrown
    away, with the local MLflow file it would log to) skips the logging and its cost."""
    value = os.environ.get(TRACKING_ENV, "on").strip().lower()
    if value not in ("on", "off", ""):
        from flightdelay.core.errors import ConfigError

        raise ConfigError(
            f"{TRACKING_ENV}={value!r} is not one of on, off", hint=f"unset {TRACKING_ENV} or set it to off"
        )
    return value != "off"


def pip_requirements() -> list[str]:
    """Pinned requirements of the logged model, read from the environment (MLflow's own
    inference imports and inspects every module and costs seconds per run)."""
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for dist in (
        "numpy",
        "pandas",
        "scikit-learn",
        "xgboost-cpu",
        "pydantic",
        "pyyaml",
        "cloudpickle",
    ):
        try:
            out.append(f"{dist}=={version(dist)}")
        except PackageNotFoundError:
            continue
    return out


def _mlflow() -> Any:
    import logging
    import warnings

    import mlflow

    warnings.filterwarnings("ignore", message=".*(cloudpickle|skops|Integer columns).*")
    warnings.filterwarnings("ignore", category=UserWarning, module="mlflow.types.utils")

    # MLflow logs alembic migrations and artifact warnings at INFO; keep stage output readable.
    for name in ("alembic", "mlflow"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # The pickle-format warning is about loading untrusted files; our models come from our registry.
    logging.getLogger("mlflow.sklearn").setLevel(logging.ERROR)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # no bars in CI logs
    mlflow.set_tracking_uri(tracking_uri())
    return mlflow


def log_training_run(
    *,
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    tags: Mapping[str, str],
    model: Any,
    input_example: Any,
    artifacts: list[Path],
) -> str:
    """Log one training run (params, metrics, tags, the sklearn-compatible model); returns run id.
    A tracking server that cannot be used raises RegistryError (what failed, what to do)."""
    with _server_errors("log the training run to"):
        mlflow = _mlflow()
        from mlflow.models import infer_signature

        mlflow.set_experiment(os.environ.get("MLFLOW_EXPERIMENT_NAME", EXPERIMENT))
        with mlflow.start_run(run_name=tags.get("window", "train")) as run:
            mlflow.log_params(dict(params))
            mlflow.log_metrics({k: float(v) for k, v in metrics.items() if not math.isnan(v)})
            mlflow.set_tags(dict(tags))
            signature = infer_signature(input_example, model.predict_proba(input_example)[:, 1])
            mlflow.sklearn.log_model(
                model,
                name="model",
                signature=signature,
                input_example=input_example,
                serialization_format="cloudpickle",
                pyfunc_predict_fn="predict_proba",
                pip_requirements=pip_requirements(),
            )
            for a in artifacts:
                if a.exists():
                    mlflow.log_artifact(str(a))
            return str(run.info.run_id)


@contextmanager
def _server_errors(action: str) -> Iterator[None]:
    try:
        yield
    except Exception as e:  # MLflow raises MlflowException, requests and OS errors alike
        from flightdelay.adapters import registry

        raise registry.unreadable(e, action) from e


@contextmanager
def parent_run(name: str, *, params: Mapping[str, Any]) -> Iterator[Callable[..., None]]:
    """One parent run; the yielded `child(number, params, value, rows)` logs a nested run under it
    (a search's trials). A tracking server that cannot be used raises RegistryError; errors of the
    work inside pass through unchanged."""
    with _server_errors(f"log the {name} runs to"):
        mlflow = _mlflow()
        mlflow.set_experiment(os.environ.get("MLFLOW_EXPERIMENT_NAME", EXPERIMENT))
        parent = mlflow.start_run(run_name=name)
        mlflow.log_params(dict(params))

    def child(number: int, values: Mapping[str, Any], value: float, rows: list[dict[str, Any]]) -> None:
        metrics = {"roc_auc": value} | {f"roc_auc_{r['month']}": r["roc_auc"] for r in rows}
        with (
            _server_errors(f"log the {name} runs to"),
            mlflow.start_run(
                run_name="best" if number < 0 else f"trial-{number}",
                nested=True,
                parent_run_id=parent.info.run_id,
            ),
        ):
            mlflow.log_params(dict(values))
            mlflow.log_metrics({k: float(v) for k, v in metrics.items() if not math.isnan(float(v))})

    try:
        yield child
    finally:
        mlflow.end_run()
