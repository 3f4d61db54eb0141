"""Hostile input: odd numbers, deep nesting, huge bodies and batches, unicode, duplicated keys,
No input may produce a 5xx (schemathesis: test_schemathesis.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.conftest import body, flight

pytestmark = pytest.mark.serve_only


def _post(api: Any, payload: bytes, path: str = "/v1/predict", ctype: str = "application/json") -> Any:
    return api.post(path, content=payload, headers={"Content-Type": ctype})


def _client_error(r: Any) -> dict[str, Any]:
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    err: dict[str, Any] = r.json()
    assert err["message"] and err["error"]
    return err


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e309", "-1e309"])
def test_non_finite_numbers_are_refused(api: Any, literal: str) -> None:
    text = json.dumps(flight()).replace('"temp": 78.1', f'"temp": {literal}')
    assert literal in text
    _client_error(_post(api, text.encode()))


@pytest.mark.parametrize(
    ("field", "value"), [("distance", 1e308), ("year", 10**30), ("temp", -1e300), ("sched_dep_time", 2**63)]
)
def test_huge_numbers_are_422_naming_the_field(api: Any, field: str, value: float) -> None:
    err = _client_error(_post(api, body(flight(**{field: value}))))
    assert field in json.dumps(err["detail"])


def test_deep_nesting_is_refused_without_recursion_errors(api: Any) -> None:
    for depth in (1_000, 100_000):
        payload = b'{"flights": ' + b"[" * depth + b"]" * depth + b"}"
        _client_error(_post(api, payload))


def test_ten_megabyte_body_is_413(api: Any) -> None:
    payload = b'{"flights": [' + b",".join([body(flight())] * 40_000) + b"]}"
    assert len(payload) > 10_000_000
    assert _client_error(_post(api, payload))["error"] == "body_too_large"


def test_hundred_thousand_row_batch_is_refused_before_scoring(api: Any) -> None:
    rows = b'{"flights": [' + b",".join([b"{}"] * 100_000) + b"]}"
    r = _post(api, rows)
    assert r.status_code in (413, 422)
    _client_error(r)


@pytest.mark.parametrize(
    "ctype",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "application/json-patch+json",
        "application/xml",
    ],
)
def test_wrong_content_types_are_415(api: Any, ctype: str) -> None:
    assert _post(api, body(flight()), ctype=ctype).status_code == 415


@pytest.mark.parametrize(
    ("field", "value"),
    [("dest", "ÅÄÖ"), ("dest", "B\u200bOS"), ("carrier", "🛫"), ("origin", "JFK\x00"), ("dest", "Ｂ" * 3)],
)
def test_unicode_in_strings_is_422(api: Any, field: str, value: str) -> None:
    err = _client_error(_post(api, json.dumps(flight(**{field: value}), ensure_ascii=False).encode()))
    assert field in json.dumps(err["detail"])


def test_duplicated_keys_take_the_last_value_like_every_json_parser(api: Any) -> None:
    text = json.dumps(flight()).rstrip("}") + ', "temp": 20.0}'
    dup = _post(api, text.encode())
    plain = _post(api, body(flight(temp=20.0)))
    assert dup.status_code == plain.status_code == 200
    assert dup.json()["predictions"] == plain.json()["predictions"]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e309"])
@pytest.mark.parametrize("field", ["temp", "distance"])
def test_nan_and_infinity_are_refused_as_not_finite_not_as_out_of_range(
    api: Any, literal: str, field: str
) -> None:
    text = json.dumps(flight(temp=1.5, distance=2.5)).replace(
        {"temp": '"temp": 1.5', "distance": '"distance": 2.5'}[field], f'"{field}": {literal}'
    )
    err = _client_error(_post(api, text.encode()))
    assert err["detail"][0]["loc"][-1] == field, err
    assert "finite number" in err["message"] and "NaN" in err["message"], err["message"]
    assert "less than" not in err["message"] and "greater than" not in err["message"], err["message"]


def _gzip(raw: bytes) -> bytes:
    import gzip

    return gzip.compress(raw)


@pytest.mark.parametrize(
    ("name", "encode"),
    [
        ("gzip", _gzip),
        ("latin-1", lambda raw: raw.replace(b'"BOS"', '"BÖS"'.encode("latin-1"))),
        ("utf-16", lambda raw: raw.decode().encode("utf-16")),
        ("utf-16-le, no byte-order mark", lambda raw: raw.decode().encode("utf-16-le")),
        ("utf-32", lambda raw: raw.decode().encode("utf-32")),
    ],
)
@pytest.mark.parametrize("path", ["/v1/predict", "/invocations"])
def test_bodies_that_are_not_utf8_json_are_415_saying_to_send_utf8(
    api: Any, name: str, encode: Any, path: str
) -> None:
    raw = body(flight()) if path == "/v1/predict" else body({"dataframe_records": [flight()]})
    r = _post(api, encode(raw), path)
    assert r.status_code == 415, (name, r.status_code, r.text[:300])
    err = r.json()
    assert err["error"] == "unsupported_media_type" and "UTF-8" in err["message"], err


@pytest.mark.parametrize(
    "headers",
    [{"Content-Encoding": "gzip"}, {"Content-Type": "application/json; charset=latin-1"}],
)
def test_declared_compression_or_charset_other_than_utf8_is_415(api: Any, headers: dict[str, str]) -> None:
    r = api.post(
        "/v1/predict", content=body(flight()), headers={"Content-Type": "application/json", **headers}
    )
    assert r.status_code == 415, r.text
    assert "UTF-8" in r.json()["message"]


def test_utf8_with_a_declared_utf8_charset_is_accepted(api: Any) -> None:
    r = api.post(
        "/v1/predict", content=body(flight()), headers={"Content-Type": "application/json; charset=UTF-8"}
    )
    assert r.status_code == 200, r.text
