"""The model bundle: everything serving needs (booster, feature spec, metadata) in one directory.

Reading a bundle needs only numpy, pydantic and xgboost; the serving image never imports the
pipeline. Layout, each JSON file with one pydantic model that `load` validates:

| file | model | written by |
|---|---|---|
| `model.json` | XGBoost's own format, hashed | `bundle` stage (copy of `paths.model`) |
| `feature_spec.json` | `SpecFile` | `bundle` stage (copy of `paths.feature_spec`) |
| `metadata.json` | `Metadata` | `bundle` stage |
| `manifest.json` | `Manifest`: sha256 of the three files above | `bundle` stage |
| `release.json` | `ReleaseFile` | release, once released |

`load` refuses a bundle whose files do not match the manifest or whose `model.json` is not the
md5 the metadata names, so what `/v1/model` reports is what scores. A bundle from before the
manifest loads for the pipeline's readers (`require_manifest=False`); serving requires it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from flightdelay.core.calibration import ATTR as CALIBRATION_ATTR
from flightdelay.core.calibration import Calibration
from flightdelay.core.errors import ModelError
from flightdelay.core.features import CATEGORICAL, FeatureSpec, check_features

MODEL_FILE = "model.json"
SPEC_FILE = "feature_spec.json"
METADATA_FILE = "metadata.json"
MANIFEST_FILE = "manifest.json"
RELEASE_FILE = "release.json"
HASHED_FILES = (MODEL_FILE, SPEC_FILE, METADATA_FILE)
MODEL_NAME = "flight-delay"
MANIFEST_VERSION = 1
_MD5 = r"^[0-9a-f]{32}$"
_SHA256 = r"^[0-9a-f]{64}$"
M = TypeVar("M", bound=BaseModel)
_REBUILD = "rebuild it with `dvc repro bundle`, or redeploy a known-good image"


class _Strict(BaseModel):
    # strict: a string is not a number, `false` is not a float, null is not a threshold
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Window(_Strict):
    start: str
    end: str


class Metadata(_Strict):
    """metadata.json."""

    model_name: str = MODEL_NAME
    model_md5: str = Field(pattern=_MD5)
    threshold: float = Field(ge=0.0, le=1.0, allow_inf_nan=False)
    training_window: Window | None = None
    holdout_months: list[str] | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    data: dict[str, Any] | None = None
    params: dict[str, Any] | None = None


class SpecFile(_Strict):
    """feature_spec.json (the JSON form of `features.FeatureSpec`)."""

    version: int
    features: list[str]
    categories: dict[str, dict[str, float]]
    meta: dict[str, Any] = Field(default_factory=dict)


class Manifest(_Strict):
    """manifest.json: the sha256 of every file the `bundle` stage wrote."""

    version: int = MANIFEST_VERSION
    algorithm: str = "sha256"
    files: dict[str, str]


class ReleaseFile(_Strict):
    """release.json. Unknown keys are kept: the release step owns this file and may add facts."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True)

    version: str = Field(min_length=1)
    name: str | None = None
    git_tag: str | None = None
    git_sha: str | None = None
    image: str | None = None
    model_md5: str | None = Field(None, pattern=_MD5)
    released_at: str | None = None
    pr: str | None = None
    data_fingerprint: str | None = None


@dataclass(frozen=True)
class Bundle:
    path: Path
    booster: Any  # xgboost.Booster
    spec: FeatureSpec
    meta: Metadata
    release_info: ReleaseFile | None = None
    # carried in model.json; the identity for a model from before calibration
    calibration: Calibration = field(default_factory=Calibration)

    @property
    def metadata(self) -> dict[str, Any]:
        """metadata.json as a dict (with `release` once released), for reports and /v1/model."""
        d = self.meta.model_dump(mode="json", exclude_none=True)
        if self.release_info is not None:
            d["release"] = self.release_info.model_dump(mode="json")
        return d

    @property
    def release(self) -> dict[str, Any]:
        return self.release_info.model_dump(mode="json") if self.release_info else {}

    @property
    def version(self) -> str:
        if self.release_info is not None:
            return self.release_info.version
        return f"unregistered-{self.meta.model_md5[:8]}"

    @property
    def threshold(self) -> float:
        return self.meta.threshold


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def _problems(e: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '(the document)'}: {err['msg']}" for err in e.errors()
    )


def _read(d: Path, name: str, model: type[M]) -> M:
    """One bundle file validated against its model; the error names the file and the field."""
    try:
        return model.model_validate_json((d / name).read_bytes())
    except ValidationError as e:
        raise ModelError(f"model bundle {d}: {name} is invalid: {_problems(e)}", hint=_REBUILD) from e
    except OSError as e:
        raise ModelError(f"model bundle {d}: {name} cannot be read: {e}", hint=_REBUILD) from e


def _spec(d: Path, f: SpecFile) -> FeatureSpec:
    where = f"model bundle {d}: {SPEC_FILE}"
    # An older version (its own feature list) is scored as it was; an unknown one is refused.
    try:
        names = check_features(f.version, f.features)
    except ValueError as e:
        raise ModelError(f"{where}: {e}", hint=_REBUILD) from e
    if set(f.categories) != set(CATEGORICAL):
        raise ModelError(
            f"{where}: categories has {sorted(f.categories)}, expected {sorted(CATEGORICAL)}", hint=_REBUILD
        )
    return FeatureSpec(
        categories={k: dict(v) for k, v in f.categories.items()},
        features=names,
        version=f.version,
        meta=dict(f.meta),
    )


def verify_files(d: Path, *, require_manifest: bool) -> Metadata:
    """The bundle's files against its own hashes: the manifest (sha256 of each file) and the
    model md5 in metadata.json. Returns the validated metadata."""
    for name in HASHED_FILES:
        if not (d / name).is_file():
            raise ModelError(f"model bundle {d} has no {name}", hint=_REBUILD)
    if (d / MANIFEST_FILE).is_file():
        manifest = _read(d, MANIFEST_FILE, Manifest)
        if manifest.algorithm != "sha256" or set(manifest.files) != set(HASHED_FILES):
            raise ModelError(
                f"model bundle {d}: {MANIFEST_FILE} must list the sha256 of exactly "
                f"{', '.join(HASHED_FILES)} (it lists {manifest.algorithm} of {sorted(manifest.files)})",
                hint=_REBUILD,
            )
        for name, expected in manifest.files.items():
            actual = sha256(d / name)
            if actual != expected:
                raise ModelError(
                    f"model bundle {d}: {name} has sha256 {actual[:12]}…, {MANIFEST_FILE} records "
                    f"{expected[:12]}…: the file was changed after the bundle was built",
                    hint=_REBUILD,
                )
    elif require_manifest:
        raise ModelError(f"model bundle {d} has no {MANIFEST_FILE}", hint=_REBUILD)
    meta = _read(d, METADATA_FILE, Metadata)
    actual_md5 = _md5(d / MODEL_FILE)
    if actual_md5 != meta.model_md5:
        raise ModelError(
            f"model bundle {d}: {MODEL_FILE} has md5 {actual_md5}, {METADATA_FILE} field model_md5 "
            f"names {meta.model_md5}: this is not the model the metadata describes",
            hint=_REBUILD,
        )
    return meta


def load(path: str | Path, *, require_manifest: bool = False) -> Bundle:
    """Load and check a bundle; every failure is a ModelError naming the file (and field)."""
    import xgboost as xgb

    d = Path(path)
    if not d.is_dir():
        raise ModelError(
            f"model bundle {d} does not exist",
            hint="run `dvc repro` (or `dvc pull`) to build models/bundle, or set MODEL_DIR",
        )
    meta = verify_files(d, require_manifest=require_manifest)
    spec = _spec(d, _read(d, SPEC_FILE, SpecFile))
    release = _read(d, RELEASE_FILE, ReleaseFile) if (d / RELEASE_FILE).exists() else None
    if release is not None and release.model_md5 not in (None, meta.model_md5):
        raise ModelError(
            f"model bundle {d}: {RELEASE_FILE} field model_md5 is {release.model_md5}, "
            f"{METADATA_FILE} names {meta.model_md5}: the release describes another model",
            hint=_REBUILD,
        )
    try:
        booster = xgb.Booster()
        booster.load_model(str(d / MODEL_FILE))
        booster.set_param({"nthread": 1})
    except (ValueError, xgb.core.XGBoostError) as e:
        raise ModelError(
            f"model bundle {d}: {MODEL_FILE} is corrupt: {str(e).splitlines()[0][:200]}", hint=_REBUILD
        ) from e
    if booster.num_features() != len(spec.features):
        raise ModelError(
            f"model bundle {d}: {MODEL_FILE} expects {booster.num_features()} features, "
            f"{SPEC_FILE} defines {len(spec.features)}",
            hint=_REBUILD,
        )
    try:
        calibration = Calibration.from_json(booster.attr(CALIBRATION_ATTR))
    except ValueError as e:
        raise ModelError(
            f"model bundle {d}: {MODEL_FILE} attribute {CALIBRATION_ATTR} is invalid: {e}", hint=_REBUILD
        ) from e
    return Bundle(
        path=d, booster=booster, spec=spec, meta=meta, release_info=release, calibration=calibration
    )


def manifest_of(d: Path) -> Manifest:
    return Manifest(files={name: sha256(d / name) for name in HASHED_FILES})


def write(out: str | Path, *, model: str | Path, spec: str | Path, metadata: dict[str, Any]) -> Path:
    """Assemble a bundle atomically (build in a sibling temp dir, then rename). The metadata is
    validated first, so the pipeline can never write a bundle that serving would refuse."""
    try:
        meta = Metadata.model_validate(metadata)
    except ValidationError as e:
        raise ModelError(f"bundle metadata is invalid: {_problems(e)}", hint="fix the bundle stage") from e
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    shutil.copyfile(model, tmp / MODEL_FILE)
    shutil.copyfile(spec, tmp / SPEC_FILE)
    doc = meta.model_dump(mode="json", exclude_none=True)
    (tmp / METADATA_FILE).write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    (tmp / MANIFEST_FILE).write_text(manifest_of(tmp).model_dump_json(indent=2) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out
