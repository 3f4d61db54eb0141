"""Training–serving parity: real holdout rows through HTTP equal the batch pipeline's scores.

Needs the pipeline (pandas, DVC) for the reference side, so it runs in the development environment.
"""

from __future__ import annotations

import http.client
import json
import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from flightdelay.core.features import INPUT_COLUMNS, FeatureSpec
from tests.api.server import Gunicorn

pytestmark = pytest.mark.slow
ROWS = 5000
TOLERANCE = 1e-6


def _records(frame: Any) -> list[dict[str, Any]]:
    out = []
    for rec in frame[list(INPUT_COLUMNS)].to_dict(orient="records"):
        out.append(
            {
                k: (None if isinstance(v, float) and math.isnan(v) else v.item() if hasattr(v, "item") else v)
                for k, v in rec.items()
            }
        )
    return out


def _post(conn: http.client.HTTPConnection, path: str, obj: Any) -> Any:
    conn.request("POST", path, body=json.dumps(obj), headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    body = r.read()
    assert r.status == 200, body[:500]
    return json.loads(body)


def test_http_answers_equal_the_batch_pipeline(built_repo: Path, tmp_path: Path) -> None:
    import pandas as pd  # the pipeline side: not in the serving-only environment

    from flightdelay.core.model import FlightDelayModel, load_classifier

    paths = yaml.safe_load((built_repo / "params.yaml").read_text())["paths"]
    bundle_dir = built_repo / paths["bundle"]
    holdout = pd.read_parquet(built_repo / paths["features"] / "holdout.parquet")
    assert len(holdout) >= ROWS, f"holdout has only {len(holdout)} rows"
    frame = holdout.sample(n=ROWS, random_state=0).reset_index(drop=True)
    assert frame[["temp", "wind_gust"]].isna().any().all(), "sample should include missing weather"

    spec = FeatureSpec.load(bundle_dir / "feature_spec.json")
    pipeline = FlightDelayModel(spec, load_classifier(str(bundle_dir / "model.json")))
    expected = pipeline.predict_proba(frame)[:, 1]
    records = _records(frame)

    with Gunicorn(bundle_dir, tmp_path, workers=2) as srv:
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
        conn.request("GET", "/v1/model")
        assert json.loads(conn.getresponse().read())["scorer"] == "compiled"  # what the image serves with
        conn.close()

        def singles(part: list[dict[str, Any]]) -> list[float]:
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
            try:
                return [_post(conn, "/v1/predict", r)["predictions"][0]["probability"] for r in part]
            finally:
                conn.close()

        halves = [records[: ROWS // 2], records[ROWS // 2 :]]
        with ThreadPoolExecutor(2) as pool:
            single = np.array([p for part in pool.map(singles, halves) for p in part])
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
        batch = np.array(
            [
                p["probability"]
                for i in range(0, ROWS, 1000)
                for p in _post(conn, "/v1/predict", {"flights": records[i : i + 1000]})["predictions"]
            ]
        )
        cols = list(INPUT_COLUMNS)
        split = {
            "dataframe_split": {
                "columns": cols,
                "data": [[r[c] for c in cols] for r in records[:1000]],
            }
        }
        mlflow = np.array(_post(conn, "/invocations", split)["predictions"])
        conn.close()

    assert single.shape == batch.shape == expected.shape == (ROWS,)
    assert np.abs(single - expected).max() <= TOLERANCE
    assert np.abs(batch - expected).max() <= TOLERANCE
    assert np.abs(mlflow - expected[:1000]).max() <= TOLERANCE
