"""Bundles of other feature-spec versions and calibrated bundles, as serving scores them.

A bundle made before the schedule features (spec version 1), before the precipitation history
(version 2) or with `month` as a feature (version 3) is still scored, with its own features,
whatever new fields a request carries; an unknown version is refused at start-up with what to do.
A calibrated bundle's map is applied after every scorer (C kernel, numpy forest, XGBoost), so each
path answers the same."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.scoring import SMALL_BATCH, load_model
from api.settings import Settings
from flightdelay.core import features
from flightdelay.core.calibration import Calibration
from flightdelay.core.features import encode_records
from tests.api.conftest import flight, make_bundle
from tests.api.test_bundle_contract import edited, start_up_error

pytestmark = pytest.mark.serve_only
NEW_FIELDS = (*features.SCHEDULE, *features.PRECIP_HISTORY)
PLATT = Calibration(method="platt", a=0.8, b=-0.4)
ISOTONIC = Calibration(method="isotonic", x=(0.0, 0.3, 0.6, 1.0), y=(0.05, 0.2, 0.5, 0.9))


def _requests(n: int) -> list[dict[str, object]]:
    rng = np.random.default_rng(5)
    return [
        flight(
            sched_dep_time=int(rng.integers(5, 23)) * 100 + int(rng.integers(0, 60)),
            temp=float(rng.uniform(20, 90)),
            aircraft_leg=int(rng.integers(1, 5)),
            origin_hour_departures=int(rng.integers(1, 40)),
            aircraft_gap_min=None if i % 3 == 0 else float(rng.uniform(0, 600)),
            precip_6h=float(rng.choice([0.0, 0.4])),
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("version", [1, 2, 3])
def test_an_older_bundle_is_scored_with_its_own_features(tmp_path: Path, version: int) -> None:
    old = make_bundle(tmp_path / f"v{version}", seed=4, version=version)
    m = load_model(old, generation=0)
    names = features.FEATURES_BY_VERSION[version]
    assert m.bundle.spec.version == version and m.bundle.spec.features == names
    rows = _requests(40)
    bare = [{k: v for k, v in r.items() if k not in NEW_FIELDS or k in names} for r in rows]
    x_old = encode_records(m.bundle.spec, bare)
    assert x_old.shape == (40, len(names))
    expected = np.asarray(m.bundle.booster.inplace_predict(x_old), dtype=np.float32)
    np.testing.assert_allclose(m.predict(rows), expected, atol=1e-6)  # new fields ignored
    np.testing.assert_allclose(m.predict(bare), expected, atol=1e-6)
    settings = Settings(model_dir=old)
    with TestClient(create_app(settings)) as c:
        r = c.post("/v1/predict", json={"flights": rows[:3]})
        assert r.status_code == 200, r.text
        got = [p["probability"] for p in r.json()["predictions"]]
    np.testing.assert_allclose(got, expected[:3], atol=1e-6)


def test_a_bundle_of_an_unknown_spec_version_is_refused_saying_what_to_do(tmp_path: Path) -> None:
    good = make_bundle(tmp_path / "good", seed=4)
    bad = edited(good, tmp_path / "v9", "feature_spec.json", lambda d: {**d, "version": 9})
    msg = start_up_error(create_app(Settings(model_dir=bad)))
    assert "feature_spec.json" in msg and "version 9 is not one this code reads" in msg, msg
    assert "dvc repro" in msg, msg


@pytest.mark.parametrize("cal", [PLATT, ISOTONIC], ids=["platt", "isotonic"])
def test_the_calibration_is_applied_after_every_scorer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cal: Calibration
) -> None:
    d = make_bundle(tmp_path / "cal", seed=6, calibration=cal)
    rows = _requests(2 * SMALL_BATCH)
    compiled = load_model(d, generation=0)
    assert compiled.scorer_name == "compiled" and compiled.bundle.calibration == cal
    raw = np.asarray(compiled.bundle.booster.inplace_predict(encode_records(compiled.bundle.spec, rows)))
    expected = cal.apply(raw.astype(np.float32))
    assert np.abs(expected - raw).max() > 0.01  # the map changes the answers
    np.testing.assert_allclose(compiled.predict(rows), expected, atol=1e-6)
    monkeypatch.setenv("FOREST_KERNEL_DIR", str(tmp_path / "no-kernel"))
    fallback = load_model(d, generation=1)
    assert fallback.scorer_name == "numpy"
    np.testing.assert_allclose(fallback.predict(rows[:SMALL_BATCH]), expected[:SMALL_BATCH], atol=1e-6)
    np.testing.assert_allclose(fallback.predict(rows), expected, atol=1e-6)  # beyond: XGBoost


def test_a_bundle_with_a_malformed_calibration_is_refused(tmp_path: Path) -> None:
    d = make_bundle(tmp_path / "bad", seed=6, calibration=Calibration(method="platt", a=1.0, b=0.0))
    text = (d / "model.json").read_text()
    assert '\\"method\\": \\"platt\\"' in text
    broken = edited(d, tmp_path / "broken", "feature_spec.json", lambda doc: doc)
    (broken / "model.json").write_text(text.replace('\\"method\\": \\"platt\\"', '\\"method\\": \\"magic\\"'))
    import hashlib
    import json

    meta = json.loads((broken / "metadata.json").read_text())
    meta["model_md5"] = hashlib.md5((broken / "model.json").read_bytes()).hexdigest()  # noqa: S324
    (broken / "metadata.json").write_text(json.dumps(meta))
    from tests.api.test_bundle_contract import rehash

    rehash(broken)
    msg = start_up_error(create_app(Settings(model_dir=broken)))
    assert "flightdelay_calibration is invalid" in msg and "'magic' is not one of" in msg, msg
