"""Pure parts of retrain prepare: the params.yaml text edit and the month checks."""

from __future__ import annotations

import pytest
import yaml

from flightdelay.core.errors import ConfigError, DataError
from flightdelay.lifecycle import retrain
from tests.helpers import REPO_ROOT


def test_window_end_moves_and_everything_else_stays() -> None:
    text = (REPO_ROOT / "params.yaml").read_text()
    new = retrain.move_window_end(text, "2013-07")
    assert yaml.safe_load(new)["data"]["window"] == {"start": "2013-01", "end": "2013-07"}
    changed = [(a, b) for a, b in zip(text.splitlines(), new.splitlines(), strict=True) if a != b]
    assert changed == [('    end: "2013-06"', '    end: "2013-07"')]


def test_window_end_keeps_a_trailing_comment() -> None:
    text = "data:\n  window:   # inclusive\n    start: 2013-01\n    end: 2013-06  # newest\nx:\n  end: 1\n"
    assert retrain.move_window_end(text, "2013-08").splitlines()[3] == "    end: 2013-08  # newest"


def test_flow_style_window_is_refused_with_a_hint() -> None:
    with pytest.raises(ConfigError, match="block style"):
        retrain.move_window_end('data:\n  window: {start: "2013-01", end: "2013-06"}\n', "2013-07")


def test_months_must_follow_the_window() -> None:
    assert retrain.check_months(["2013-08", "2013-07"], "2013-06") == ["2013-07", "2013-08"]
    with pytest.raises(DataError, match="expected 2013-07"):
        retrain.check_months(["2013-08"], "2013-06")
    with pytest.raises(DataError, match="not months"):
        retrain.check_months(["July"], "2013-06")
