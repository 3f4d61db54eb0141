"""API fixtures: small real bundles (no pipeline needed), in-process and gunicorn clients."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api import ckernel
from api.main import create_app
from api.schemas import EXAMPLE_FLIGHT
from api.settings import Settings
from flightdelay.core import bundle
from flightdelay.core.calibration import ATTR as CALIBRATION_ATTR
from flightdelay.core.calibration import Calibration
from flightdelay.core.features import FEATURES_BY_VERSION, SPEC_VERSION, FeatureSpec
from tests.api.server import ADMIN_TOKEN, Gunicorn

CARRIERS = ["9E", "AA", "B6", "DL", "EV", "MQ", "UA", "US", "WN"]
DESTS = ["ATL", "BOS", "CLT", "LAX", "MCO", "ORD", "SFO"]


def make_bundle(
    dest: Path,
    seed: int,
    n_trees: int = 20,
    *,
    version: int = SPEC_VERSION,
    calibration: Calibration | None = None,
    metrics: dict[str, float] | None = None,
) -> Path:
    """A real bundle (XGBoost model + feature spec + metadata) trained on synthetic rows; `version`
    makes the feature spec of an older release, `calibration` stores a map in the model file,
    `metrics` are the release's holdout figures (default: ROC AUC 0.7 only)."""
    import xgboost as xgb

    rng = np.random.default_rng(seed)
    names = FEATURES_BY_VERSION[version]
    spec = FeatureSpec(
        categories={
            "carrier": {c: float(i) for i, c in enumerate(CARRIERS)},
            "origin": {"EWR": 0.0, "JFK": 1.0, "LGA": 2.0},
            "dest": {d: float(i) for i, d in enumerate(DESTS)},
        },
        features=names,
        version=version,
    )
    x = rng.normal(size=(2000, len(names))).astype(np.float32)
    x[rng.random(x.shape) < 0.1] = np.nan
    y = (np.nan_to_num(x[:, 0]) + rng.normal(size=2000) > 0.5).astype(np.float32)
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 3, "seed": seed},
        xgb.DMatrix(x, label=y),
        num_boost_round=n_trees,
    )
    if calibration is not None:
        booster.set_attr(**{CALIBRATION_ATTR: calibration.to_json()})
    work = dest.with_name(dest.name + "-src")
    work.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(work / "model.json"))
    spec.save(work / "feature_spec.json")
    import hashlib

    md5 = hashlib.md5((work / "model.json").read_bytes()).hexdigest()  # noqa: S324
    meta = {
        "model_name": "flight-delay",
        "model_md5": md5,
        "threshold": 0.4,
        "training_window": {"start": "2013-01", "end": "2013-02"},
        "metrics": metrics or {"roc_auc": 0.7},
    }
    return bundle.write(dest, model=work / "model.json", spec=work / "feature_spec.json", metadata=meta)


@pytest.fixture(scope="session", autouse=True)
def c_kernel() -> Path:
    """The C scoring kernel, built as `make kernel` does (a no-op when it is there): the API is
    tested with the scorer the image serves with. A machine without a C compiler fails here."""
    return ckernel.build()


@pytest.fixture(scope="session")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two different bundles: A is served first, B is what a reload switches to."""
    root = tmp_path_factory.mktemp("bundles")
    return make_bundle(root / "a", seed=1), make_bundle(root / "b", seed=2, n_trees=25)


@pytest.fixture
def settings(bundles: tuple[Path, Path], tmp_path: Path) -> Settings:
    return Settings(
        model_dir=bundles[0],
        prediction_log=str(tmp_path / "predictions.jsonl"),
        admin_token=ADMIN_TOKEN,
        max_body_bytes=200_000,
        max_batch_rows=100,
    )


@pytest.fixture
def inprocess(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="session")
def gunicorn(
    bundles: tuple[Path, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Gunicorn]:
    work = tmp_path_factory.mktemp("gunicorn")
    env = {
        "PREDICTION_LOG": str(work / "predictions.jsonl"),
        "MAX_BODY_BYTES": "200000",
        "MAX_BATCH_ROWS": "100",
        "REQUEST_TIMEOUT_SECONDS": "2",
    }
    with Gunicorn(bundles[0], work, workers=2, env=env) as srv:
        yield srv


@pytest.fixture(params=["inprocess", "gunicorn"])
def api(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The same tests against TestClient and against the real gunicorn server."""
    if request.param == "inprocess":
        yield request.getfixturevalue("inprocess")
        return
    import httpx

    srv: Gunicorn = request.getfixturevalue("gunicorn")
    with httpx.Client(base_url=srv.url, timeout=10) as c:
        yield c


def flight(**changes: Any) -> dict[str, Any]:
    return {**EXAMPLE_FLIGHT, **changes}


def body(obj: Any) -> bytes:
    return json.dumps(obj).encode()
