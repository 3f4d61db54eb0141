"""Start-up as a person meets it: a bundle or a setting that cannot serve is one line saying what to
do next, printed once by gunicorn's master (not once per worker), and a non-zero exit; logs are
plain text on request (a terminal) and JSON lines otherwise."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from api import logs, preflight
from tests.api.server import REPO_ROOT, Gunicorn, free_port

pytestmark = pytest.mark.slow


def start(model_dir: Path, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """gunicorn as `make serve` runs it, with two workers, expected to exit on its own."""
    full = {
        k: v for k, v in os.environ.items() if k not in ("PROMETHEUS_MULTIPROC_DIR", "MODEL_CONTROL_FILE")
    }
    full |= {"MODEL_DIR": str(model_dir), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom"), **env}
    cmd = [sys.executable, "-m", "gunicorn", "-c", "api/gunicorn.conf.py", "--workers", "2"]
    cmd += ["--bind", f"127.0.0.1:{free_port()}", "api.main:app"]
    return subprocess.run(
        cmd, cwd=REPO_ROOT, env=full, capture_output=True, text=True, timeout=60, check=False
    )


def lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]


def test_a_missing_bundle_is_one_line_with_the_next_step(tmp_path: Path) -> None:
    proc = start(tmp_path / "models" / "bundle", tmp_path)
    assert proc.returncode == 5, proc
    said = lines(proc)
    assert len(said) == 1, said  # no traceback, nothing per worker
    assert said[0].startswith(preflight.PREFIX)
    assert f"no model bundle at {tmp_path / 'models' / 'bundle'} (MODEL_DIR)" in said[0]
    assert "next: `make serve` builds it" in said[0]


def test_a_corrupt_bundle_is_one_line_naming_the_file(bundles: tuple[Path, Path], tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(bundles[0], bad)
    (bad / "model.json").write_text("{ not a model")
    said = lines(start(bad, tmp_path))
    assert len(said) == 1, said
    assert said[0].startswith(preflight.PREFIX) and "model.json" in said[0] and "next:" in said[0]


def test_an_invalid_setting_is_one_line_naming_the_variable(
    bundles: tuple[Path, Path], tmp_path: Path
) -> None:
    proc = start(bundles[0], tmp_path, LOG_FORMAT="yaml")
    said = lines(proc)
    assert proc.returncode == 2
    assert len(said) == 1 and "LOG_FORMAT" in said[0], said


def test_logs_are_json_lines_unless_text_is_asked_for(bundles: tuple[Path, Path], tmp_path: Path) -> None:
    for fmt in ("auto", "text"):  # auto: stdout is a file here, not a terminal
        srv = Gunicorn(bundles[0], tmp_path / fmt, workers=1, env={"LOG_LEVEL": "info", "LOG_FORMAT": fmt})
        with srv:
            pass
        said = [line for line in srv.log().splitlines() if "Booting worker" in line]
        assert said, srv.log()
        if fmt == "auto":
            assert json.loads(said[0])["logger"] == "gunicorn.error"
        else:
            assert " INFO    gunicorn.error: Booting worker with pid" in said[0], said[0]


def test_auto_is_text_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert logs.resolve_format("auto") == "text"
    assert logs.resolve_format("JSON") == "json"
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False)
    assert logs.resolve_format("") == "json"
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        logs.resolve_format("yaml")
