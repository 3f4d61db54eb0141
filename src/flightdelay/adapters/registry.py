"""MLflow registry adapter: register a model bundle, move aliases, and fetch a bundle back.

mlflow is imported inside the functions: importing it costs seconds, and most CLI commands
never need it.

A registered version is an MLflow run holding (a) the sklearn-compatible model built from the
bundle, so `mlflow models serve models:/flight-delay@champion` works, and (b) the bundle itself
under the artifact path `bundle/`, which is what the image bakes and the gate re-scores.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from flightdelay.adapters import registry_errors, tracking
from flightdelay.core.bundle import MODEL_NAME
from flightdelay.core.errors import FlightDelayError

BUNDLE_ARTIFACT = "bundle"
NOT_FOUND = "RESOURCE_DOES_NOT_EXIST"
# Registry errors in words (registry_errors.py), also reached as `registry.<name>`.
unreadable = registry_errors.unreadable
redacted_uri = registry_errors.redacted_uri
_guarded = registry_errors.guarded


def client() -> Any:
    mlflow = tracking._mlflow()
    return mlflow.tracking.MlflowClient()


def _model(c: Any) -> Any | None:
    """The registered model, or None when it genuinely does not exist yet (nothing released);
    any other failure propagates (see `_guarded`)."""
    from mlflow.exceptions import MlflowException

    try:
        return c.get_registered_model(MODEL_NAME)
    except MlflowException as e:
        if getattr(e, "error_code", None) == NOT_FOUND:
            return None
        raise


def _registered(c: Any) -> bool:
    return _model(c) is not None


@contextlib.contextmanager
def _absent_ok() -> Iterator[None]:
    """Inside: a missing model/alias is the state we want (deleting what is not there)."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as e:
        if getattr(e, "error_code", None) not in (NOT_FOUND, "INVALID_PARAMETER_VALUE"):
            raise


# What loading the logged model needs. Listing it skips MLflow's requirement inference, which
# re-imports the model in a subprocess (seconds per release) and misses `xgboost-cpu`.
MODEL_DISTRIBUTIONS = (
    "flightdelay",
    "xgboost-cpu",
    "scikit-learn",
    "pandas",
    "numpy",
    "scipy",
    "cloudpickle",
    "mlflow",
)


def model_requirements() -> list[str]:
    """Pinned requirements of the logged model, from the running environment."""
    out = []
    for dist in MODEL_DISTRIBUTIONS:
        try:
            out.append(f"{dist}=={metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            continue  # e.g. plain `xgboost` instead of `xgboost-cpu`
    return out


def register_bundle(bundle_dir: str | Path, *, tags: Mapping[str, str], run_name: str = "release") -> str:
    """Log the bundle as a new model version; returns the version number (as a string)."""
    from flightdelay.core import bundle as bundle_mod
    from flightdelay.core.model import FlightDelayModel

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
                pip_requirements=model_requirements(),
            )
            mv = mlflow.register_model(info.model_uri, MODEL_NAME, tags=dict(tags))
            # The run id links the version to its bundle artifacts.
            c = client()
            c.set_model_version_tag(MODEL_NAME, mv.version, "bundle_run_id", run.info.run_id)
    except FlightDelayError:  # e.g. Interrupted: a signal, not a registry failure
        raise
    except Exception as e:  # MLflow raises many types; the CLI boundary needs one
        raise unreadable(e, "register the bundle in") from e
    return str(mv.version)


@_guarded("read")
def alias_version(alias: str) -> str | None:
    """The version an alias names; None when the model or the alias does not exist."""
    model = _model(client())
    if model is None:
        return None
    v = (model.aliases or {}).get(alias)
    return None if v is None else str(v)


@_guarded("write to")
def set_alias(alias: str, version: str) -> None:
    client().set_registered_model_alias(MODEL_NAME, alias, str(version))


@_guarded("write to")
def delete_alias(alias: str) -> None:
    with _absent_ok():
        client().delete_registered_model_alias(MODEL_NAME, alias)


@_guarded("read")
def version_tags(version: str) -> dict[str, str]:
    return dict(client().get_model_version(MODEL_NAME, str(version)).tags)


@_guarded("write to")
def set_version_tags(version: str, tags: Mapping[str, str]) -> None:
    c = client()
    for k, v in tags.items():
        c.set_model_version_tag(MODEL_NAME, str(version), k, str(v))


@_guarded("read")
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


@_guarded("read")
def find_versions(**tags: str) -> list[str]:
    """Versions whose tags all equal the given values (oldest first)."""
    c = client()
    if not _registered(c):
        return []
    query = " and ".join([f"name='{MODEL_NAME}'", *(f"tags.{k}='{v}'" for k, v in tags.items())])
    return sorted((str(mv.version) for mv in c.search_model_versions(query)), key=int)


def append_tag(version: str, key: str, value: str) -> None:
    """Add `value` to a space-separated history tag (e.g. deployed_production_at timestamps)."""
    old = version_tags(version).get(key, "").split()
    set_version_tags(version, {key: " ".join([*old, value])})


def append_tag_once(version: str, key: str, value: str) -> None:
    """`append_tag` unless `value` is already there (a resumed release repeats its steps)."""
    if value not in version_tags(version).get(key, "").split():
        append_tag(version, key, value)


@_guarded("write to")
def delete_version(version: str) -> None:
    """Remove a version (used only to undo a release that failed half-way)."""
    client().delete_model_version(MODEL_NAME, str(version))


@_guarded("write to")
def log_bundle_file(version: str, path: str | Path) -> None:
    """Add a file (release.json) to the version's `bundle/` artifacts, so a download is complete."""
    run_id = (
        version_tags(version).get("bundle_run_id")
        or client().get_model_version(MODEL_NAME, str(version)).run_id
    )
    client().log_artifact(run_id, str(path), artifact_path=BUNDLE_ARTIFACT)


@_guarded("read")
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


@_guarded("read")
def alias_bundle(alias: str, dest: str | Path) -> Path | None:
    """The bundle behind an alias (e.g. the released `champion`), or None when there is none yet.
    A registry that cannot be read raises RegistryError: "no champion" must mean there is none."""
    v = alias_version(alias)
    return None if v is None else download_bundle(v, dest)
