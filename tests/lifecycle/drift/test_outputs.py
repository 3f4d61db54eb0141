"""Prometheus text, the Pushgateway push (real HTTP on loopback) and the issue body."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from flightdelay.core.errors import ConfigError, ToolError
from flightdelay.lifecycle.drift import outputs
from tests.lifecycle.drift.summaries import drift_summary as summary


def test_prometheus_text_has_the_alerting_names_and_nan_for_unknowns() -> None:
    text = outputs.render_prom(summary(roc=None))
    assert "flightdelay_drift_share 0.5\n" in text
    assert "flightdelay_drift_detected 1.0\n" in text
    assert "flightdelay_model_quality_roc_auc NaN\n" in text
    assert "flightdelay_model_quality_floor NaN\n" in text
    assert text.count("# TYPE ") == 7
    labelled = outputs.render_prom(summary(roc=0.71))
    assert "flightdelay_model_quality_roc_auc 0.71\n" in labelled
    assert "flightdelay_model_quality_floor 0.72\n" in labelled


def test_issue_body_names_columns_quality_trigger_and_evidence() -> None:
    md = outputs.render_markdown(summary(), run_url="https://ci.example/run/1")
    assert md.startswith(outputs.MARKER)
    assert "## Drift detected" in md
    assert "| temp | wasserstein | 2.500 | 0.1 | 0.060 | **yes** |" in md
    assert "| wind_gust | wasserstein | – | 0.1 | 0.040 | not compared |" in md
    assert "**below the floor**" in md
    assert "**retraining requested**" in md
    assert "(https://ci.example/run/1)" in md


class _Sink(http.server.BaseHTTPRequestHandler):
    received: list[tuple[str, str, bytes]] = []  # noqa: RUF012 (test sink)

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.command, self.path, body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def gateway() -> Iterator[str]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Sink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_push_puts_the_text_file_under_the_job(gateway: str) -> None:
    _Sink.received.clear()
    text = outputs.render_prom(summary())
    outputs.push(gateway + "/", text)
    assert _Sink.received == [("PUT", "/metrics/job/flightdelay-drift", text.encode())]


def test_push_refuses_non_http_urls_and_reports_unreachable_gateways() -> None:
    with pytest.raises(ConfigError, match="not an http"):
        outputs.push("file:///etc/passwd", "x")
    assert outputs.gateway_url({}) is None
    assert outputs.gateway_url({"PUSHGATEWAY_URL": " http://pg:9091 "}) == "http://pg:9091"
    with pytest.raises(ToolError, match="cannot push"):
        outputs.push("http://127.0.0.1:9", "x", timeout=2)
