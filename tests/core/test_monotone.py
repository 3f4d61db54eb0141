"""`train.monotone`: the directions params.yaml names reach the booster, by the spec's positions."""

from __future__ import annotations

from pathlib import Path

import pytest

from flightdelay.core import features
from flightdelay.core.errors import ConfigError
from flightdelay.core.model import make_classifier
from flightdelay.core.params import TrainParams, load_params
from tests.core.test_params_and_cli import _params_with


def test_each_direction_sits_at_its_features_position() -> None:
    t = TrainParams(monotone={"visib": -1, "precip_6h": 1})
    names = features.FEATURES
    got = make_classifier(t, names).get_params()["monotone_constraints"]
    assert len(got) == len(names)
    assert got[names.index("visib")] == -1
    assert got[names.index("precip_6h")] == 1
    assert sum(abs(c) for c in got) == 2  # every other feature is free


def test_no_directions_leave_the_booster_unconstrained() -> None:
    assert make_classifier(TrainParams(), features.FEATURES).get_params()["monotone_constraints"] is None


@pytest.mark.parametrize(("name", "sign"), [("carrier", 1), ("visibility", -1), ("visib", 2)])
def test_a_category_an_unknown_name_or_a_bad_sign_is_refused(tmp_path: Path, name: str, sign: int) -> None:
    with pytest.raises(ConfigError, match=r"train\.monotone"):
        load_params(_params_with(tmp_path, "train", "monotone", {name: sign}))
