"""A real `mlflow server` on loopback (one per session) and release-ready git repositories.

The backend store is SQLite in a temp dir, or a fresh database in the PostgreSQL cluster named by
$FLIGHTDELAY_TEST_PG_DSN (e.g. postgresql://user@127.0.0.1:5432/postgres), dropped afterwards.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import Result, flightdelay, repo_env, run

PG_DSN_ENV = "FLIGHTDELAY_TEST_PG_DSN"
IMAGE_REPO = "ghcr.io/example-org/flightdelay"
OVERLAY = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
# {env}: hand-written settings above the managed block must survive a bump
resources:
  - ../../base
namePrefix: {env}-

images:
  # managed by `flightdelay release` — do not edit by hand
  - name: flightdelay
    newName: ghcr.io/example-org/flightdelay
    newTag: model-v0-bootstrap
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_database(dsn: str) -> tuple[str, str]:
    """Create a throwaway database in the cluster behind `dsn`; returns (its DSN, its name)."""
    import psycopg2

    name = f"flightdelay_test_{uuid.uuid4().hex[:8]}"
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    conn.close()
    base, _, _ = dsn.rpartition("/")
    # SQLAlchemy's default PostgreSQL driver is psycopg 3; this environment ships psycopg2.
    scheme, sep, rest = base.partition("://")
    return f"{scheme.split('+')[0]}+psycopg2{sep}{rest}/{name}", name


def _pg_drop(dsn: str, name: str) -> None:
    import psycopg2

    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    conn.close()


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    uri: str
    log: Path


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`mlflow server` on 127.0.0.1:<free port>, started without waiting: it boots while the
    pipeline repository builds (`registry` waits for it)."""
    root = tmp_path_factory.mktemp("mlflow")
    pg = os.environ.get(PG_DSN_ENV, "").strip()
    if pg:
        backend, dbname = _pg_database(pg)
    else:
        backend, dbname = f"sqlite:///{root / 'mlflow.db'}", ""
    port = _free_port()
    log = root / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlflow",
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--backend-store-uri",
                backend,
                "--artifacts-destination",
                str(root / "artifacts"),
                "--workers",
                "1",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        )
    try:
        yield Server(proc, f"http://127.0.0.1:{port}", log)
    finally:
        with contextlib.suppress(ProcessLookupError):  # it may have died on its own
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if dbname:
            _pg_drop(pg, dbname)


def _wait_healthy(server: Server, timeout_s: float = 240) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"{server.uri}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if server.proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"mlflow server did not start:\n{server.log.read_text()}")
        time.sleep(0.3)


@pytest.fixture
def registry(mlflow_server: Server, monkeypatch: pytest.MonkeyPatch) -> str:
    """The server's URI, with `flight-delay` deleted so each test starts from an empty registry."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    _wait_healthy(mlflow_server)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.uri)
    client = MlflowClient(tracking_uri=mlflow_server.uri)
    with contextlib.suppress(MlflowException):  # absent on the first test
        client.delete_registered_model("flight-delay")
    return mlflow_server.uri


def write_overlays(repo: Path) -> None:
    for env in ("staging", "production"):
        d = repo / "deploy" / "overlays" / env
        d.mkdir(parents=True, exist_ok=True)
        (d / "kustomization.yaml").write_text(OVERLAY.format(env=env))


def with_overlays(repo: Path, uri: str) -> Path:
    """`repo` with the deployment overlays committed."""
    write_overlays(repo)
    env = env_for(repo, uri)
    run(["git", "add", "deploy"], repo, env)
    run(["git", "commit", "-qm", "deploy: overlays"], repo, env)
    return repo


@pytest.fixture
def release_repo(mlflow_server: Server, pipeline_repo: Path, registry: str) -> Path:
    """A built pipeline repo with the deployment overlays committed, pointed at the server."""
    return with_overlays(pipeline_repo, registry)


@pytest.fixture
def retrained_release_repo(mlflow_server: Server, retrained_pipeline_repo: Path, registry: str) -> Path:
    """`release_repo` with the branch retrain/2013-03 that `retrain prepare` commits."""
    return with_overlays(retrained_pipeline_repo, registry)


def env_for(repo: Path, uri: str) -> dict[str, str]:
    """Environment of a command in `repo`: git identity, DVC quiet, the test server."""
    return {**repo_env(repo), "MLFLOW_TRACKING_URI": uri}


def cli(repo: Path, uri: str, *args: str, check: bool = True, env: dict[str, str] | None = None) -> Result:
    """`flightdelay <args>` in `repo` against the server at `uri`, in this process; the concurrency
    and kill tests run real separate processes."""
    return flightdelay(repo, *args, env={"MLFLOW_TRACKING_URI": uri, **(env or {})}, check=check)


def git(repo: Path, *args: str) -> str:
    return run(["git", *args], repo, repo_env(repo)).stdout.strip()
