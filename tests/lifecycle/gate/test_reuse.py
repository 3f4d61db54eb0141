"""`report pr` and `gate` score once per PR: the gate reuses a verdict made from the same inputs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from flightdelay.core.params import Params, load_params
from flightdelay.lifecycle import gate
from flightdelay.lifecycle.gate import Check, Evidence, Verdict, fingerprint, reusable
from tests.helpers import REPO_ROOT

PARAMS = REPO_ROOT / "params.yaml"


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Params, Path]:
    p = load_params(PARAMS)
    monkeypatch.chdir(tmp_path)
    subprocess.run(["git", "init", "-q"], check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "base"],
        check=True,
    )
    for f, text in (
        (p.paths.metrics, '{"roc_auc": 0.75}'),
        (p.paths.slices, "[]"),
        (p.paths.model, "{}"),
        (p.paths.backtest, '{"per_month": []}'),
    ):
        Path(f).parent.mkdir(parents=True, exist_ok=True)
        Path(f).write_text(text)
    holdout = Path(p.paths.features) / "holdout.parquet"
    holdout.parent.mkdir(parents=True, exist_ok=True)
    holdout.write_bytes(b"holdout")
    champion = tmp_path / "champion"
    champion.mkdir()
    (champion / "model.json").write_text("{}")
    return p, champion


def _key(p: Params, champion: Path) -> str | None:
    return fingerprint(p, base="HEAD", champion_bundle=str(champion), use_registry=True)


def test_the_fingerprint_moves_with_every_input(workspace: tuple[Params, Path]) -> None:
    p, champion = workspace
    first = _key(p, champion)
    assert first is not None and first == _key(p, champion)
    Path(p.paths.metrics).write_text('{"roc_auc": 0.76}')
    second = _key(p, champion)
    (champion / "model.json").write_text('{"other": 1}')
    third = _key(p, champion)
    stricter = p.model_copy(update={"gate": p.gate.model_copy(update={"max_slice_regressions": 3})})
    fourth = _key(stricter, champion)
    Path(p.paths.model).write_text('{"retrained": 1}')  # the paired test scores the candidate model
    fifth = _key(p, champion)
    Path(p.paths.backtest).write_text('{"per_month": [{"month": "2013-06"}]}')
    sixth = _key(p, champion)
    Path(p.paths.backtest).unlink()  # optional: the gate then notes it has no backtest
    seventh = _key(p, champion)
    assert len({first, second, third, fourth, fifth, sixth, seventh}) == 7
    assert None not in {fifth, sixth, seventh}


def test_no_fingerprint_when_the_champion_comes_from_the_registry_or_an_input_is_missing(
    workspace: tuple[Params, Path],
) -> None:
    p, champion = workspace
    assert fingerprint(p, base="HEAD", champion_bundle=None, use_registry=True) is None
    assert fingerprint(p, base="HEAD", champion_bundle=None, use_registry=False) is not None
    Path(p.paths.slices).unlink()
    assert _key(p, champion) is None


def _verdict(passed: bool) -> Verdict:
    check = Check("floor", "roc_auc", 0.75, 0.7, 0.7, passed, "roc_auc floor")
    return Verdict(passed, [check], notes=["n"], warnings=[])


def test_gate_reuses_the_reports_verdict_on_the_same_inputs(
    workspace: tuple[Params, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    p, champion = workspace
    out = Path("reports/pr/gate.json")
    gate.write_verdict(_verdict(True), Evidence({}, []), out, _key(p, champion))

    def no_scoring(*_: object, **__: object) -> None:
        raise AssertionError("the gate re-scored although the report decided on the same inputs")

    monkeypatch.setattr(gate, "gather", no_scoring)
    verdict = gate.run(p, base="HEAD", champion_bundle=str(champion), check_stale=False)
    assert verdict.passed and "PASS" in capsys.readouterr().out

    # A failing verdict reused still fails the command.
    gate.write_verdict(_verdict(False), Evidence({}, []), out, _key(p, champion))
    with pytest.raises(gate.GateFailed):
        gate.run(p, base="HEAD", champion_bundle=str(champion), check_stale=False)

    # Other inputs (the candidate moved): decided afresh.
    Path(p.paths.metrics).write_text('{"roc_auc": 0.5}')
    assert reusable(out, _key(p, champion)) is None
    with pytest.raises(AssertionError, match="re-scored"):
        gate.run(p, base="HEAD", champion_bundle=str(champion), check_stale=False)


def test_a_verdict_file_without_inputs_is_never_reused(workspace: tuple[Params, Path]) -> None:
    p, champion = workspace
    out = Path("gate.json")
    out.write_text(json.dumps({**_verdict(True).to_dict(Evidence({}, [])), "inputs": None}))
    assert reusable(out, _key(p, champion)) is None
    out.write_text("not json")
    assert reusable(out, _key(p, champion)) is None
