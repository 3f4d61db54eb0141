"""MLflow registry adapter: register a model bundle, move aliases, and fetch a bundle back.

A registered version is an MLflow run holding (a) the sklearn-compatible model built from the
bundle, so `mlflow models serve models:/flight-delay@champion` works, and (b) the bundle itself
under the artifact path `bundle/`, which is what the image bakes and the gate re-scores.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flightdelay import tracking
from flightdelay.bundle import MODEL_NAME
from flightdelay.errors import RegistryError

BUNDLE_ARTIFACT = "bundle"


def client() -> Any:
    mlflow = tracking._mlflow()
    return mlflow.tracking.MlflowClient()


def _registered(c: Any) -> bool:
    from mlflow.exceptions import MlflowException

    try:
        c.get_registered_model(MODEL_NAME)
    except MlflowException:
        return False
    return True


def register_bundle(bundle_dir: str | Path, *, tags: Mapping[str, str], run_name: str = "release") -> str:
    """Log the bundle as a new model version; returns the version number (as a string)."""
    from flightdelay import bundle as bundle_mod
    from flightdelay.model import FlightDelayModel

    mlflow = tracking._mlflow()
    b = bundle_mod.load(bundle_dir)
    from xgboost import XGBClassifier

    clf = XGBClassifier()
    clf.load_model(str(Path(bundle_dir) / bundle_mod.MODEL_FILE))
    model = FlightDelayModel(b.spec, clf)
    mlflow.set_experiment("flightdelay-releases")
    try:
        with mlflow.start_run(run_name=run_name) as run:
            mlflow.set_tags(dict(tags))
            mlflow.log_artifacts(str(bundle_dir), artifact_path=BUNDLE_ARTIFACT)
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                serialization_format="cloudpickle",
                pyfunc_predict_fn="predict_proba",
            )
            mv = mlflow.register_model(info.model_uri, MODEL_NAME, tags=dict(tags))
            # The run id links the version to its bundle artifacts.
            c = client()
            c.set_model_version_tag(MODEL_NAME, mv.version, "bundle_run_id", run.info.run_id)
    except Exception as e:  # MLflow raises many types; the CLI boundary needs one
        raise RegistryError(
            f"registering the bundle in MLflow failed: {e}",
            hint=f"check MLFLOW_TRACKING_URI ({tracking.tracking_uri()})",
        ) from e
    return str(mv.version)


def alias_version(alias: str) -> str | None:
    from mlflow.exceptions import MlflowException

    c = client()
    try:
        return str(c.get_model_version_by_alias(MODEL_NAME, alias).version)
    except MlflowException:
        return None


def set_alias(alias: str, version: str) -> None:
    client().set_registered_model_alias(MODEL_NAME, alias, str(version))


def delete_alias(alias: str) -> None:
    from mlflow.exceptions import MlflowException

    # Deleting an alias that is not there leaves the state we want.
    with contextlib.suppress(MlflowException):
        client().delete_registered_model_alias(MODEL_NAME, alias)


def version_tags(version: str) -> dict[str, str]:
    return dict(client().get_model_version(MODEL_NAME, str(version)).tags)


def set_version_tags(version: str, tags: Mapping[str, str]) -> None:
    c = client()
    for k, v in tags.items():
        c.set_model_version_tag(MODEL_NAME, str(version), k, str(v))


def versions() -> list[dict[str, Any]]:
    """Every version, oldest first, with its aliases and tags."""
    c = client()
    if not _registered(c):
        return []
    out = []
    for mv in c.search_model_versions(f"name='{MODEL_NAME}'"):
        out.append(
            {
                "version": str(mv.version),
                "aliases": list(mv.aliases or []),
                "tags": dict(mv.tags),
                "created": int(mv.creation_timestamp),
            }
        )
    return sorted(out, key=lambda v: int(v["version"]))


def download_bundle(version: str, dest: str | Path) -> Path:
    """Fetch the bundle of a registered version into `dest` (replaced)."""
    mlflow = tracking._mlflow()
    tags = version_tags(version)
    run_id = tags.get("bundle_run_id") or client().get_model_version(MODEL_NAME, str(version)).run_id
    dest = Path(dest)
    shutil.rmtree(dest, ignore_errors=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(
        mlflow.artifacts.download_artifacts(
            run_id=run_id,
            artifact_path=BUNDLE_ARTIFACT,
            dst_path=str(dest.parent / f".{dest.name}.dl"),
        )
    )
    tmp.rename(dest)
    shutil.rmtree(dest.parent / f".{dest.name}.dl", ignore_errors=True)
    return dest


def alias_bundle(alias: str, dest: str | Path) -> Path | None:
    """The bundle behind an alias (e.g. the released `champion`), or None when there is none yet."""
    c = client()
    if not _registered(c):
        return None
    v = alias_version(alias)
    return None if v is None else download_bundle(v, dest)
