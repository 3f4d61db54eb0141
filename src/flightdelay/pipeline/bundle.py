"""`bundle` stage: the serving bundle (model, feature spec, metadata, manifest) from the pipeline's
outputs. The bundle's format and its reader live in `flightdelay.core.bundle`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flightdelay.adapters import hashing
from flightdelay.core.bundle import MODEL_NAME, write
from flightdelay.core.progress import say


def run(p: Any) -> Path:
    """`bundle` stage: model + spec + metadata (hashes, window, holdout metrics, threshold) +
    the manifest of their sha256."""
    metrics = json.loads(Path(p.paths.metrics).read_text())
    hashes = hashing.partition_hashes(p.paths.raw, p.window_months)
    metadata = {
        "model_name": MODEL_NAME,
        "model_md5": hashing.file_md5(p.paths.model),
        "data": {"partitions": hashes, "fingerprint": hashing.data_fingerprint(hashes)},
        "training_window": {"start": p.data.window.start, "end": p.data.window.end},
        "holdout_months": metrics["holdout_months"],
        "metrics": {
            k: v for k, v in metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)
        },
        "threshold": p.evaluate.threshold,
        "params": p.train.hyperparameters(),
    }
    out = write(p.paths.bundle, model=p.paths.model, spec=p.paths.feature_spec, metadata=metadata)
    say(f"bundle: {out} (model md5 {metadata['model_md5'][:12]})")
    return out
