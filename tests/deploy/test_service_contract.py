"""The manifests and the monitoring catalog speak the service's current names.

A renamed setting left in the ConfigMap is ignored without a word (pydantic-settings reads only the
variables it knows), and a metric missing from monitoring/metrics.yaml, or listed with labels it
no longer has, cannot be alerted on correctly; both are caught here instead.
"""

from __future__ import annotations

from typing import Any

import yaml
from prometheus_client.metrics import MetricWrapperBase

from api.metrics import Metrics
from api.settings import Settings
from tests.deploy.conftest import Obj, find
from tests.helpers import REPO_ROOT

# Read outside Settings: where the built C kernel is looked for (api/ckernel.py).
OTHER_VARIABLES = {"FOREST_KERNEL_DIR"}
SUFFIX = {"counter": "_total", "histogram": "", "gauge": ""}


def _environment(docs: list[Obj]) -> set[str]:
    """Every variable the Deployment's containers are given (ConfigMaps by envFrom, and env)."""
    maps = {d["metadata"]["name"]: d.get("data") or {} for d in docs if d["kind"] == "ConfigMap"}
    names: set[str] = set()
    for c in find(docs, "Deployment", "flightdelay")["spec"]["template"]["spec"]["containers"]:
        for src in c.get("envFrom") or []:
            names |= set(maps[src["configMapRef"]["name"]])
        names |= {e["name"] for e in c.get("env") or []}
    return names


def test_every_variable_the_manifests_set_is_a_setting_the_service_reads(
    rendered: dict[str, list[Obj]],
) -> None:
    known = {name.upper() for name in Settings.model_fields} | OTHER_VARIABLES
    for overlay in ("staging", "production"):
        given = _environment(rendered[overlay])
        assert {"MODEL_DIR", "PREDICTION_LOG", "ADMIN_TOKEN"} <= given  # the scan sees both sources
        unknown = sorted(given - known)
        assert not unknown, (
            f"{overlay} sets {unknown}, which the service does not read (api/settings.py); "
            "a renamed setting is ignored silently: use its new name"
        )


def test_the_service_section_of_the_metric_catalog_is_what_api_metrics_registers() -> None:
    registered: dict[str, dict[str, Any]] = {}
    for collector in Metrics().registry._collector_to_names:
        assert isinstance(collector, MetricWrapperBase)
        kind = collector._type
        registered[collector._name + SUFFIX[kind]] = {"type": kind, "labels": list(collector._labelnames)}
    catalog = yaml.safe_load((REPO_ROOT / "monitoring" / "metrics.yaml").read_text())["service"]
    assert catalog == registered
