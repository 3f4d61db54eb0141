"""The redaction helper masks every kind of secret a URL or a message may carry, and leaves
ordinary text alone; the Pushgateway push sends URL credentials as basic auth, not in the URL."""

from __future__ import annotations

import base64
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from flightdelay.core import redact
from flightdelay.core.errors import ToolError
from flightdelay.core.progress import say
from flightdelay.lifecycle.drift import outputs

PLANTED = "s3cr" + "etPa55"  # a fake credential the tests look for (split: no literal secret)

MASKED = [
    (f"http://alice:{PLANTED}@mlflow.example.com:5000/api", "http://***@mlflow.example.com:5000/api"),
    (f"https://{PLANTED}@github.com/org/repo.git", "https://***@github.com/org/repo.git"),
    (f"http://pg:9091/metrics?token={PLANTED}&job=x", "http://pg:9091/metrics?token=***&job=x"),
    (f"s3://bucket/m?X-Amz-Signature={PLANTED}", "s3://bucket/m?X-Amz-Signature=***"),
    (f"Authorization: Bearer {PLANTED}.x", "Authorization: Bearer ***"),
    ("Authorization: Basic YWxpY2U6c2VjcmV0", "Authorization: Basic ***"),
    (f"AWS_SECRET_ACCESS_KEY={PLANTED}", "AWS_SECRET_ACCESS_KEY=***"),
    (f'{{"password": "{PLANTED}"}}', '{"password": "***"}'),
    ("key id AKIA" + "IOSFODNN7EXAMPLE", "key id ***"),
]
KEPT = [
    "sqlite:///mlflow.db",
    "s3://bucket/path",
    "http://127.0.0.1:5000",
    "git@github.com:org/repo.git",
    "check MLFLOW_TRACKING_USERNAME/PASSWORD from secrets: they must be set",
    "a basic configuration with the token budget",
]


@pytest.mark.parametrize(("raw", "shown"), MASKED)
def test_secrets_are_masked(raw: str, shown: str) -> None:
    assert redact.text(raw, env={}) == shown


@pytest.mark.parametrize("raw", KEPT)
def test_ordinary_text_is_kept(raw: str) -> None:
    assert redact.text(raw, env={}) == raw


def test_secret_environment_values_are_masked_wherever_they_appear() -> None:
    """A password printed on its own (e.g. by a library error) is still found."""
    other = PLANTED[::-1]
    env = {"MLFLOW_TRACKING_PASSWORD": other, "PUSHGATEWAY_URL": f"http://pg:{PLANTED}@gw:9091"}
    assert (
        redact.text(f"nonnumeric port: '{PLANTED}@gw:9091' ({other})", env)
        == "nonnumeric port: '***@gw:9091' (***)"
    )


def test_status_lines_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    say(f"train: MLflow run at http://alice:{PLANTED}@mlflow:5000")
    assert PLANTED not in capsys.readouterr().err


@pytest.fixture
def gateway() -> Iterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.append({"path": self.path, "auth": self.headers.get("Authorization", "")})
            self.send_response(401 if "Authorization" not in self.headers else 200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def test_push_sends_url_credentials_as_basic_auth(gateway: tuple[str, list[dict[str, str]]]) -> None:
    host, seen = gateway
    outputs.push(f"http://pg:{PLANTED}@{host}/", "x 1\n")
    assert seen == [
        {
            "path": f"/metrics/job/{outputs.PUSH_JOB}",
            "auth": "Basic " + base64.b64encode(f"pg:{PLANTED}".encode()).decode(),
        }
    ]


def test_push_errors_do_not_print_the_credentials(gateway: tuple[str, list[dict[str, str]]]) -> None:
    host, _ = gateway
    with pytest.raises(ToolError) as e:
        outputs.push(f"http://{host}/?token={PLANTED}", "x 1\n")  # no basic auth: 401
    assert "401" in str(e.value) and PLANTED not in str(e.value)


def test_an_unexpected_crash_prints_a_redacted_traceback(tmp_path: Path) -> None:
    """An exception the CLI does not expect still shows its traceback, without the credentials
    a library put in its message."""
    crash = (
        "from flightdelay import cli\n"
        "cli.main(['--params', 'missing.yaml', 'data', 'list'])\n"
        f"raise RuntimeError('API request to http://alice:{PLANTED}@mlflow:5000/api failed')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", crash], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 1
    assert "RuntimeError: API request to http://***@mlflow:5000/api failed" in proc.stderr, proc.stderr
    assert PLANTED not in proc.stdout + proc.stderr
