"""The champion re-scored on the candidate's holdout: from `--champion-bundle` (a directory or the
release archive) or the registry alias `champion`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flightdelay.adapters import hashing, registry, tracking
from flightdelay.core import bundle, bundle_archive
from flightdelay.core.errors import RegistryError
from flightdelay.core.metrics import classification_metrics, slice_metrics
from flightdelay.core.model import FlightDelayModel, load_classifier
from flightdelay.core.params import Params
from flightdelay.core.progress import say
from flightdelay.pipeline.evaluate import SLICES, score_frame


@dataclass(frozen=True)
class Champion:
    version: str
    bundle_dir: Path
    metrics: dict[str, Any]
    slices: list[dict[str, Any]]
    score: np.ndarray
    model_md5: str = ""


def score_bundle(bundle_dir: Path, holdout: pd.DataFrame) -> tuple[str, float, np.ndarray]:
    """(version, threshold, scores) of a bundle on `holdout`, through the same scoring code."""
    b = bundle.load(bundle_dir)
    model = FlightDelayModel(b.spec, load_classifier(str(b.path / bundle.MODEL_FILE)))
    return b.version, b.threshold, score_frame(model, holdout)


def holdout_metrics(
    holdout: pd.DataFrame, score: np.ndarray, threshold: float, min_slice_rows: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    y = holdout["disrupted"].to_numpy()
    m: dict[str, Any] = {k: round(v, 6) for k, v in classification_metrics(y, score, threshold).items()}
    m["threshold"] = threshold
    m["holdout_months"] = sorted(holdout["partition"].unique().tolist())
    frame = holdout.assign(y=y, score=score)
    slices = [s for by in SLICES for s in slice_metrics(frame, by, threshold, min_slice_rows)]
    return m, slices


CHAMPION_BUNDLE_HINT = (
    "A pull-request check needs no registry: pass --champion-bundle with the champion.tar.gz "
    "asset of the latest model-vN release (or --no-champion to gate on the floors and base only)"
)
NO_CHAMPION_SOURCE = (
    "no champion compared: no --champion-bundle was given and MLFLOW_TRACKING_URI is not set "
    "(the local registry {uri} has no champion), so this candidate is gated on the floors and the "
    "base only; pass --champion-bundle with the champion.tar.gz asset of the latest model-vN release"
)


def champion_dir(source: str, workdir: Path) -> Path:
    """A bundle directory from `--champion-bundle`: the directory itself, or an archive extracted."""
    path = Path(source)
    if path.is_file():
        return bundle_archive.unpack(path, workdir / "champion-bundle")
    return path  # bundle.load says what is wrong with a directory that is not a bundle


def load_champion(
    p: Params, holdout: pd.DataFrame, *, bundle_dir: str | None, use_registry: bool, workdir: Path
) -> tuple[Champion | None, str]:
    """The champion re-scored on the candidate's holdout: `--champion-bundle` (directory or
    archive), else the registry alias `champion`, else None (first release). Second: a warning
    when there is no champion for another reason than "none released yet"."""
    registered: str | None = None
    configured = tracking.is_configured()  # before MLflow runs: set_tracking_uri exports the variable
    if bundle_dir is not None:
        path: Path | None = champion_dir(bundle_dir, workdir)
        say(f"gate: champion from {bundle_dir} (no registry read)")
    elif use_registry:
        say(f"gate: looking up the registry alias `champion` at {registry.redacted_uri()} …")
        try:
            path = registry.alias_bundle("champion", workdir / "champion")
            registered = registry.alias_version("champion") if path is not None else None
        except RegistryError as e:  # fail closed, and name the way that needs no registry
            raise RegistryError(
                f"the champion cannot be read, so the gate cannot compare with it: {e.message}",
                hint=f"{e.hint}. {CHAMPION_BUNDLE_HINT}" if e.hint else CHAMPION_BUNDLE_HINT,
            ) from e
    else:
        return None, ""  # --no-champion: asked for, so a note rather than a warning
    if path is None:
        return None, "" if configured else NO_CHAMPION_SOURCE.format(uri=tracking.tracking_uri())
    version, threshold, score = score_bundle(path, holdout)
    version = registered or version  # the registry's number, also for bundles logged before release
    metrics, slices = holdout_metrics(holdout, score, threshold, p.evaluate.min_slice_rows)
    say(
        f"gate: champion {version} re-scored on {', '.join(metrics['holdout_months'])}: "
        f"ROC AUC {metrics['roc_auc']:.4f}"
    )
    md5 = hashing.file_md5(path / bundle.MODEL_FILE)
    return Champion(version, path, metrics, slices, score, md5), ""
