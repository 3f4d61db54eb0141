"""Model behaviour on a model the pipeline trained on real months (the session's `built_repo`):
minimum functionality, invariance and direction, as a user of the scores relies on them."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from flightdelay.core import features
from flightdelay.core.model import FlightDelayModel, load_classifier
from flightdelay.core.params import load_params

pytestmark = pytest.mark.slow  # needs the session's pipeline repository


@pytest.fixture(scope="module")
def trained(built_repo: Path) -> tuple[FlightDelayModel, pd.DataFrame]:
    spec = features.FeatureSpec.load(built_repo / "models/feature_spec.json")
    model = FlightDelayModel(spec, load_classifier(str(built_repo / "models/model.json")))
    holdout = pd.read_parquet(built_repo / "data/features/holdout.parquet")
    return model, holdout


def score(model: FlightDelayModel, rows: pd.DataFrame) -> np.ndarray:
    return np.asarray(model.predict_proba(rows[list(features.INPUT_COLUMNS)])[:, 1])


def sample(holdout: pd.DataFrame, n: int = 2000) -> pd.DataFrame:
    return holdout.sample(n=min(n, len(holdout)), random_state=3).reset_index(drop=True)


# ---------------------------------------------------------------- minimum functionality


def test_it_ranks_the_holdout_and_its_rate_is_plausible(
    trained: tuple[FlightDelayModel, pd.DataFrame],
) -> None:
    model, holdout = trained
    s = score(model, holdout)
    assert ((s > 0) & (s < 1)).all()
    assert roc_auc_score(holdout["disrupted"], s) > 0.6  # a 30-tree model of one month: about 0.62
    # the mean score is a disruption rate of the right size (2013 months: 0.15–0.36)
    assert 0.1 < s.mean() < 0.45


def test_a_storm_scores_higher_than_a_calm_clear_hour(trained: tuple[FlightDelayModel, pd.DataFrame]) -> None:
    model, holdout = trained
    rows = sample(holdout, 500)
    calm = rows.assign(visib=10.0, precip=0.0, wind_speed=5.0, wind_gust=np.nan, humid=50.0, precip_6h=0.0)
    storm = rows.assign(visib=0.5, precip=0.3, wind_speed=30.0, wind_gust=45.0, humid=100.0, precip_6h=1.2)
    assert score(model, storm).mean() > score(model, calm).mean() + 0.05


# ---------------------------------------------------------------- invariance


def test_a_row_scores_the_same_alone_as_in_a_batch_and_in_any_order(
    trained: tuple[FlightDelayModel, pd.DataFrame],
) -> None:
    model, holdout = trained
    rows = sample(holdout, 300)
    batch = score(model, rows)
    shuffled = rows.sample(frac=1.0, random_state=1)
    assert np.array_equal(score(model, shuffled), batch[shuffled.index.to_numpy()])
    assert np.array_equal(np.concatenate([score(model, rows.iloc[[i]]) for i in range(20)]), batch[:20])


def test_a_mile_of_distance_or_a_tenth_of_a_degree_changes_almost_nothing(
    trained: tuple[FlightDelayModel, pd.DataFrame],
) -> None:
    model, holdout = trained
    rows = sample(holdout)
    base = score(model, rows)
    for changed in (rows.assign(distance=rows["distance"] + 1), rows.assign(temp=rows["temp"] + 0.1)):
        assert np.abs(score(model, changed) - base).mean() < 0.005


def test_an_unknown_destination_or_carrier_is_scored_not_refused(
    trained: tuple[FlightDelayModel, pd.DataFrame],
) -> None:
    model, holdout = trained
    rows = sample(holdout, 200).assign(dest="ZZZ", carrier="Q9")
    s = score(model, rows)
    assert np.isfinite(s).all() and ((s > 0) & (s < 1)).all()


# ---------------------------------------------------------------- direction


def test_later_departures_are_riskier_than_early_morning_ones(
    trained: tuple[FlightDelayModel, pd.DataFrame],
) -> None:
    """Delays propagate through the day: the same flights moved to 19:00 score above 06:00."""
    model, holdout = trained
    rows = sample(holdout)
    block = rows["sched_arr_time"] - rows["sched_dep_time"]
    early = rows.assign(sched_dep_time=600, sched_arr_time=(600 + block).clip(0, 2359))
    late = rows.assign(sched_dep_time=1900, sched_arr_time=(1900 + block).clip(0, 2359))
    assert score(model, late).mean() > score(model, early).mean() + 0.03


def test_worse_visibility_does_not_lower_the_risk(trained: tuple[FlightDelayModel, pd.DataFrame]) -> None:
    model, holdout = trained
    rows = sample(holdout)
    means = [score(model, rows.assign(visib=v)).mean() for v in (10.0, 5.0, 2.0, 0.5)]
    assert all(b >= a - 0.005 for a, b in itertools.pairwise(means)), means
    assert means[-1] > means[0]


def test_a_later_leg_of_the_aircrafts_day_does_not_lower_the_risk(
    trained: tuple[FlightDelayModel, pd.DataFrame],
) -> None:
    """Delays propagate along an aircraft's day: the same flights as its third departure of the
    day score no lower, on average, than as its first."""
    model, holdout = trained
    rows = sample(holdout)
    first = rows.assign(aircraft_leg=1.0, aircraft_gap_min=np.nan)
    third = rows.assign(aircraft_leg=3.0, aircraft_gap_min=180.0)
    assert score(model, third).mean() >= score(model, first).mean() - 0.005


# plausible values of the features a direction may be enforced on (others: 0–40)
SPANS = {
    "precip": (0.0, 1.0),
    "precip_6h": (0.0, 3.0),
    "visib": (0.25, 10.0),
    "pressure": (980.0, 1040.0),
    "wind_gust": (0.0, 60.0),
    "aircraft_leg": (1.0, 8.0),
    "origin_hour_departures": (1.0, 120.0),
}


def test_the_directions_of_train_monotone_hold_for_every_flight(
    trained: tuple[FlightDelayModel, pd.DataFrame], built_repo: Path
) -> None:
    """Not on average: each flight's own score moves only the way params.yaml says as one of those
    features rises (the trees are built under the constraint)."""
    model, holdout = trained
    directions = load_params(built_repo / "params.yaml").train.monotone
    assert directions  # the committed params enforce some
    rows = sample(holdout, 500)
    for name, sign in directions.items():
        lo, hi = SPANS.get(name, (0.0, 40.0))
        grid = [score(model, rows.assign(**{name: v})) for v in np.linspace(lo, hi, 6)]
        steps = np.diff(np.stack(grid), axis=0) * sign
        assert (steps >= -1e-6).all(), (name, float(steps.min()))


def test_a_request_without_the_optional_fields_is_scored_near_the_others(
    trained: tuple[FlightDelayModel, pd.DataFrame],
) -> None:
    """A client that does not send the schedule fields nor the precipitation history gets scores
    (missing, not refused) of the same size as with them."""
    model, holdout = trained
    rows = sample(holdout)
    bare = rows.assign(**dict.fromkeys((*features.SCHEDULE, *features.PRECIP_HISTORY), np.nan))
    with_fields, without = score(model, rows), score(model, bare)
    assert ((without > 0) & (without < 1)).all()
    assert abs(without.mean() - with_fields.mean()) < 0.05
    assert roc_auc_score(rows["disrupted"], without) > 0.55
