"""The request schema accepts what the pipeline validates: same ranges, carriers and origins."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pydantic import TypeAdapter

from api.schemas import Flight
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
