"""The one drift issue: open, update, close or leave alone."""

from __future__ import annotations

from flightdelay.lifecycle.drift import issue
from tests.lifecycle.drift.summaries import drift_summary


def test_drift_without_an_issue_opens_one() -> None:
    a = issue.decide(drift_summary("drift", retrain=False), [])
    assert (a.action, a.number) == ("open", None)


def test_drift_with_an_open_issue_updates_the_oldest_and_reports_duplicates() -> None:
    a = issue.decide(
        drift_summary("drift", retrain=True),
        [{"number": 9, "state": "OPEN"}, {"number": 4, "state": "OPEN"}],
    )
    assert (a.action, a.number, a.duplicates) == ("update", 4, [9])
    assert "Retraining was requested" in a.comment


def test_drift_cleared_closes_every_open_drift_issue() -> None:
    a = issue.decide(drift_summary("no_drift", retrain=False), [{"number": 4}, {"number": 9}])
    assert (a.action, a.number, a.close) == ("close", 4, [4, 9])
    assert "cleared" in a.comment


def test_no_drift_and_no_issue_does_nothing() -> None:
    assert issue.decide(drift_summary("no_drift", retrain=False), []).action == "none"


def test_not_enough_data_never_closes_an_issue() -> None:
    a = issue.decide(drift_summary("not_enough_data", retrain=False), [{"number": 4, "state": "OPEN"}])
    assert (a.action, a.number) == ("none", 4)


def test_closed_issues_are_ignored() -> None:
    assert (
        issue.decide(drift_summary("drift", retrain=False), [{"number": 4, "state": "CLOSED"}]).action
        == "open"
    )
