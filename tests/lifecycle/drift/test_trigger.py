"""The N-of-M retraining trigger and its history file."""

from __future__ import annotations

from pathlib import Path

import pytest

from flightdelay.core.errors import DataError
from flightdelay.core.params import DriftTrigger
from flightdelay.lifecycle.drift import trigger

T = DriftTrigger(n=2, m=3)


@pytest.mark.parametrize(
    ("statuses", "retrain", "count"),
    [
        (["drift"], False, 1),  # one noisy day
        (["drift", "drift"], True, 2),
        (["drift", "no_drift", "drift"], True, 2),  # 2 of the last 3
        (
            ["drift", "no_drift", "no_drift", "drift"],
            False,
            1,
        ),  # the old drift fell out of the window
        (["drift", "drift", "no_drift"], False, 2),  # drift cleared now: no PR
        (["drift", "not_enough_data", "drift"], True, 2),  # no verdict: neither counts nor breaks
        (["drift", "drift", "not_enough_data"], False, 2),
        ([], False, 0),
    ],
)
def test_n_of_m(statuses: list[str], retrain: bool, count: int) -> None:
    d = trigger.decide(statuses, T)
    assert (d.retrain, d.drift_count) == (retrain, count)


def test_n_equal_m_needs_every_recent_check() -> None:
    t = DriftTrigger(n=3, m=3)
    assert trigger.decide(["drift"] * 3, t).retrain
    assert not trigger.decide(["drift", "no_drift", "drift", "drift"], t).retrain


def test_n_larger_than_m_is_refused() -> None:
    with pytest.raises(ValueError, match="n <= m"):
        DriftTrigger(n=4, m=3)


def test_history_is_appended_and_bounded(tmp_path: Path) -> None:
    path = tmp_path / "h" / "history.json"
    for i in range(5):
        checks = trigger.append(path, {"status": "drift", "i": i}, size=3)
    assert [c["i"] for c in checks] == [2, 3, 4]
    assert [c["i"] for c in trigger.load(path)] == [2, 3, 4]


def test_a_corrupt_history_says_how_to_reset(tmp_path: Path) -> None:
    path = tmp_path / "history.json"
    path.write_text("{broken")
    with pytest.raises(DataError, match="delete it"):
        trigger.load(path)


@pytest.mark.parametrize(
    ("statuses", "drops", "retrain", "signal"),
    [
        (["no_drift"], [False, True, True], True, "quality drop"),  # concept drift, inputs stable
        (["no_drift"], [True, True, False], False, None),  # quality recovered this week
        (["no_drift"], [True, None, False, None], False, None),  # small weeks: no verdict, no break
        (["no_drift"], [True, None, None, True], True, "quality drop"),
        (["drift", "drift"], [True, True], True, "both"),
        (["drift", "drift"], [False], True, "input drift"),
        (["drift", "drift"], None, True, "input drift"),  # no live quality at all
        (["no_drift"], [], False, None),
    ],
)
def test_a_sustained_quality_drop_also_fires(
    statuses: list[str], drops: list[bool | None] | None, retrain: bool, signal: str | None
) -> None:
    d = trigger.decide(statuses, T, drops)
    assert (d.retrain, d.signal) == (retrain, signal)
    assert d.summary(Path("h.json")).signal == signal
