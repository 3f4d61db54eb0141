"""The S3 path the workflows and docs advertise, for real: the DVC remote and MLflow's artifact store
on a local S3-compatible server (SeaweedFS), through the project's own DVC and registry adapters.

A job gets what `aws-actions/configure-aws-credentials` exports (keys and region) and, for a
server other than AWS, `AWS_ENDPOINT_URL`, which botocore (hence DVC's s3fs and MLflow) honours;
`DVC_REMOTE_URL=s3://…` needs no other setting. Without `dvc-s3` DVC fails with "s3 is supported,
but requires 'dvc-s3' to be installed"; without `boto3` MLflow cannot write the artifacts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from flightdelay.adapters import dvcio, registry
from flightdelay.core.errors import ToolError
from rehearsal import services
from tests.api.conftest import make_bundle

pytestmark = pytest.mark.slow

BUCKET = "flightdelay"
# What configure-aws-credentials exports, plus the endpoint of an S3 server that is not AWS.
JOB_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_DEFAULT_REGION")


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[services.S3]:
    with services.s3_server(tmp_path_factory.mktemp("s3"), buckets=[BUCKET]) as server:
        yield server


@pytest.fixture(scope="module")
def mlflow(s3: services.S3, tmp_path_factory: pytest.TempPathFactory) -> Iterator[services.Mlflow]:
    with services.mlflow_server(tmp_path_factory.mktemp("mlflow"), f"s3://{BUCKET}/mlflow", s3=s3) as server:
        yield server


@pytest.fixture
def job_env(s3: services.S3, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This process's environment as a workflow job's: S3 credentials and endpoint, nothing else
    of AWS or MLflow's S3 settings (so the endpoint must come from AWS_ENDPOINT_URL)."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "MLFLOW_")):
            monkeypatch.delenv(name)
    full = s3.env()
    env = {name: full[name] for name in JOB_VARIABLES}
    env |= {"AWS_ENDPOINT_URL": s3.endpoint_url, "AWS_EC2_METADATA_DISABLED": "true"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    return env


def keys(s3: services.S3, prefix: str) -> list[str]:
    listing = s3.client().list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return [str(o["Key"]) for o in listing.get("Contents", [])]


def dvc_repo(path: Path) -> Path:
    path.mkdir()
    for cmd in (["git", "init", "-q"], ["dvc", "init", "-q"]):
        subprocess.run(cmd, cwd=path, check=True, capture_output=True)
    (path / "data").mkdir()
    (path / "data" / "2013-01.csv").write_text("month,flights\n2013-01,27004\n")
    dvcio.run("add", "--quiet", "data/2013-01.csv", cwd=path)
    return path


def test_dvc_remote_on_s3_pushes_and_pulls(
    s3: services.S3, job_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = dvc_repo(tmp_path / "repo")
    monkeypatch.setenv(dvcio.REMOTE_ENV, f"s3://{BUCKET}/dvc")
    assert dvcio.configure_remote_from_env(cwd=repo) == f"s3://{BUCKET}/dvc"

    dvcio.run("push", "--quiet", cwd=repo)
    md5 = dvcio.out_md5(repo / "data" / "2013-01.csv.dvc")
    assert md5
    assert f"dvc/files/md5/{md5[:2]}/{md5[2:]}" in keys(s3, "dvc/")

    # A fresh workspace: neither the file nor DVC's cache; only the remote has it.
    (repo / "data" / "2013-01.csv").unlink()
    shutil.rmtree(repo / ".dvc" / "cache")
    dvcio.run("pull", "--quiet", cwd=repo)
    assert (repo / "data" / "2013-01.csv").read_text() == "month,flights\n2013-01,27004\n"

    # The server checks signatures: the success above is not an open bucket.
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    shutil.rmtree(repo / ".dvc" / "cache")
    (repo / "data" / "2013-01.csv").unlink()
    with pytest.raises(ToolError, match="dvc pull"):
        dvcio.run("pull", "--quiet", cwd=repo)


def test_mlflow_registry_artifacts_on_s3(
    s3: services.S3,
    mlflow: services.Mlflow,
    job_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow.tracking_uri)
    bundle = make_bundle(tmp_path / "bundle", seed=7, n_trees=5)

    version = registry.register_bundle(bundle, tags={"git_sha": "0" * 40})

    stored = keys(s3, "mlflow/")
    # The clients wrote the bundle and the logged model straight to S3 (the server proxies nothing).
    assert any(k.endswith("/artifacts/bundle/model.json") for k in stored), stored
    assert any(k.endswith("/MLmodel") for k in stored), stored
    back = registry.download_bundle(version, tmp_path / "downloaded")
    for name in ("model.json", "feature_spec.json", "metadata.json"):
        assert (back / name).read_bytes() == (bundle / name).read_bytes(), name
