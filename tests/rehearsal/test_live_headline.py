"""The demo's live-quality line: each figure with a floor beside the release's figure."""

from __future__ import annotations

from flightdelay.lifecycle.drift import schema
from rehearsal.live import headline
from tests.lifecycle.drift.summaries import live_quality


def test_each_live_figure_stands_beside_the_release_figure() -> None:
    figure = schema.Figure(estimate=0.72, lower=0.71, upper=0.73)
    overall = schema.WindowFigures(rows=8200, positives=2800, roc_auc=figure, accuracy=figure)
    release = schema.ReleaseFigures(version="1", roc_auc=0.767, accuracy=0.726, holdout_months=["2013-06"])
    line = headline(live_quality(overall=overall, release=release), ["FlightdelayLiveRocAucBelowRelease"])
    assert "8,200 logged predictions (model 1)" in line
    assert "live ROC AUC 0.720 [0.710, 0.730] vs 0.767 at release" in line
    assert "accuracy 0.720 [0.710, 0.730] vs 0.726 at release" in line
    assert "calibration error n/a vs n/a at release" in line  # neither known: said so
    assert line.endswith("fired: FlightdelayLiveRocAucBelowRelease")
