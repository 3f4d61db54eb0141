"""The monitoring files as types: what is written reads back the same, and a file that is not
what its reader expects fails where it is read, naming the field and what to pass instead."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flightdelay.cli import main
from flightdelay.core.errors import DataError
from flightdelay.lifecycle import retrain_texts
from flightdelay.lifecycle.drift import schema
from tests.lifecycle.drift.summaries import drift_summary, live_quality


def test_both_files_read_back_as_written_and_absent_figures_stay_absent(tmp_path: Path) -> None:
    for kind, model in ((schema.DriftSummary, drift_summary()), (schema.LiveQuality, live_quality())):
        path = schema.write(tmp_path / f"{kind.__name__}.json", model)
        assert schema.read(kind, path, "") == model
        assert schema.dump(schema.read(kind, path, "")) == json.loads(path.read_text())
    written = json.loads((tmp_path / "LiveQuality.json").read_text())
    assert "roc_auc" not in written["newest_day"] and "window" not in written["overall"]
    assert written["weeks"][0]["drop"] is False and "drop" not in written["newest_week"]
    assert live_quality().without_days() == schema.LiveSummary.model_validate(
        {k: v for k, v in written.items() if k != "days"}
    )
    assert live_quality().drops() == [False]


def test_fields_a_reader_does_not_know_are_ignored_within_the_version(tmp_path: Path) -> None:
    data = schema.dump(drift_summary()) | {"added_later": 1}
    assert schema.parse(schema.DriftSummary, data, "s.json", "") == drift_summary()
    data["schema_version"] = 2
    with pytest.raises(DataError, match="schema_version"):
        schema.parse(schema.DriftSummary, data, "s.json", "")


def test_issue_action_names_the_fields_of_a_summary_it_cannot_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = schema.dump(drift_summary())
    data["status"] = "drifted"
    del data["trigger"]["signal"]
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(data))
    assert main(["drift", "issue-action", "--summary", str(path)]) == 3  # a data error
    err = capsys.readouterr().err
    assert f"{path} is not a valid DriftSummary" in err
    assert "status: Input should be 'no_drift', 'drift' or 'not_enough_data'" in err
    assert "trigger.signal: Field required" in err
    assert "flightdelay drift check" in err  # what to pass instead
    schema.write(path, drift_summary())
    assert main(["drift", "issue-action", "--summary", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["action"] == "open"


def test_live_and_evidence_files_are_checked_where_they_are_read(tmp_path: Path) -> None:
    live = schema.dump(live_quality())
    del live["floors"]["roc_auc"]
    bad = tmp_path / "live_quality.json"
    bad.write_text(json.dumps(live))
    with pytest.raises(DataError, match=r"floors\.roc_auc: Field required") as e:
        schema.read(schema.LiveQuality, bad, schema.LIVE_HINT)
    assert "flightdelay monitor outcomes" in (e.value.hint or "")
    (tmp_path / "cut.json").write_text('{"status": ')
    with pytest.raises(DataError, match="is not valid JSON"):
        retrain_texts.load_evidence(tmp_path / "cut.json")
    with pytest.raises(DataError, match="is not a valid DriftSummary"):
        retrain_texts.load_evidence(bad)  # a live file where the drift summary belongs
    with pytest.raises(DataError, match="does not exist"):
        retrain_texts.load_evidence(tmp_path / "none.json")
    facts = retrain_texts.evidence_facts(drift_summary())
    assert facts[0].startswith("drift check 2026-01-01T00:00:00+00:00: status drift")
    assert "drifted columns: temp" in facts and facts[-1].startswith("trigger: drift in 2 of the last 2")
