"""The alert rules as deployed, evaluated by a real Prometheus against real series: the service's own
/metrics (gunicorn on loopback, real traffic) and the pushes of `monitor outcomes` (real prediction
log, real join) and of the drift check, through a real Pushgateway.

The rules are the PrometheusRule objects rendered from the production overlay (`kubectl
kustomize`, rehearsal.monitoring.deployed_rules), with only the evaluation interval and the hold
durations (`for:`) shortened to a second, so the test takes seconds; monitoring/promtool covers
the durations. Prometheus scrapes the service as the ServiceMonitor does (job="flightdelay", the
namespace label) and the Pushgateway with honor_labels. Checked through Prometheus's HTTP API:
which alerts fire, which stay silent, and that every selector of every rule and dashboard panel
matches a series the code produced (a selector on a label nobody produces — the drift job's old
name — fails).
"""

from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from flightdelay.core import bundle
from flightdelay.core.params import load_params
from flightdelay.lifecycle.drift import feedback, outputs, schema
from rehearsal import services
from rehearsal.monitoring import deployed_rules
from tests.api.conftest import make_bundle
from tests.api.server import Gunicorn, request
from tests.helpers import REPO_ROOT, wait_for
from tests.lifecycle.drift.summaries import drift_summary

sys.path.insert(0, str(REPO_ROOT / "scripts"))
from check_alerts import unmatched_selectors

pytestmark = pytest.mark.slow

NAMESPACE = "flightdelay-production"
FIRING = {
    "FlightdelayHighLatencyP99",  # slow clients: the request's time includes reading its body
    "FlightdelayLiveAccuracyBelowFloor",  # outcomes that contradict the scores
    "FlightdelayLiveRocAucBelowRelease",
    "FlightdelayLiveCalibrationError",
}
EXTERNAL = {"kube_deployment_status_replicas_available"}  # kube-state-metrics, not this code
DASHBOARD = REPO_ROOT / "monitoring" / "dashboards" / "flightdelay.json"


@dataclass
class Stack:
    prometheus: services.Prometheus
    groups: list[dict[str, Any]]
    summary: schema.LiveQuality


def future_flights(n: int) -> list[dict[str, Any]]:
    """n distinct flights in July 2027 (ahead of the predictions: genuine forecasts)."""
    rng = np.random.default_rng(11)
    return [
        {
            "year": 2027,
            "month": 7,
            "day": 1 + i % 21,
            "sched_dep_time": 600 + (i // 21) % 12 * 100 + i % 50,
            "sched_arr_time": 2100,
            "carrier": ["B6", "UA", "DL", "AA"][i % 4],
            "flight": 1 + i,
            "origin": ["JFK", "EWR", "LGA"][i % 3],
            "dest": "BOS",
            "distance": 187,
            "temp": float(rng.uniform(40, 95)),
            "humid": float(rng.uniform(20, 100)),
            "wind_speed": float(rng.uniform(0, 30)),
            "visib": float(rng.uniform(0, 10)),
        }
        for i in range(n)
    ]


def slow_request(port: int, body: bytes, pause_s: float) -> int:
    """A client that sends half the body, waits, then the rest (a slow mobile link)."""
    head = (
        f"POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head + body[: len(body) // 2])
        time.sleep(pause_s)
        s.sendall(body[len(body) // 2 :])
        return int(s.recv(64).split()[1])


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("live-prometheus")
    # A synthetic model whose scores for these flights spread (seed 4 with the schedule fields gave a
    # few tied values: the "contradicting" outcomes below then held one class).
    model = make_bundle(tmp / "bundle", seed=5, n_trees=10)
    log = tmp / "predictions.jsonl"
    env = {
        "PREDICTION_LOG": str(log),
        "PREDICTION_LOG_SAMPLE_RATE": "1.0",
        "MAX_BATCH_ROWS": "100",
        "REQUEST_TIMEOUT_SECONDS": "1",
    }
    files = deployed_rules(tmp / "rules", REPO_ROOT / "deploy" / "overlays" / "production")
    groups = [g for f in files for g in yaml.safe_load(f.read_text())["groups"]]
    with (
        Gunicorn(model, tmp / "gunicorn", workers=1, env=env) as srv,
        services.pushgateway(tmp / "pushgateway") as gateway,
        services.prometheus(
            tmp / "prometheus",
            files,
            scrape=[gateway.url],
            services={"flightdelay": (srv.url, {"namespace": NAMESPACE})},
        ) as prom,
    ):
        # Prometheus must see the counters before and after the traffic: a rate needs both.
        wait_for("a first scrape of the service", lambda: prom.query('up{job="flightdelay"} == 1'))
        flights = future_flights(700)
        for i in range(0, len(flights), 50):
            status, _ = request(
                srv.port, "POST", "/v1/predict", json.dumps({"flights": flights[i : i + 50]}).encode()
            )
            assert status == 200
        one = json.dumps({"flights": flights[:1]}).encode()
        assert all(slow_request(srv.port, one, 0.3) == 200 for _ in range(4))
        # One client stalls past the deadline (504, a real 5xx) among 200 quick requests whose
        # flights carry no number (logged, not joinable): a 5xx ratio under the alert's 1 %.
        assert slow_request(srv.port, one, 1.3) == 504
        unnamed = json.dumps({"flights": [{k: v for k, v in flights[1].items() if k != "flight"}]}).encode()
        assert all(request(srv.port, "POST", "/v1/predict", unnamed)[0] == 200 for _ in range(200))
        wait_for(
            "the prediction log holding every prediction",
            lambda: log.exists() and len(log.read_text().splitlines()) >= 904,
        )

        # Outcomes arrive: they contradict the scores (the model has stopped predicting well).
        lines = [json.loads(x) for x in log.read_text().splitlines()]
        scores = {x["flight_key"]: x["score"] for x in lines if x["flight_key"]}
        median = float(np.median(list(scores.values())))
        frame = pd.DataFrame(flights)
        key = frame.apply(
            lambda r: f"{r.carrier}-{r.flight}-{r.origin}-2027-07-{r.day:02d}-{r.sched_dep_time:04d}", axis=1
        )
        frame["arr_delay"] = np.where(key.map(scores) < median, 90.0, -10.0)
        outcomes = tmp / "outcomes.csv"
        frame.to_csv(outcomes, index=False)
        p = load_params(REPO_ROOT / "params.yaml")
        lv = p.drift.live.model_copy(update={"min_joined_rows": 100})
        p = p.model_copy(update={"drift": p.drift.model_copy(update={"live": lv})})
        summary = feedback.run(
            p,
            log,
            [str(outcomes)],
            bundle_dirs=[model],
            out_dir=tmp / "live",
            store_path=tmp / "live" / "joined.parquet",
            env={"PUSHGATEWAY_URL": gateway.url},
        )
        counts = summary.join.counts
        assert counts["newly_joined"] == 704  # flight 1 predicted 5 times: 5 rows
        assert counts["unkeyed_predictions"] == 200
        assert bundle.load(model).version == summary.release.version
        # The drift check's own push (no drift, quality above its floor), as `drift check` does.
        checked = drift_summary(status="no_drift", roc=0.78, checked_at_unix=int(time.time()))
        outputs.push(gateway.url, outputs.render_prom(checked))
        yield Stack(prom, groups, summary)


def test_the_right_alerts_fire_and_the_others_stay_silent(stack: Stack) -> None:
    prom = stack.prometheus
    loaded = {r["name"] for g in prom.api("rules")["groups"] for r in g["rules"]}
    every = {r["alert"] for g in stack.groups for r in g["rules"] if "alert" in r}
    assert loaded == every and every > FIRING  # the deployed rules, all of them

    def fired() -> dict[str, str] | None:
        alerts = prom.alerts()
        return alerts if all(alerts.get(n) == "firing" for n in FIRING) else None

    try:
        wait_for(f"{sorted(FIRING)} firing", fired)
    except AssertionError as e:
        raise AssertionError(f"{e}; active: {prom.alerts()}") from e
    time.sleep(2)  # a few more evaluations: nothing else may start
    alerts = prom.alerts()
    assert set(alerts) == FIRING, (
        f"silent alerts went { ({k: v for k, v in alerts.items() if k not in FIRING}) }"
    )
    values = {a["labels"]["alertname"]: a for a in prom.api("alerts")["alerts"]}
    week = stack.summary.newest_week
    assert week is not None and week.roc_auc is not None and week.accuracy is not None
    assert float(values["FlightdelayLiveRocAucBelowRelease"]["value"]) == pytest.approx(week.roc_auc.upper)
    assert float(values["FlightdelayLiveAccuracyBelowFloor"]["value"]) == pytest.approx(week.accuracy.upper)
    assert values["FlightdelayHighLatencyP99"]["labels"]["namespace"] == NAMESPACE
    assert values["FlightdelayLiveAccuracyBelowFloor"]["labels"]["window"] == "week"


def exprs_of_rules(groups: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(r.get("alert") or r["record"], r["expr"]) for g in groups for r in g["rules"]]


def test_every_rule_selector_matches_a_series_the_code_produces(stack: Stack) -> None:
    wait_for("the live figures scraped", lambda: stack.prometheus.query("flightdelay_live_roc_auc"))
    assert unmatched_selectors(exprs_of_rules(stack.groups), stack.prometheus.query, EXTERNAL) == []
    # The deployed rules with a label value the code does not produce: every rule that selects it
    # is reported (the drift job's old name; a service job renamed; a window nobody pushes).
    for wrong, right in (
        ('job="flightdelay_drift"', 'job="flightdelay-drift"'),
        ('job="flightdelay-api"', 'job="flightdelay"'),
        ('window="weekly"', 'window="week"'),
    ):
        mutated = [(name, expr.replace(right, wrong)) for name, expr in exprs_of_rules(stack.groups)]
        selecting = {name for name, expr in mutated if wrong in expr}
        found = unmatched_selectors(mutated, stack.prometheus.query, EXTERNAL)
        assert selecting and {f.split(":")[0] for f in found} == selecting, wrong


def test_every_dashboard_query_reads_real_series(stack: Stack) -> None:
    board = json.loads(DASHBOARD.read_text())
    exprs = [
        (
            f"panel {p['title']!r}",
            t["expr"].replace("$namespace", NAMESPACE).replace("$__rate_interval", "1m"),
        )
        for p in board["panels"]
        for t in p.get("targets") or []
    ]
    titles = {p["title"] for p in board["panels"]}
    assert {
        "Live ROC AUC (newest 7 days) vs release",
        "Outcomes feedback: joined flights and the join's counts",
    } <= titles
    wait_for("the live figures scraped", lambda: stack.prometheus.query("flightdelay_outcomes_rows"))
    assert unmatched_selectors(exprs, stack.prometheus.query, EXTERNAL) == []
    for where, expr in exprs:  # and each query is valid PromQL for this Prometheus
        try:
            stack.prometheus.query(expr)
        except OSError as e:  # HTTP 400: Prometheus refused the expression
            raise AssertionError(f"{where}: {expr}: {e}") from e
