"""The drift check's own push, through a real Pushgateway and a real Prometheus evaluating the shipped
alert rules: drift and quality alerts fire, the staleness alert clears.

The rules are `deploy/base/prometheusrule-model.yaml` as shipped (expressions, labels) except the
hold durations (`for:`) and the evaluation interval, shortened to one second so the test takes
seconds; the promtool tests in monitoring/promtool cover the durations.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from flightdelay.lifecycle.drift import outputs
from rehearsal import services
from tests.helpers import REPO_ROOT, wait_for
from tests.lifecycle.drift.summaries import drift_summary

pytestmark = pytest.mark.slow

RULES = REPO_ROOT / "deploy" / "base" / "prometheusrule-model.yaml"
QUALITY, DRIFT, STALE = (
    "FlightdelayModelQualityBelowFloor",
    "FlightdelayFeatureDrift",
    "FlightdelayDriftJobStale",
)


def fast_rules(dest: Path) -> Path:
    """The PrometheusRule's groups as a plain rules file, evaluated every second, held for one."""
    doc = yaml.safe_load(RULES.read_text())
    groups = doc["spec"]["groups"]
    for group in groups:
        group["interval"] = "1s"
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = "1s"
    assert {r["alert"] for g in groups for r in g["rules"]} >= {QUALITY, DRIFT, STALE}
    dest.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return dest


def test_the_drift_push_fires_the_drift_and_quality_alerts(tmp_path: Path) -> None:
    # drifted share 0.5; ROC AUC 0.69 below the 0.72 floor
    checked = drift_summary(status="drift", roc=0.69, checked_at_unix=int(time.time()))
    with (
        services.pushgateway(tmp_path / "pushgateway") as gateway,
        services.prometheus(
            tmp_path / "prometheus", [fast_rules(tmp_path / "model.rules.yaml")], scrape=[gateway.url]
        ) as prometheus,
    ):
        # Nothing pushed yet: the staleness alert is what fires.
        wait_for(f"{STALE} firing before any push", lambda: prometheus.alerts().get(STALE) == "firing")

        # As `flightdelay drift check` does when PUSHGATEWAY_URL is set.
        url = outputs.gateway_url({"PUSHGATEWAY_URL": gateway.url})
        assert url
        outputs.push(url, outputs.render_prom(checked))

        def fired() -> dict[str, str] | None:
            alerts = prometheus.alerts()
            return alerts if alerts.get(QUALITY) == alerts.get(DRIFT) == "firing" else None

        try:
            alerts = wait_for(f"{QUALITY} and {DRIFT} firing after the push", fired)
        except AssertionError as e:
            pushed = prometheus.query('{__name__=~"flightdelay_.*"}')
            jobs = sorted({s["metric"].get("job", "") for s in pushed})
            raise AssertionError(f"{e}; alerts {prometheus.alerts()}; pushed series carry job={jobs}") from e
        assert alerts[QUALITY] == alerts[DRIFT] == "firing"
        wait_for(f"{STALE} cleared after the push", lambda: STALE not in prometheus.alerts())

        values = {a["labels"]["alertname"]: float(a["value"]) for a in prometheus.api("alerts")["alerts"]}
        assert values[DRIFT] == pytest.approx(0.5)  # the alert carries the drifted share
        assert values[QUALITY] == pytest.approx(0.69)
