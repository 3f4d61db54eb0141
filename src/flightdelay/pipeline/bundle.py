"""`bundle` stage: the serving bundle (model, feature spec, metadata, manifest) from the pipeline's
outputs. The bundle's format and its reader live in `flightdelay.core.bundle`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from flightdelay.adapters import hashing
from flightdelay.core.bundle import MODEL_NAME, write
from flightdelay.core.params import Params, Paths, TrainParams, Window
from flightdelay.core.progress import say


@dataclass(frozen=True)
class BundleConfig:
    """What the stage writes into metadata.json from params.yaml: the operating threshold
    (`evaluate.threshold`), the training window and the model's hyperparameters (`train`)."""

    threshold: float
    window: Window
    train: TrainParams


def config(p: Params) -> BundleConfig:
    return BundleConfig(threshold=p.evaluate.threshold, window=p.data.window, train=p.train)


def run(paths: Paths, cfg: BundleConfig) -> Path:
    """`bundle` stage: model + spec + metadata (hashes, window, holdout metrics, threshold) +
    the manifest of their sha256."""
    metrics = json.loads(Path(paths.metrics).read_text())
    hashes = hashing.partition_hashes(paths.raw, cfg.window.months)
    metadata = {
        "model_name": MODEL_NAME,
        "model_md5": hashing.file_md5(paths.model),
        "data": {"partitions": hashes, "fingerprint": hashing.data_fingerprint(hashes)},
        "training_window": {"start": cfg.window.start, "end": cfg.window.end},
        "holdout_months": metrics["holdout_months"],
        "metrics": {
            k: v for k, v in metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)
        },
        "threshold": cfg.threshold,
        "params": cfg.train.hyperparameters(),
    }
    out = write(paths.bundle, model=paths.model, spec=paths.feature_spec, metadata=metadata)
    say(f"bundle: {out} (model md5 {metadata['model_md5'][:12]})")
    return out
