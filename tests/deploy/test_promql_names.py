"""The names alerts and dashboard select: metric names (extraction that guards against renamed
metrics) and the drift job's `job` label, which must be the one the drift check pushes under."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from check_alerts import known_metrics, metric_names

from flightdelay.lifecycle.drift.outputs import PUSH_JOB
from tests.helpers import REPO_ROOT


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        (
            'histogram_quantile(0.99, sum by (namespace, le) (rate(a_bucket{route!~"/x|/y"}[5m]))) > 0.2',
            {"a_bucket"},
        ),
        ("sum without (pod) (rate(b_total[6h] offset 1w)) / on (ns) group_left (v) c", {"b_total", "c"}),
        ('d{job="e"} < f and g == 1 or absent(h{job="i"})', {"d", "f", "g", "h"}),
        ("time() - max(push_time_seconds) > 2 * 86400 + 1e3", {"push_time_seconds"}),
        ('rate(j[$__rate_interval]) * $scale + k{ns="$namespace"}', {"j", "k"}),
        ('label_values(flightdelay_model_info{job="flightdelay"}, namespace)', {"flightdelay_model_info"}),
        ("sum(rate(x:recorded:rate5m[1m])) bool > 0", {"x:recorded:rate5m"}),
    ],
)
def test_metric_names_finds_selectors_only(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_histograms_expand_to_their_series() -> None:
    known = known_metrics()
    assert {"flightdelay_prediction_score_bucket", "flightdelay_http_requests_total"} <= known
    assert "flightdelay_http_requests_total_bucket" not in known
    assert "flightdelay_model_info_count" not in known


# --- the drift job's name --------------------------------------------------------------------------

# Where the drift job is selected or documented; each must name it (an empty scan proves nothing).
DRIFT_JOB_READERS = (
    "deploy/base/prometheusrule-model.yaml",
    "monitoring/dashboards/flightdelay.json",
    "monitoring/metrics.yaml",
    "monitoring/promtool/flightdelay-model.test.yaml",
    "deploy/README.md",
    "docs/monitoring.md",
)
# A `job` label value in PromQL, YAML, JSON (escaped quotes), Markdown or a Pushgateway URL path.
JOB_VALUE = re.compile(r"""\bjob(?:\s*[:=]\s*\\?["']?|/|\s+`)([A-Za-z0-9_.:-]+)""")
# The other jobs named: the ServiceMonitor's (the Service's app.kubernetes.io/name) and Prometheus'
# own (a promtool test feeds it as a series that must not matter).
OTHER_JOBS = {"flightdelay", "prometheus"}


def scanned_files() -> list[Path]:
    found = {REPO_ROOT / name for name in DRIFT_JOB_READERS}
    for folder, pattern in (("deploy", "**/*.y*ml"), ("monitoring", "**/*"), ("deploy", "**/*.md")):
        found |= {p for p in (REPO_ROOT / folder).glob(pattern) if p.is_file()}
    return sorted(found)


def job_values(text: str) -> set[str]:
    return {m.group(1) for m in JOB_VALUE.finditer(text)}


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ('a{job="flightdelay-drift"} < b{job="flightdelay"}', {"flightdelay-drift", "flightdelay"}),
        ('"expr": "a{job=\\"flightdelay_drift\\"}"', {"flightdelay_drift"}),
        ("exp_labels: {severity: warning, job: flightdelay-drift}", {"flightdelay-drift"}),
        ("as job `flightdelay_drift` when", {"flightdelay_drift"}),
        ("PUT $PUSHGATEWAY_URL/metrics/job/flightdelay-drift", {"flightdelay-drift"}),
        ("jobs: {job_name: x}", set()),
    ],
)
def test_job_values_are_found_in_every_notation(text: str, values: set[str]) -> None:
    assert job_values(text) == values


def test_every_drift_job_selector_names_the_job_the_drift_check_pushes() -> None:
    """The drift check pushes under PUSH_JOB; a rule, panel or doc that selects any other name is
    blind (the quality and drift alerts never fire and the staleness alert fires forever)."""
    other_spelling = re.compile(re.escape(PUSH_JOB.translate(str.maketrans("-_", "_-"))) + r"(?![\w-])")
    wrong: list[str] = []
    for path in scanned_files():
        text = path.read_text()
        rel = path.relative_to(REPO_ROOT).as_posix()
        for number, line in enumerate(text.splitlines(), 1):
            if job_values(line) - {PUSH_JOB, *OTHER_JOBS} or other_spelling.search(line):
                wrong.append(f"{rel}:{number}: {line.strip()[:120]}")
        if rel in DRIFT_JOB_READERS and PUSH_JOB not in job_values(text):
            wrong.append(f"{rel}: does not name job {PUSH_JOB!r}")
    assert not wrong, f"the drift check pushes job={PUSH_JOB!r} (drift/outputs.py PUSH_JOB):\n" + "\n".join(
        wrong
    )
