"""Where the gate's champion comes from: the registry (read, or fail closed) or the champion
archive a release writes (no credentials); and a re-run release writes both outputs again."""

from __future__ import annotations

import contextlib
import http.server
import json
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import edit_params
from tests.lifecycle.release.conftest import cli, git

pytestmark = pytest.mark.slow


def closed_port_uri() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


@contextlib.contextmanager
def answering(status: int) -> Iterator[str]:
    """A loopback server that answers every request with `status` (a proxy refusing the token)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<html>denied</html>")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def verdict(repo: Path) -> dict[str, object]:
    return dict(json.loads((repo / "reports/pr/gate.json").read_text()))


def test_rerunning_a_release_writes_release_json_and_the_champion_archive(
    release_repo: Path, registry: str
) -> None:
    repo = release_repo
    merged = git(repo, "rev-parse", "HEAD")
    cli(repo, registry, "release")
    first = repo.parent / "first-build"
    shutil.move(repo / "build", first)  # the re-run happens on a fresh runner: no build/ folder
    assert json.loads((first / "model/release.json").read_text())["version"] == "1"

    # The re-run of a job that failed after the release (say, the image push), checked out at
    # the merged commit.
    git(repo, "checkout", "-q", merged)
    rerun = cli(repo, registry, "release")
    assert "nothing to do" in rerun.stderr
    release_json = repo / "build/model/release.json"
    assert release_json.is_file(), "the next workflow step reads it"  # before: FileNotFoundError
    assert "v1 already released as model-v1" in rerun.stdout
    assert release_json.read_text() == (first / "model/release.json").read_text()
    assert (repo / "build/champion.tar.gz").read_bytes() == (first / "champion.tar.gz").read_bytes()


def test_gate_reads_the_champion_or_fails_closed(
    release_repo: Path, registry: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = release_repo
    # the small test model passes them (its holdout and backtest score about 0.62)
    edit_params(repo, {"gate": {"floors": {"roc_auc": 0.5}, "backtest_floors": {"mean_roc_auc": 0.5}}})
    git(repo, "commit", "-qam", "gate floors for a small model")
    cli(repo, registry, "release")
    archive = repo / "build/champion.tar.gz"
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # fail fast on the dead addresses

    # A reachable registry: its champion is re-scored.
    cli(repo, registry, "gate", "--base", "HEAD")
    assert verdict(repo)["champion"]["version"] == "1"  # type: ignore[index]

    # A configured registry that cannot be read is an error, never "no champion released yet".
    down = closed_port_uri()
    with answering(401) as unauthorised, answering(503) as broken:
        for uri, reason in ((down, "unreachable"), (unauthorised, "401"), (broken, "server errors (5xx)")):
            failed = cli(repo, uri, "gate", "--base", "HEAD", check=False)
            assert failed.returncode == 7, (uri, failed.stdout, failed.stderr)
            assert reason in failed.stderr
            assert "--champion-bundle" in failed.stderr  # the way that needs no registry
            assert "Traceback" not in failed.stderr
            assert "no champion released yet" not in failed.stdout

    # The read-only way for pull requests: the release's archive, with the registry down.
    cli(repo, down, "gate", "--base", "HEAD", "--champion-bundle", str(archive))
    assert verdict(repo)["champion"]["version"] == "1"  # type: ignore[index]
    cli(repo, down, "report", "pr", "--base", "HEAD", "--champion-bundle", str(archive))
    assert "champion 1" in (repo / "reports/pr/report.md").read_text()

    # Neither a bundle nor a registry: gated on floors and base, and the report says so loudly.
    unset = cli(repo, "", "report", "pr", "--base", "HEAD")
    assert unset.returncode == 0
    report = (repo / "reports/pr/report.md").read_text()
    head = report.split("## Metrics")[0]
    assert "[!WARNING]" in head
    assert "No champion compared" in head
    assert verdict(repo)["warnings"]
