"""The lean batch path (api/batch.py) accepts only what pydantic accepts, with the same flights, and
its columns encode to the same features as the validated records."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from typing import Any

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from api import ckernel
from api.batch import LeanBatch
from api.schemas import EXAMPLE_FLIGHT, FlightBatch, ValidFlight, calendar_ok, check_calendar
from api.scoring import ColumnEncoder
from api.validation import Adapters, BodyShapeError, RowLimitError
from flightdelay.core.features import FeatureSpec, encode_columns, encode_records

pytestmark = pytest.mark.serve_only
MAX_ROWS = 5
ckernel.build_rows()  # as `make kernel` and the image do: the service checks numbers in C
ADAPTERS = Adapters()
_CORE = TypeAdapter(ValidFlight).core_schema
LEAN = {"c": ADAPTERS.lean, "python": LeanBatch(_CORE, check_calendar, calendar_ok)}
SPEC = FeatureSpec(
    categories={
        "carrier": {"B6": 0.0, "AA": 1.0, "UA": 2.0},
        "origin": {"EWR": 0.0, "JFK": 1.0, "LGA": 2.0},
        "dest": {"BOS": 0.0, "ATL": 1.0},
    }
)
_ROWS_C = ckernel.load_rows()
assert _ROWS_C is not None
ENCODER = ColumnEncoder(SPEC, _ROWS_C.fr_encode)
ROWS = [
    EXAMPLE_FLIGHT,
    {**EXAMPLE_FLIGHT, "carrier": "AA", "dest": "ZZZ", "temp": None, "month": 2, "day": 29, "year": 2012},
    {**EXAMPLE_FLIGHT, "origin": "LGA", "sched_dep_time": 0, "sched_arr_time": 2400, "distance": 1.5},
]
ODD_VALUES: list[Any] = [
    None, True, False, "12", "BOS", "bos", "B6", "XX", "BOS\n", "ÅBC", "ABCD", [], {}, [1], {"a": 1},
    0, 1, -1, 12, 12.5, 2013.0, 29, 31, 60, 99, 1799, 2359, 2360, 2400, 2401, 9999, 10**20, 1e308, -1e308,
]  # fmt: skip


def _outcome(body: bytes) -> Any:
    try:
        return ADAPTERS.predict_flights(body, MAX_ROWS)
    except (ValidationError, RowLimitError, BodyShapeError):
        return "refused"


def _bounds(name: str) -> list[Any]:
    schema = TypeAdapter(ValidFlight).json_schema()["properties"][name]
    number = next((p for p in schema.get("anyOf", [schema]) if "minimum" in p), None)
    if number is None:
        return []
    lo, hi = number["minimum"], number["maximum"]
    return [lo, hi, lo - 1, hi + 1, lo - 0.5, hi + 0.5, float(lo), float(hi)]


def _bodies() -> list[bytes]:
    out = [json.dumps({"flights": ROWS}).encode()]
    for name in ROWS[0]:
        for value in ODD_VALUES + _bounds(name):
            out.append(json.dumps({"flights": [ROWS[0], {**ROWS[1], name: value}, ROWS[2]]}).encode())
        without = [{k: v for k, v in r.items() if k != name} for r in ROWS]
        out.append(json.dumps({"flights": without}).encode())  # left out of every row
        out.append(json.dumps({"flights": [ROWS[0], without[1], ROWS[2]]}).encode())  # of one row
    for year, month, day in [(2012, 2, 29), (2013, 2, 29), (2000, 2, 29), (2100, 2, 29), (2013, 4, 31),
                             (2013, 6, 30), (2013, 12, 31), (2013, 2, 28), (2013, 11, 31)]:  # fmt: skip
        out.append(json.dumps({"flights": [{**ROWS[0], "year": year, "month": month, "day": day}]}).encode())
    for dep, arr in [(1260, 100), (100, 1260), (1259, 2359), (2400, 2400), (59, 0)]:
        times = {"sched_dep_time": dep, "sched_arr_time": arr}
        out.append(json.dumps({"flights": [{**ROWS[0], **times}]}).encode())
    flight = {**ROWS[0], "flight": 1234}
    without_temp = {k: v for k, v in ROWS[0].items() if k != "temp"}
    out += [
        json.dumps({"flights": [flight, flight]}).encode(),
        json.dumps({"flights": [flight, ROWS[0]]}).encode(),
        json.dumps({"flights": [ROWS[0], {**without_temp, "flight": 1}]}).encode(),  # same size, other keys
        json.dumps({"flights": [{**ROWS[0], "extra": 1}]}).encode(),
        json.dumps({"flights": [ROWS[0]] * (MAX_ROWS + 1)}).encode(),
        json.dumps({"flights": [ROWS[0], [1, 2]]}).encode(),
        json.dumps({"flights": []}).encode(),
        json.dumps({"flights": [ROWS[0]], "other": 1}).encode(),
        json.dumps({"flights": {"a": ROWS[0]}}).encode(),
        b'{"flights": [' + json.dumps(ROWS[0]).encode()[:-1] + b', "temp": NaN}]}',
        b'{"flights": [' + json.dumps(ROWS[0]).encode()[:-1] + b', "temp": 1e400}]}',
        b'{"flights": [' + json.dumps(ROWS[0]).encode()[:-1] + b', "temp": 500, "temp": 50}]}',
        b'{"flights": [' + json.dumps(ROWS[0]).encode()[:-1] + b', "temp": 50, "temp": 500}]}',
        b'{"flights": [' + json.dumps(ROWS[0]).encode()[:-1] + b', "dest": "\\u0042OS"}]}',
        b'{"flights": [' + json.dumps(ROWS[0]).encode() + b"]",
        b'{"flights": [1e2]}',
    ]
    return out


BODIES = _bodies()


def test_the_service_checks_numbers_in_c() -> None:
    assert ADAPTERS.lean._numbers_c is not None


@pytest.mark.parametrize("check", sorted(LEAN))
@pytest.mark.parametrize("body", BODIES, ids=range(len(BODIES)))
def test_the_lean_path_never_accepts_what_pydantic_refuses_and_agrees_on_what_it_accepts(
    body: bytes, check: str
) -> None:
    """Both numeric checks (api/rows.c and the Python one) against pydantic, and each other."""
    lean = LEAN[check].parse(body, MAX_ROWS)
    other = LEAN["python" if check == "c" else "c"].parse(body, MAX_ROWS)
    assert (lean is None) == (other is None), "the C and Python checks answer differently"
    reference = _outcome(body)
    if lean is None:
        return  # pydantic decides, as for any body
    assert reference != "refused", body
    assert lean.rows == reference
    assert lean.numeric is not None and lean.text is not None
    for name, column in lean.numeric.items():
        expected = [np.nan if r.get(name) is None else float(r[name]) for r in reference]
        np.testing.assert_array_equal(column, expected, err_msg=name)
    for name, values in lean.text.items():
        assert list(values) == [r[name] for r in reference]
    by_records = encode_records(SPEC, reference)
    for strings in (False, True):  # the service skips the type pass: the lean path's text is str
        by_columns = encode_columns(SPEC, len(lean), lean.numeric, lean.text, strings=strings)
        np.testing.assert_array_equal(by_columns, by_records)
    in_c = ENCODER(lean)  # api/rows.c, as the service encodes
    assert in_c is not None
    assert np.array_equal(in_c, by_records, equal_nan=True) and in_c.dtype == np.float32


def test_the_lean_path_takes_the_usual_batches() -> None:
    """On for the current schema, and it takes valid batches as clients send them: nulls, left-out
    weather, flight numbers, integers for floats, leap days."""
    assert ADAPTERS.lean.enabled
    weatherless = [{k: v for k, v in r.items() if k not in ("temp", "wind_gust")} for r in ROWS]
    for rows in (ROWS, weatherless, [{**r, "flight": 9} for r in ROWS]):
        body = json.dumps({"flights": rows}).encode()
        assert ADAPTERS.lean.parse(body, MAX_ROWS) is not None
        assert ADAPTERS.predict_batch(body, MAX_ROWS).numeric is not None


def test_a_schema_it_does_not_know_turns_it_off_and_pydantic_decides() -> None:
    core = TypeAdapter(FlightBatch).core_schema  # not a flight: no calendar check around it
    off = LeanBatch(core, check_calendar, calendar_ok)
    assert not off.enabled
    assert off.parse(json.dumps({"flights": ROWS}).encode(), MAX_ROWS) is None
    other = LeanBatch(TypeAdapter(ValidFlight).core_schema, lambda f: f, calendar_ok)
    assert not other.enabled  # another validator after the fields than the one it mirrors


def test_calendar_ok_agrees_with_check_calendar_row_by_row() -> None:
    rng = np.random.default_rng(0)
    for _ in range(300):
        n = 4
        cols = [
            rng.choice([1900, 2000, 2012, 2013, 2100], n).tolist(),
            rng.integers(1, 13, n).tolist(),
            rng.integers(27, 32, n).tolist(),
            rng.choice([0, 59, 60, 1259, 1260, 2359], n).tolist(),
            rng.choice([0, 59, 99, 2359, 2400], n).tolist(),
        ]
        rows_ok = []
        for y, m, d, dep, arr in zip(*cols, strict=True):
            row: Any = {"year": y, "month": m, "day": d, "sched_dep_time": dep, "sched_arr_time": arr}
            try:
                check_calendar(row)
                rows_ok.append(True)
            except ValueError:
                rows_ok.append(False)
        assert calendar_ok(*cols) == all(rows_ok), cols


def test_a_batch_answers_like_its_rows_one_by_one(api: Any) -> None:
    """Through HTTP: the lean path's scores equal the single-flight path's."""
    batch = api.post("/v1/predict", json={"flights": ROWS}).json()["predictions"]
    singles = [api.post("/v1/predict", json=r).json()["predictions"][0] for r in ROWS]
    assert [p["probability"] for p in batch] == [p["probability"] for p in singles]
    assert not any(math.isnan(p["probability"]) for p in batch)


def test_without_the_c_library_batches_are_checked_in_python_and_it_says_so(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("FOREST_KERNEL_DIR", str(tmp_path))  # nothing built there
    with caplog.at_level(logging.INFO, logger="flightdelay.api"):
        adapters = Adapters()
    assert adapters.lean._numbers_c is None
    assert "the C batch check is not built" in caplog.text and "make kernel" in caplog.text
    body = json.dumps({"flights": ROWS}).encode()
    flights = adapters.predict_batch(body, MAX_ROWS)
    assert flights.numeric is not None and flights.rows == ADAPTERS.predict_batch(body, MAX_ROWS).rows


def test_the_c_encoder_takes_only_the_matrix_layout_it_reads() -> None:
    """A matrix of another dtype, order or width than its columns, or with a date no validation
    lets through, is left to `encode_columns`."""
    flights = ADAPTERS.predict_batch(json.dumps({"flights": ROWS}).encode(), MAX_ROWS)
    assert flights.matrix is not None and ENCODER(flights) is not None
    for matrix in (
        flights.matrix.astype(np.float32),
        np.asfortranarray(flights.matrix),
        flights.matrix[:, :-1].copy(),
    ):
        assert ENCODER(dataclasses.replace(flights, matrix=matrix)) is None
    dateless = flights.matrix.copy()
    dateless[1, flights.columns.index("month")] = np.nan  # never validated so: C declines, no cast
    assert ENCODER(dataclasses.replace(flights, matrix=dateless)) is None
