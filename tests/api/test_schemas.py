"""The request schema accepts what the pipeline validates: same ranges, carriers and origins."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from pydantic import TypeAdapter, ValidationError

from api.errors import from_validation
from api.schemas import EXAMPLE_FLIGHT, Flight, PredictRequest
from api.validation import Adapters
from tests.helpers import REPO_ROOT

pytestmark = pytest.mark.serve_only


def _bounds(prop: dict[str, Any]) -> tuple[float, float]:
    number = next(p for p in prop.get("anyOf", [prop]) if p.get("type") in ("number", "integer"))
    return number["minimum"], number["maximum"]


def test_schema_ranges_and_enumerations_equal_the_validate_params() -> None:
    validate = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())["validate"]
    props = TypeAdapter(Flight).json_schema()["properties"]
    for column, (lo, hi) in validate["ranges"].items():
        assert _bounds(props[column]) == (lo, hi), column
    assert props["carrier"]["enum"] == sorted(validate["carriers"])
    assert props["origin"]["enum"] == sorted(validate["origins"])
    assert props["dest"]["pattern"] == validate["dest_pattern"]


FLIGHT = json.dumps(EXAMPLE_FLIGHT)
BODIES = [
    FLIGHT,
    f'{{"flights": [{FLIGHT}, {FLIGHT}]}}',
    f' \n {{ "flights" :[{FLIGHT}]}}',
    json.dumps({"flights": [EXAMPLE_FLIGHT, {**EXAMPLE_FLIGHT, "temp": 500, "month": 2, "day": 30}]}),
    json.dumps({"flights": []}),
    json.dumps({"flights": 5}),
    json.dumps({"flights": [EXAMPLE_FLIGHT], "extra": 1}),
    json.dumps({**EXAMPLE_FLIGHT, "sched_dep_time": 1790}),
    json.dumps({**EXAMPLE_FLIGHT, "distance": True}),
    "{}",
    "[]",
    '"flights"',
    "null",
    "{",
    "",
]
# Invalid either way; the union calls them batches (any "flights" key), the fast path only when
# "flights" comes first, so only the wording of the 422 may differ.
EITHER = [
    json.dumps({"extra": 1, "flights": [EXAMPLE_FLIGHT]}),
    json.dumps({**EXAMPLE_FLIGHT, "flights": []}),
]


@pytest.mark.parametrize("body", BODIES + EITHER)
def test_the_fast_predict_validation_answers_like_the_documented_union(body: str) -> None:
    """`Adapters.predict_flights` skips the union's discriminator; the result and the client-facing
    errors must be those of the documented `PredictRequest`."""
    adapters, union = Adapters(), TypeAdapter(PredictRequest)

    def outcome(validate: Any) -> Any:
        try:
            return validate(body.encode())
        except ValidationError as e:
            err = from_validation(e)
            return err.status, err.kind, err.message, err.detail

    def documented(raw: bytes) -> Any:
        parsed = union.validate_json(raw)
        return parsed.get("flights") or [parsed]

    fast, slow = outcome(adapters.predict_flights), outcome(documented)
    if body in EITHER:
        assert fast[:2] == slow[:2] == (422, "validation")
    else:
        assert fast == slow
