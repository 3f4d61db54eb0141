"""The metric-name extraction that guards alerts and dashboard against renamed metrics."""

from __future__ import annotations

import pytest
from check_alerts import known_metrics, metric_names


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
