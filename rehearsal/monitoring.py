"""A Prometheus Pushgateway and a Prometheus server on loopback (Debian `prometheus-pushgateway` and
`prometheus`), for the drift job's push and the alert rules that read it."""

from __future__ import annotations

import contextlib
import json
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
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
    services: Mapping[str, tuple[str, Mapping[str, str]]] | None = None,
    interval: str = "1s",
    timeout_s: float = 60,
) -> Iterator[Prometheus]:
    """Prometheus (Debian `prometheus`) evaluating `rule_files` every `interval` and scraping the
    Pushgateways at `scrape` (base URLs) with honor_labels, as a Pushgateway must be scraped, and
    `services` ({job name: (base URL, target labels)}, e.g. the service's /metrics with the
    namespace label a ServiceMonitor would add)."""
    binary = find_tool("prometheus", "run `make system` (Debian prometheus)")
    root.mkdir(parents=True, exist_ok=True)
    targets = [urllib.parse.urlparse(u).netloc for u in scrape]
    jobs: list[dict[str, Any]] = [
        {"job_name": "pushgateway", "honor_labels": True, "static_configs": [{"targets": targets}]}
    ]
    jobs = jobs if targets else []
    for job, (url, labels) in (services or {}).items():
        target = urllib.parse.urlparse(url).netloc
        jobs.append({"job_name": job, "static_configs": [{"targets": [target], "labels": dict(labels)}]})
    config = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(Path(f).resolve()) for f in rule_files],
        "scrape_configs": jobs,
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


def deployed_rules(dest: Path, overlay: Path, hold: str = "1s") -> list[Path]:
    """The PrometheusRule objects `overlay` renders (`kubectl kustomize`, as Argo CD deploys them)
    as plain rule files in `dest`, evaluated every `hold` and held (`for:`) for `hold`: the
    expressions, labels and annotations as deployed, at a pace a test can wait for."""
    import subprocess

    import yaml

    kubectl = find_tool("kubectl", "install kubectl (it includes kustomize)")
    proc = subprocess.run(
        [str(kubectl), "kustomize", str(overlay)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise ServiceError(f"kubectl kustomize {overlay} failed:\n{proc.stderr.strip()}")
    dest.mkdir(parents=True, exist_ok=True)
    files = []
    for doc in yaml.safe_load_all(proc.stdout):
        if not doc or doc.get("kind") != "PrometheusRule":
            continue
        groups = doc["spec"]["groups"]
        for group in groups:
            group["interval"] = hold
            for rule in group["rules"]:
                if "for" in rule:
                    rule["for"] = hold
        path = dest / f"{doc['metadata']['name']}.rules.yaml"
        path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
        files.append(path)
    return files
