"""Health, model metadata, metrics, OpenAPI, prediction log, admin reload and settings."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings, load_settings
from flightdelay.core import bundle
from flightdelay.core.errors import ConfigError
from flightdelay.core.features import INPUT_COLUMNS
from tests.api.conftest import flight
from tests.api.server import ADMIN_TOKEN, Gunicorn, request

pytestmark = pytest.mark.serve_only
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def test_health_and_readiness(api: Any) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}
    r = api.get("/readyz")
    assert r.status_code == 200
    assert r.json()["status"] == "ready"


def test_model_metadata_comes_from_the_bundle(api: Any, bundles: tuple[Path, Path]) -> None:
    b = bundle.load(bundles[0])
    out = api.get("/v1/model").json()
    assert out["version"] == b.version
    assert out["model_md5"] == b.metadata["model_md5"]
    assert out["threshold"] == b.threshold
    assert out["training_window"] == {"start": "2013-01", "end": "2013-02"}


def test_metrics_use_the_contract_names(api: Any) -> None:
    api.post("/v1/predict", json={"flights": [flight()] * 3})
    api.post("/v1/predict", json=flight(month=13))
    text = api.get("/metrics").text
    for needle in (
        'flightdelay_http_requests_total{method="POST",route="/v1/predict",status="200"}',
        'flightdelay_http_request_duration_seconds_bucket{le="0.001",method="POST",'
        'route="/v1/predict",status="200"}',
        'flightdelay_prediction_score_bucket{le="0.05"}',
        'flightdelay_batch_rows_bucket{le="5.0",route="/v1/predict"}',
        "flightdelay_model_info{model_md5=",
        'flightdelay_errors_total{kind="validation"}',
        'flightdelay_model_reloads_total{result="success"}',
    ):
        assert needle in text, needle
    [errors] = [
        ln for ln in text.splitlines() if ln.startswith('flightdelay_errors_total{kind="validation"}')
    ]
    assert float(errors.rsplit(" ", 1)[1]) >= 1
    [info] = [ln for ln in text.splitlines() if ln.startswith("flightdelay_model_info{")]
    assert info.endswith(" 1.0")


def test_unusual_methods_share_one_metric_series(api: Any) -> None:
    """Methods beyond the common ones (WebDAV's, or any token in-process) must not grow the metric
    series without bound: they are all counted as "other"."""
    unusual = {"PROPFIND", "MKCOL", "LOCK"}
    for method in unusual:
        assert api.request(method, "/healthz").status_code == 405
    text = api.get("/metrics").text
    methods = {ln.split('method="', 1)[1].split('"', 1)[0] for ln in text.splitlines() if 'method="' in ln}
    assert "other" in methods
    assert not methods & unusual


def test_metrics_aggregate_all_gunicorn_workers(gunicorn: Gunicorn) -> None:
    def total() -> float:
        text = request(gunicorn.port, "GET", "/metrics")[1].decode()
        return sum(
            float(ln.rsplit(" ", 1)[1])
            for ln in text.splitlines()
            if ln.startswith('flightdelay_http_requests_total{method="GET",route="/healthz"')
        )

    before = total()
    for _ in range(40):  # new connections: both workers answer some
        request(gunicorn.port, "GET", "/healthz")
    assert total() - before == 40


def test_openapi_documents_bodies_with_examples(api: Any) -> None:
    doc = api.get("/openapi.json").json()
    for path in (
        "/v1/predict",
        "/invocations",
        "/healthz",
        "/readyz",
        "/v1/model",
        "/metrics",
        "/admin/reload",
    ):
        assert path in doc["paths"], path
    schemas = doc["components"]["schemas"]
    assert schemas["Flight"]["examples"]
    assert set(schemas["Flight"]["properties"]) == {*INPUT_COLUMNS, "flight"}  # flight: join key only
    assert doc["paths"]["/v1/predict"]["post"]["requestBody"]["content"]["application/json"]


def test_prediction_log_lines(inprocess: TestClient, settings: Settings) -> None:
    r = inprocess.post("/v1/predict", json={"flights": [flight(flight=1234), flight(temp=None)]})
    rid = r.json()["request_id"]
    path = Path(settings.prediction_log)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(path.read_text().splitlines() if path.exists() else []) < 2:
        time.sleep(0.02)
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert len(lines) == 2
    first = lines[0]
    assert set(first) == {"ts", "request_id", "flight_key", "model_version", "score", "decision", "features"}
    assert first["request_id"] == rid
    # The flight's identity for the outcomes join; a request without a flight number has none.
    assert first["flight_key"] == "B6-1234-JFK-2013-06-14-1730"
    assert lines[1]["flight_key"] is None
    assert first["ts"].endswith("Z")
    assert first["score"] == r.json()["predictions"][0]["probability"]
    assert set(first["features"]) == set(INPUT_COLUMNS)
    assert lines[1]["features"]["temp"] is None


def test_prediction_log_sampling_off(bundles: tuple[Path, Path], tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    s = Settings(model_dir=bundles[0], prediction_log=str(path), prediction_log_sample_rate=0.0)
    with TestClient(create_app(s)) as c:
        assert c.post("/v1/predict", json=flight()).status_code == 200
    assert not path.exists()


def test_reload_requires_a_token(inprocess: TestClient, bundles: tuple[Path, Path]) -> None:
    r = inprocess.post("/admin/reload")
    assert (r.status_code, r.json()["error"]) == (401, "unauthorized")
    r = inprocess.post("/admin/reload", headers={"Authorization": "Bearer wrong-token-xxxxxxxx"})
    assert r.status_code == 401
    s = Settings(model_dir=bundles[0])
    with TestClient(create_app(s)) as c:
        r = c.post("/admin/reload", headers=AUTH)
        assert r.status_code == 404
        assert "ADMIN_TOKEN" in r.json()["message"]


def test_reload_swaps_and_a_bad_bundle_keeps_the_current(
    inprocess: TestClient, bundles: tuple[Path, Path], tmp_path: Path
) -> None:
    a, b = (bundle.load(p).version for p in bundles)
    r = inprocess.post("/admin/reload", json={"model_dir": str(bundles[1])}, headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "version": b,
        "previous_version": a,
        "generation": 1,
        "model_dir": str(bundles[1]),
    }
    assert inprocess.post("/v1/predict", json=flight()).json()["model_version"] == b
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.json").write_text("{}")
    r = inprocess.post("/admin/reload", json={"model_dir": str(broken)}, headers=AUTH)
    assert r.status_code == 422
    assert "current model stays" in r.json()["message"]
    assert inprocess.get("/v1/model").json()["version"] == b
    assert 'flightdelay_model_reloads_total{result="failure"} 1.0' in inprocess.get("/metrics").text


def test_missing_bundle_fails_start_with_the_next_step(tmp_path: Path) -> None:
    app = create_app(Settings(model_dir=tmp_path / "none"))
    with pytest.raises(Exception, match="dvc repro"), TestClient(app):
        pass


def test_invalid_settings_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_BATCH_ROWS", "0")
    monkeypatch.setenv("ADMIN_TOKEN", "short")
    with pytest.raises(ConfigError) as e:
        load_settings()
    assert "MAX_BATCH_ROWS" in str(e.value)
    assert "ADMIN_TOKEN" in str(e.value)


def test_reload_without_a_body_needs_no_content_type(
    inprocess: TestClient, bundles: tuple[Path, Path]
) -> None:
    r = inprocess.post("/admin/reload", headers=AUTH)  # no body, no Content-Type
    assert r.status_code == 200, r.text
    assert r.json()["version"] == bundle.load(bundles[0]).version
    assert r.json()["generation"] == 1


def test_bodiless_post_on_the_wire_is_not_415(gunicorn: Gunicorn) -> None:
    """`curl -X POST` sends neither Content-Length nor Content-Type; the same bundle reloads."""
    import socket

    with socket.create_connection(("127.0.0.1", gunicorn.port), timeout=10) as s:
        s.sendall(
            b"POST /admin/reload HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
            b"Authorization: Bearer " + ADMIN_TOKEN.encode() + b"\r\n\r\n"
        )
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200"), data[:300]
