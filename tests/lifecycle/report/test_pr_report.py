"""The PR report built from two real commits in a temporary git + DVC repo (+ a real MLflow
registry holding the champion)."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from flightdelay.adapters import registry
from flightdelay.cli import main
from flightdelay.core.errors import GateFailed
from tests.helpers import edit_params, repo_env, run

pytestmark = pytest.mark.slow

PNG = b"\x89PNG\r\n\x1a\n"


def in_repo(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
    """`flightdelay <args>` in-process inside `repo`: (exit code, stdout, stderr)."""
    monkeypatch.chdir(repo)
    for key, value in repo_env(repo).items():
        monkeypatch.setenv(key, value)

    def call(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return call


@pytest.fixture
def flightdelay(
    pipeline_repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
    return in_repo(pipeline_repo, monkeypatch, capsys)


def images_of(markdown: str) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)


def assert_renders(out: Path) -> str:
    text = (out / "report.md").read_text()
    assert text.count("\n|---|") >= 5, "the report lost its tables"
    refs = images_of(text)
    assert {"roc.png", "pr.png", "calibration.png", "importance.png", "slices.png"} <= set(refs)
    for ref in refs:
        assert not ref.startswith(("http:", "https:", "/")), f"{ref} is not a relative path"
        assert (out / ref).read_bytes()[:8] == PNG, f"{ref} is not a PNG"
    return text


def test_report_for_a_pr_that_adds_a_month(
    retrained_pipeline_repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The pull request `retrain prepare` makes for 2013-03 (the session's `retrained_repo`): the
    month's partition added, the window end moved, the pipeline reproduced, all committed."""
    pipeline_repo, env = retrained_pipeline_repo, repo_env(retrained_pipeline_repo)
    flightdelay = in_repo(pipeline_repo, monkeypatch, capsys)
    version = registry.register_bundle("models/bundle", tags={"git_sha": "base"})
    registry.set_alias("champion", version)  # the base model is the released champion
    run(["git", "switch", "-q", "retrain/2013-03"], pipeline_repo, env)
    run(["dvc", "checkout", "--quiet"], pipeline_repo, env)

    code, _, err = flightdelay("report", "pr", "--base", "main")

    out = pipeline_repo / "reports/pr"
    text = assert_renders(out)
    assert "| 2013-03 | **added** |" in text  # the new partition
    assert re.search(r"\| 2013-03 \| – \| – \| [\d,]+ \| \d+\.\d% \|", text)  # its rows, label rate
    assert "holdout → train" in text  # February moved from holdout to training
    assert "**New data (2013-03) vs the base's training data**" in text  # drift of the new data
    assert "| `data.window.end` | `2013-02` | `2013-03` | changed |" in text
    assert "champion 1 (2013-03)" in text  # champion re-scored on the candidate's holdout
    assert "not comparable" in text  # base was measured on February
    verdict = json.loads((out / "gate.json").read_text())
    assert verdict["champion"]["version"] == "1"
    assert verdict["champion"]["metrics"]["holdout_months"] == ["2013-03"]
    # the backtests side by side (the base is the champion), and the promotion decision in words
    assert "## Backtest" in text and "backtest.png" in images_of(text)
    assert re.search(r"\| month \| base \| candidate \| champion 1 \(= base\) \|", text)
    assert re.search(r"\| 2013-03 \| – \| \d\.\d{4} \| – \|", text)  # only the candidate scored March
    assert "**Promotion** (policy `better`): " in text
    assert verdict["promotion"]["test"].startswith("DeLong")
    assert 0 <= verdict["promotion"]["p_value"] <= 1
    assert f"p = {verdict['promotion']['p_value']:.4g}" in text
    assert code == 0
    assert "report: reports/pr/report.md" in err


def test_a_pr_that_degrades_the_model_fails_the_gate_and_the_report_says_why(
    pipeline_repo: Path, flightdelay: Callable[..., tuple[int, str, str]]
) -> None:
    env = repo_env(pipeline_repo)
    champion = pipeline_repo.parent / "champion"
    shutil.copytree(pipeline_repo / "models/bundle", champion)
    run(["git", "checkout", "-qb", "degrade"], pipeline_repo, env)
    edit_params(pipeline_repo, {"train": {"max_depth": 1, "n_estimators": 2}})

    code, _, err = flightdelay("gate", "--base", "main", "--no-champion")
    assert code != 0
    assert "stale" in err
    assert "run `dvc repro`" in err

    run(["dvc", "repro", "--quiet"], pipeline_repo, env)
    run(["git", "commit", "-qam", "shallower trees"], pipeline_repo, env)
    code, out, err = flightdelay("gate", "--base", "main", "--no-champion")

    assert code == GateFailed.exit_code, err
    assert "the candidate must not ship" in err
    assert "is worse than the base" in err  # which comparison failed …
    assert "roc_auc" in err  # … on which metric
    assert "FAIL" in out  # the verdict table
    assert "no champion released yet" in out
    verdict = json.loads((pipeline_repo / "reports/pr/gate.json").read_text())
    assert verdict["passed"] is False
    assert verdict["champion"] is None
    failed = {(c["against"], c["metric"]) for c in verdict["checks"] if not c["passed"]}
    assert ("base", "roc_auc") in failed
    assert verdict["base"]["metrics"]["roc_auc"] > verdict["candidate"]["roc_auc"]

    code, _, err = flightdelay("report", "pr", "--base", "main", "--champion-bundle", str(champion))
    assert code == 0, err

    text = assert_renders(pipeline_repo / "reports/pr")
    assert "❌ **Gate: FAIL**" in text
    assert "worse than the champion" in text
    assert "| `train.max_depth` | `4` | `1` | changed |" in text
    assert "base model (2013-02)" in text  # base model rebuilt from the DVC cache, same holdout
    assert "🔴" in text
    assert re.search(r"\| candidate \| 2 \| [\d,]+ KiB \| \d+\.\d{3} ms \|", text)  # budget
    assert "dvc exp show" in text
