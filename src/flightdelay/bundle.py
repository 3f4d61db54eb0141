"""The model bundle: everything serving needs (booster, feature spec, metadata) in one directory.

Reading a bundle needs only numpy and xgboost; the serving image never imports the pipeline.
Layout: `model.json` (XGBoost), `feature_spec.json`, `metadata.json` (written by the `bundle`
stage) and, once released, `release.json` (registry name/version, git SHA, image reference).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flightdelay.errors import ModelError
from flightdelay.features import FeatureSpec

MODEL_FILE = "model.json"
SPEC_FILE = "feature_spec.json"
METADATA_FILE = "metadata.json"
RELEASE_FILE = "release.json"
MODEL_NAME = "flight-delay"


@dataclass(frozen=True)
class Bundle:
    path: Path
    booster: Any  # xgboost.Booster
    spec: FeatureSpec
    metadata: dict[str, Any]

    @property
    def release(self) -> dict[str, Any]:
        return dict(self.metadata.get("release") or {})

    @property
    def version(self) -> str:
        v = self.release.get("version")
        return str(v) if v is not None else f"unregistered-{self.metadata['model_md5'][:8]}"

    @property
    def threshold(self) -> float:
        return float(self.metadata["threshold"])


def load(path: str | Path) -> Bundle:
    """Load and check a bundle; every failure says which file is wrong."""
    import xgboost as xgb

    d = Path(path)
    if not d.is_dir():
        raise ModelError(
            f"model bundle {d} does not exist",
            hint="run `dvc repro` (or `dvc pull`) to build models/bundle, or set MODEL_DIR",
        )
    for name in (MODEL_FILE, SPEC_FILE, METADATA_FILE):
        if not (d / name).is_file():
            raise ModelError(f"model bundle {d} has no {name}", hint="rebuild it with `dvc repro bundle`")
    try:
        metadata = json.loads((d / METADATA_FILE).read_text())
        if (d / RELEASE_FILE).is_file():
            metadata["release"] = json.loads((d / RELEASE_FILE).read_text())
        spec = FeatureSpec.load(d / SPEC_FILE)
        booster = xgb.Booster()
        booster.load_model(str(d / MODEL_FILE))
        booster.set_param({"nthread": 1})
    except (ValueError, KeyError, xgb.core.XGBoostError, UnicodeDecodeError) as e:
        raise ModelError(
            f"model bundle {d} is corrupt: {str(e).splitlines()[0][:200]}",
            hint="rebuild it with `dvc repro bundle` or redeploy a known-good image",
        ) from e
    for key in ("model_md5", "threshold"):
        if key not in metadata:
            raise ModelError(f"model bundle {d}: metadata.json lacks {key!r}")
    if booster.num_features() != len(spec.features):
        raise ModelError(
            f"model bundle {d}: the model expects {booster.num_features()} features, "
            f"the feature spec defines {len(spec.features)}"
        )
    return Bundle(path=d, booster=booster, spec=spec, metadata=metadata)


def write(out: str | Path, *, model: str | Path, spec: str | Path, metadata: dict[str, Any]) -> Path:
    """Assemble a bundle atomically (build in a sibling temp dir, then rename)."""
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    shutil.copyfile(model, tmp / MODEL_FILE)
    shutil.copyfile(spec, tmp / SPEC_FILE)
    (tmp / METADATA_FILE).write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def run(p: Any) -> Path:
    """`bundle` stage: model + spec + metadata (hashes, window, holdout metrics, threshold)."""
    from flightdelay import hashing
    from flightdelay.progress import say

    metrics = json.loads(Path(p.paths.metrics).read_text())
    hashes = hashing.partition_hashes(p.paths.raw, p.window_months)
    metadata = {
        "model_name": MODEL_NAME,
        "model_md5": hashing.file_md5(p.paths.model),
        "data": {"partitions": hashes, "fingerprint": hashing.data_fingerprint(hashes)},
        "training_window": {"start": p.data.window.start, "end": p.data.window.end},
        "holdout_months": metrics["holdout_months"],
        "metrics": {k: v for k, v in metrics.items() if isinstance(v, int | float)},
        "threshold": p.evaluate.threshold,
        "params": p.train.model_dump(),
    }
    out = write(p.paths.bundle, model=p.paths.model, spec=p.paths.feature_spec, metadata=metadata)
    say(f"bundle: {out} (model md5 {metadata['model_md5'][:12]})")
    return out
