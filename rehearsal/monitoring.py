"""A Prometheus Pushgateway and a Prometheus server on loopback (Debian `prometheus-pushgateway` and
`prometheus`), for the drift job's push and the alert rules that read it."""

from __future__ import annotations

import contextlib
import json
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rehearsal.process import HOST, Process, ServiceError, find_tool, free_port, http_ok, running


@dataclass(frozen=True)
class Pushgateway:
    url: str
    started_in_s: float


@contextlib.contextmanager
def pushgateway(root: Path, timeout_s: float = 30) -> Iterator[Pushgateway]:
    """A Prometheus Pushgateway (Debian `prometheus-pushgateway`), in memory only."""
    binary = find_tool("prometheus-pushgateway", "run `make system` (Debian prometheus-pushgateway)")
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    process = Process.start(
        "Pushgateway",
        # Debian's build persists to a shared file under /var/lib by default: each run starts empty.
        [binary, f"--web.listen-address={HOST}:{port}", "--persistence.file="],
        root / "pushgateway.log",
        cwd=root,
    )
    with running(process):
        url = f"http://{HOST}:{port}"
        took = process.wait_ready(lambda: http_ok(f"{url}/-/ready"), timeout_s)
        yield Pushgateway(url, round(took, 2))


@dataclass(frozen=True)
class Prometheus:
    url: str
    started_in_s: float

    def api(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}{query}", timeout=5) as resp:
            body = json.load(resp)
        if body.get("status") != "success":
            raise ServiceError(f"Prometheus /api/v1/{path}: {body}")
        return body["data"]

    def alerts(self) -> dict[str, str]:
        """{alert name: state ('pending' or 'firing')} of the active alerts."""
        return {a["labels"]["alertname"]: a["state"] for a in self.api("alerts")["alerts"]}

    def query(self, expr: str) -> list[dict[str, Any]]:
        return list(self.api("query", query=expr)["result"])


@contextlib.contextmanager
def prometheus(
    root: Path,
    rule_files: Sequence[Path],
    *,
    scrape: Sequence[str] = (),
    interval: str = "1s",
    timeout_s: float = 60,
) -> Iterator[Prometheus]:
    """Prometheus (Debian `prometheus`) evaluating `rule_files` every `interval` and scraping the
    Pushgateways at `scrape` (base URLs) with honor_labels, as a Pushgateway must be scraped."""
    binary = find_tool("prometheus", "run `make system` (Debian prometheus)")
    root.mkdir(parents=True, exist_ok=True)
    targets = [urllib.parse.urlparse(u).netloc for u in scrape]
    config = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(Path(f).resolve()) for f in rule_files],
        "scrape_configs": [
            {"job_name": "pushgateway", "honor_labels": True, "static_configs": [{"targets": targets}]}
        ]
        if targets
        else [],
    }
    (root / "prometheus.yml").write_text(json.dumps(config, indent=2))  # JSON is YAML
    port = free_port()
    process = Process.start(
        "Prometheus",
        [
            binary,
            f"--config.file={root / 'prometheus.yml'}",
            f"--storage.tsdb.path={root / 'data'}",
            f"--web.listen-address={HOST}:{port}",
        ],
        root / "prometheus.log",
        cwd=root,
    )
    with running(process):
        url = f"http://{HOST}:{port}"
        took = process.wait_ready(lambda: http_ok(f"{url}/-/ready"), timeout_s)
        yield Prometheus(url, round(took, 2))
