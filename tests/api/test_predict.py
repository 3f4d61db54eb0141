"""POST /v1/predict and /invocations: answers, strictness, error bodies (in-process, gunicorn)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import flight

pytestmark = pytest.mark.serve_only


def _ok(r: Any) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def test_single_flight_answers_probability_decision_version_and_request_id(api: Any) -> None:
    r = api.post("/v1/predict", json=flight())
    out = _ok(r)
    assert out["request_id"] == r.headers["x-request-id"]
    assert out["model_version"].startswith("unregistered-")
    [p] = out["predictions"]
    assert 0.0 <= p["probability"] <= 1.0
    assert p["decision"] == (p["probability"] >= out["threshold"])


def test_given_request_id_is_echoed(api: Any) -> None:
    r = api.post("/v1/predict", json=flight(), headers={"X-Request-ID": "trace-42"})
    assert _ok(r)["request_id"] == "trace-42" == r.headers["x-request-id"]


def test_batch_keeps_order_and_equals_single_answers(api: Any) -> None:
    flights = [
        flight(carrier=c, dest=d, sched_dep_time=t)
        for c, d, t in [("AA", "LAX", 600), ("WN", "MCO", 1800), ("B6", "BOS", 2300)]
    ]
    batch = [p["probability"] for p in _ok(api.post("/v1/predict", json={"flights": flights}))["predictions"]]
    singles = [_ok(api.post("/v1/predict", json=f))["predictions"][0]["probability"] for f in flights]
    assert batch == singles
    assert len(set(batch)) > 1, "different flights should not all score the same"


def test_missing_weather_is_allowed_absent_or_null(api: Any) -> None:
    absent = {k: v for k, v in flight().items() if k not in ("temp", "wind_gust", "visib")}
    a = _ok(api.post("/v1/predict", json=absent))["predictions"][0]["probability"]
    b = _ok(api.post("/v1/predict", json=flight(temp=None, wind_gust=None, visib=None)))
    assert a == b["predictions"][0]["probability"]


def test_unseen_destination_is_scored_as_missing(api: Any) -> None:
    one = _ok(api.post("/v1/predict", json=flight(dest="ZZZ")))["predictions"][0]["probability"]
    two = _ok(api.post("/v1/predict", json=flight(dest="QQQ")))["predictions"][0]["probability"]
    assert one == two


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"temp": True}, ["body", "temp"]),  # lax mode would take true as 1.0
        ({"year": "2013"}, ["body", "year"]),
        ({"month": 6.0}, ["body", "month"]),
        ({"month": 13}, ["body", "month"]),
        ({"carrier": "XX"}, ["body", "carrier"]),
        ({"origin": "BOS"}, ["body", "origin"]),
        ({"dest": "bos"}, ["body", "dest"]),
        ({"distance": -5}, ["body", "distance"]),
        ({"humid": 140}, ["body", "humid"]),
        ({"wind_speed": "calm"}, ["body", "wind_speed"]),
        ({"seats": 180}, ["body", "seats"]),
        ({"sched_dep_time": 1275}, ["body"]),  # not HHMM
        ({"month": 2, "day": 30}, ["body"]),  # not a date
    ],
)
def test_invalid_fields_are_422_with_field_paths(api: Any, change: dict[str, Any], loc: list[Any]) -> None:
    r = api.post("/v1/predict", json=flight(**change))
    assert r.status_code == 422, r.text
    out = r.json()
    assert out["error"] == "validation"
    assert out["request_id"] == r.headers["x-request-id"]
    assert loc in [d["loc"] for d in out["detail"]], out
    assert out["message"].startswith(".".join(str(p) for p in out["detail"][0]["loc"]))


def test_missing_required_field_is_422(api: Any) -> None:
    f = flight()
    del f["carrier"]
    r = api.post("/v1/predict", json=f)
    assert r.status_code == 422
    assert r.json()["detail"][0] == {
        "loc": ["body", "carrier"],
        "msg": "Field required",
        "type": "missing",
    }


def test_batch_errors_name_the_row(api: Any) -> None:
    r = api.post("/v1/predict", json={"flights": [flight(), flight(month=0)]})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "flights", 1, "month"]


def test_batch_above_max_rows_is_422_and_empty_batch_too(api: Any) -> None:
    r = api.post("/v1/predict", json={"flights": [flight()] * 101})
    assert r.status_code == 422
    assert "MAX_BATCH_ROWS=100" in r.json()["message"]
    assert api.post("/v1/predict", json={"flights": []}).status_code == 422


def test_malformed_json_is_400(api: Any) -> None:
    r = api.post("/v1/predict", content=b'{"year": 2013,', headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "malformed_json"


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", None])
def test_wrong_content_type_is_415(api: Any, ctype: str | None) -> None:
    headers = {"Content-Type": ctype} if ctype else {}
    r = api.post("/v1/predict", content=b'{"a": 1}', headers=headers)
    assert r.status_code == 415, r.text
    assert "application/json" in r.json()["message"]


def test_body_above_limit_is_413_by_length_and_when_streamed(api: Any) -> None:
    big = b'{"flights": [' + b" " * 200_001 + b"]}"
    r = api.post("/v1/predict", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    assert r.json()["error"] == "body_too_large"

    def chunks() -> Any:  # no Content-Length: the limit must hold while reading
        for _ in range(30):
            yield b" " * 10_000

    r = api.post("/v1/predict", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"null",
        b"[]",
        b"1",
        b'"x"',
        b"[[[[[[[[[[]]]]]]]]]]",
        b'{"flights": null}',
        b'{"flights": [1, 2]}',
        b'{"flights": {"year": 2013}}',
        b'{"year": 1e400}',
        b'{"year": 99999999999999999999999999}',
        b'{"dest": "\\ud800"}',
        b"\xff\xfe",
        b'{"flights": [' + b"{}," * 50 + b"{}]}",
        b"NaN",
        b'{"temp": NaN}',
    ],
)
def test_no_client_input_gives_500(api: Any, payload: bytes) -> None:
    for path in ("/v1/predict", "/invocations"):
        r = api.post(path, content=payload, headers={"Content-Type": "application/json"})
        assert 400 <= r.status_code < 500, (path, payload, r.status_code, r.text)
        assert r.json()["message"]


def test_unknown_path_and_wrong_method_are_json(api: Any) -> None:
    r = api.get("/nope")
    assert (r.status_code, r.json()["error"]) == (404, "not_found")
    r = api.get("/v1/predict")
    assert (r.status_code, r.json()["error"]) == (405, "method_not_allowed")


def test_invocations_accepts_both_mlflow_formats(api: Any) -> None:
    flights = [flight(), flight(carrier="AA", dest="LAX", temp=None)]
    ours = [p["probability"] for p in _ok(api.post("/v1/predict", json={"flights": flights}))["predictions"]]
    columns = list(flights[0])
    split = {"dataframe_split": {"columns": columns, "data": [[f[c] for c in columns] for f in flights]}}
    assert _ok(api.post("/invocations", json=split)) == {"predictions": ours}
    assert _ok(api.post("/invocations", json={"dataframe_records": flights})) == {"predictions": ours}


def test_invocations_errors(api: Any) -> None:
    r = api.post("/invocations", json={"instances": [[1, 2]]})
    assert r.status_code == 422
    assert "dataframe_split" in r.json()["message"]
    split = {"dataframe_split": {"columns": ["year", "month"], "data": [[2013]]}}
    assert api.post("/invocations", json=split).status_code == 422
    cols = list(flight())
    bad = {"dataframe_split": {"columns": cols, "data": [[flight(month=14)[c] for c in cols]]}}
    r = api.post("/invocations", json=bad)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "dataframe_split", "data", 0, "month"]
