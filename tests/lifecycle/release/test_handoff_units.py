"""Small pieces of the model handoff: `dvc status` classified, the champion archive, tool lookup,
and registry failures told apart from an empty registry."""

from __future__ import annotations

import sys
import tarfile
from pathlib import Path

import pytest

from flightdelay.adapters import registry, tools
from flightdelay.adapters.dvcio import parse_status
from flightdelay.core import bundle_archive
from flightdelay.core.errors import ModelError, ToolError


def test_dvc_status_separates_stale_from_absent() -> None:
    # As `dvc status --json` prints it after a merge whose dvc.lock was not reproduced, in a
    # checkout where the model was never pulled.
    status = parse_status(
        {
            "prepare": [
                {"changed deps": {"data/raw": "modified", "params.yaml": {"data.window": "modified"}}}
            ],
            "train": [
                {"changed deps": {"data/features": "deleted"}},
                {"changed outs": {"models/model.json": "deleted"}},
            ],
            "bundle": [{"changed outs": {"models/bundle": "deleted"}}, "changed command"],
            "evaluate": [{"changed outs": {"data/reference/reference.parquet": "not in cache"}}],
        }
    )
    assert status.changed == {
        "prepare": ["dep data/raw modified", "param params.yaml:data.window modified"],
        "bundle": ["changed command"],
    }
    assert status.missing == {"train": ["data/features", "models/model.json"], "bundle": ["models/bundle"]}
    assert not status.clean
    assert parse_status({}).clean


def test_champion_archive_is_reproducible_and_round_trips(tmp_path: Path) -> None:
    src = tmp_path / "bundle"
    src.mkdir()
    (src / "model.json").write_text('{"trees": []}')
    (src / "release.json").write_text('{"version": "3"}')
    a = bundle_archive.pack(src, tmp_path / "a" / "champion.tar.gz")
    (src / "model.json").touch()  # a newer mtime must not change the bytes
    b = bundle_archive.pack(src, tmp_path / "b" / "champion.tar.gz")
    assert a.read_bytes() == b.read_bytes()
    with tarfile.open(a) as tar:
        assert sorted(tar.getnames()) == ["model.json", "release.json"]  # at the root: tar -C DIR
    out = bundle_archive.unpack(a, tmp_path / "out")
    assert (out / "release.json").read_text() == '{"version": "3"}'


def test_champion_archive_refuses_paths_that_leave_it(tmp_path: Path) -> None:
    evil = tmp_path / "evil.tar.gz"
    payload = tmp_path / "x"
    payload.write_text("x")
    with tarfile.open(evil, "w:gz") as tar:
        tar.add(payload, arcname="../escaped")
    with pytest.raises(ModelError, match="cannot be extracted"):
        bundle_archive.unpack(evil, tmp_path / "out")
    assert not (tmp_path / "escaped").exists()


def test_tools_are_found_next_to_the_interpreter_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    venv_bin = tmp_path / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    dvc = venv_bin / "dvc"
    dvc.write_text("#!/bin/sh\n")
    dvc.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(venv_bin / "python"))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert tools.find("dvc") == str(dvc)
    assert tools.child_env()["PATH"].split(":")[0] == str(venv_bin)  # `dvc repro` → this python
    with pytest.raises(ToolError, match="not installed") as e:
        tools.find("no-such-tool-flightdelay")
    dvc.unlink()
    with pytest.raises(ToolError) as e:
        tools.find("dvc")
    assert "make setup" in str(e.value)


def test_registry_errors_name_the_cause_without_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import PERMISSION_DENIED

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "https://alice:s3cret@mlflow.example.com")
    refused = MlflowException(
        "API request to https://mlflow.example.com/api/2.0/mlflow/registered-models/get failed with "
        "exception HTTPSConnectionPool(host='mlflow.example.com', port=443): Max retries exceeded "
        "(Caused by NewConnectionError('[Errno 111] Connection refused'))"
    )
    err = registry.unreadable(refused, "read")
    assert "unreachable (connection refused)" in err.message
    denied = registry.unreadable(MlflowException("nope", error_code=PERMISSION_DENIED), "read")
    assert "403 permission denied" in denied.message
    assert "MLFLOW_TRACKING_TOKEN" in str(denied.hint)
    for e in (err, denied):
        assert "s3cret" not in str(e)
        assert "***@mlflow.example.com" in str(e)


def test_champion_moves_only_forward_along_the_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Overlapping release runs: the release of an older merge must not take `champion` back."""
    import subprocess

    from flightdelay.lifecycle.release import gitops

    def git(*args: str) -> str:
        env = {
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@t",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@t",
        }
        return subprocess.run(
            ["git", *args],
            cwd=tmp_path,
            env={**env, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    git("init", "-q")
    git("commit", "-q", "--allow-empty", "-m", "a")
    old = git("rev-parse", "HEAD")
    git("commit", "-q", "--allow-empty", "-m", "b")
    new = git("rev-parse", "HEAD")
    monkeypatch.chdir(tmp_path)
    assert gitops.is_older(old, new)
    assert not gitops.is_older(new, old)
    assert not gitops.is_older(new, new)
    assert not gitops.is_older(new, "")  # no champion yet: the first release moves it
