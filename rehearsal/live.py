"""`make demo`'s outcomes step: after July is replayed through the service, July's outcomes arrive.

`flightdelay monitor outcomes` joins the service's prediction log with July's labelled flights (the
embedded source's partition), computes the stale champion's live quality and pushes it to the
rehearsal's Pushgateway; a Prometheus loaded with the deployed alert rules (held for a second)
scrapes that Pushgateway and the service (a few requests it can see) and says which alerts fire.
Costs a few seconds. From then on drift.yml reads the same log (the repository variable
PREDICTION_LOG; a self-hosted runner here), so the drift issue shows live quality and which
trigger signal fired.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rehearsal.monitoring import deployed_rules, prometheus

PROJECT = Path(__file__).resolve().parents[1]
MONTH = "2013-07"

if TYPE_CHECKING:
    from flightdelay.lifecycle.drift.schema import Figure


def _ci(fig: Figure | None) -> str:
    """A live figure (`schema.Figure`) with its interval, or n/a."""
    if fig is None or fig.estimate is None or fig.lower is None or fig.upper is None:
        return "n/a"
    return f"{fig.estimate:.3f} [{fig.lower:.3f}, {fig.upper:.3f}]"


def headline(summary: Any, firing: list[str]) -> str:
    """The step's line: each live figure with its interval against the release's (`LiveQuality`)."""
    overall, release = summary.overall, summary.release

    def live_vs_release(name: str, label: str) -> str:
        at_release = release.figure(name)
        was = "n/a" if at_release is None else f"{at_release:.3f}"
        return f"{label} {_ci(overall.figure(name))} vs {was} at release"

    return (
        f"{MONTH}'s outcomes joined with {overall.rows:,} logged predictions "
        f"(model {release.version}): live {live_vs_release('roc_auc', 'ROC AUC')}, "
        f"{live_vs_release('accuracy', 'accuracy')}, "
        f"{live_vs_release('calibration_error', 'calibration error')}; "
        f"Prometheus (deployed rules) fired: {', '.join(firing) or 'nothing'}"
    )


def outcomes_step(world: Any, bundle: Path, service: Any) -> str:
    """The demo's step: the live figures now, and drift.yml connected to the same feedback."""
    log = service.prediction_log
    world.engine.variables.update({"PREDICTION_LOG": str(log), "OUTCOMES_REPLAY": "true"})
    return outcomes_arrive(world.clone, bundle, log, world.pushgateway.url, world.work / "live", service)


def _some_traffic(service: Any, log: Path, n: int = 40) -> None:
    """A few logged flights sent again (flight number from the key), one per request."""
    with log.open() as f:
        lines = [json.loads(next(f)) for _ in range(n)]
    for line in lines:
        flight = {**line["features"], "flight": int(line["flight_key"].split("-")[1])}
        service.http("POST", "/v1/predict", {"flights": [flight]})


def outcomes_arrive(
    clone: Path, bundle: Path, log: Path, pushgateway_url: str, work: Path, service: Any
) -> str:
    from flightdelay.core.params import load_params
    from flightdelay.lifecycle.drift import feedback
    from flightdelay.pipeline import source

    source.materialize(MONTH, work / "raw")
    summary = feedback.run(
        load_params(clone / "params.yaml"),
        log,
        [str(work / "raw" / MONTH / "flights.csv")],
        bundle_dirs=[bundle],
        replay=True,  # 2013 flights predicted today: the prediction-before-departure rule cannot hold
        out_dir=work / "live",
        store_path=work / "live" / "joined.parquet",
        env={"PUSHGATEWAY_URL": pushgateway_url},
    )
    rules = deployed_rules(work / "rules", PROJECT / "deploy" / "overlays" / "production")
    url = f"http://127.0.0.1:{service.port}"
    scraped = {"flightdelay": (url, {"namespace": "flightdelay-production"})}
    with prometheus(work / "prometheus", rules, scrape=[pushgateway_url], services=scraped) as prom:
        deadline = time.monotonic() + 15
        while not prom.query('up{job="flightdelay"} == 1') and time.monotonic() < deadline:
            time.sleep(0.25)
        _some_traffic(service, log)  # traffic Prometheus sees (the replay ended before it started)
        while not prom.query("flightdelay_live_roc_auc") and time.monotonic() < deadline:
            time.sleep(0.25)
        time.sleep(3)  # a few evaluations: pending, then firing after the one-second hold
        firing = sorted(name for name, state in prom.alerts().items() if state == "firing")
    return headline(summary, firing)
