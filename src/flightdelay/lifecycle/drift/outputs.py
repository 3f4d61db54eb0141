"""Writers for a check's outputs: summary JSON, markdown issue body, Prometheus text file.

The Prometheus names are a contract with the alert rules: flightdelay_drift_share,
flightdelay_drift_detected, flightdelay_model_quality_roc_auc, flightdelay_model_quality_floor.
"""

from __future__ import annotations

import base64
import http.client
import math
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from flightdelay.core import redact
from flightdelay.core.errors import ConfigError, ToolError
from flightdelay.lifecycle.drift.schema import DriftSummary, Quality, TriggerSummary

SUMMARY_FILE = "summary.json"
MARKDOWN_FILE = "issue.md"
PROM_FILE = "metrics.prom"
HTML_FILE = "report.html"
# The Pushgateway grouping key, hence the `job` label the alert rules, dashboard and docs select
# (tests/deploy/test_promql_names.py holds them to this one definition).
PUSH_JOB = "flightdelay-drift"
MARKER = "<!-- flightdelay:drift-check -->"


def _num(v: Any) -> float:
    return float("nan") if v is None else float(v)


def _prom_value(v: float) -> str:
    return "NaN" if math.isnan(v) else repr(float(v))


def render_prom(summary: DriftSummary) -> str:
    q = summary.model_quality
    gauges = [
        (
            "flightdelay_drift_share",
            "Importance-weighted share of drifted input columns (0..1).",
            summary.data_drift.share if summary.status != "not_enough_data" else float("nan"),
        ),
        (
            "flightdelay_drift_detected",
            "1 when the last drift check found drift, else 0.",
            1.0 if summary.drift_detected else 0.0,
        ),
        (
            "flightdelay_model_quality_roc_auc",
            "ROC AUC on the current window (NaN when outcomes are unknown).",
            _num(q.current.get("roc_auc") if q else None),
        ),
        (
            "flightdelay_model_quality_floor",
            "ROC AUC below which quality counts as degraded.",
            _num(q.floor if q else None),
        ),
        (
            "flightdelay_drift_current_rows",
            "Rows in the current window of the last check.",
            float(summary.current.rows),
        ),
        (
            "flightdelay_drift_retrain_recommended",
            "1 when the N-of-M trigger asked for retraining.",
            1.0 if summary.trigger.retrain_recommended else 0.0,
        ),
        (
            "flightdelay_drift_last_check_timestamp_seconds",
            "Unix time of the last drift check.",
            float(summary.checked_at_unix),
        ),
    ]
    lines = []
    for name, help_text, value in gauges:
        lines += [
            f"# HELP {name} {help_text}",
            f"# TYPE {name} gauge",
            f"{name} {_prom_value(value)}",
        ]
    return "\n".join(lines) + "\n"


def gateway_url(env: Mapping[str, str]) -> str | None:
    """PUSHGATEWAY_URL, checked before any work is done; None when unset."""
    url = env.get("PUSHGATEWAY_URL", "").strip()
    if not url:
        return None
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(
            f"PUSHGATEWAY_URL {redact.url(url)!r} is not an http(s) URL",
            hint="set it like http://pushgateway.monitoring:9091, or unset it",
        )
    return url


def push(url: str, text: str, timeout: float = 10.0, group: Mapping[str, str] | None = None) -> None:
    """PUT the text file to a Prometheus Pushgateway (replaces this job's group). `group` adds
    grouping labels under the same job (`monitor outcomes` pushes as feed="outcomes", so that the
    drift check's PUT and its own never replace each other's series)."""
    gateway_url({"PUSHGATEWAY_URL": url})
    parts = urllib.parse.urlsplit(url)
    headers = {"Content-Type": "text/plain; version=0.0.4"}
    if parts.username is not None:
        # urllib does not send URL credentials (it reads `user:password@host` as a port): send
        # them as HTTP basic auth, and keep them out of the URL and of every message.
        user = urllib.parse.unquote(parts.username)
        password = urllib.parse.unquote(parts.password or "")
        headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        netloc = parts.hostname or ""
        netloc = f"[{netloc}]" if ":" in netloc else netloc
        parts = parts._replace(netloc=netloc + (f":{parts.port}" if parts.port else ""))
    extra = "".join(f"/{urllib.parse.quote(k)}/{urllib.parse.quote(v)}" for k, v in (group or {}).items())
    target = urllib.parse.urlunsplit(parts).rstrip("/") + f"/metrics/job/{PUSH_JOB}{extra}"
    req = urllib.request.Request(  # noqa: S310 (scheme checked above)
        target, data=text.encode(), method="PUT", headers=headers
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (scheme checked)
            if resp.status >= 300:
                raise ToolError(f"Pushgateway {redact.url(target)} answered HTTP {resp.status}")
    except (OSError, http.client.HTTPException) as e:
        raise ToolError(
            f"cannot push metrics to {redact.url(target)}: {redact.text(str(e))}",
            hint="check PUSHGATEWAY_URL, or unset it to only write metrics.prom",
        ) from e


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{float(v):.{digits}f}"


def _columns_section(s: DriftSummary) -> list[str]:
    dd = s.data_drift
    out = [
        f"Importance-weighted drift share **{dd.share:.2f}** (threshold "
        f"{dd.threshold}); unweighted {dd.unweighted_share:.2f}.",
        "",
        "| column | method | score | threshold | weight | drifted |",
        "|---|---|---:|---:|---:|:---:|",
    ]
    for c in dd.columns:
        mark = "**yes**" if c.drifted else ("not compared" if c.score is None else "no")
        out.append(f"| {c.column} | {c.method} | {_fmt(c.score)} | {c.threshold} | {c.weight:.3f} | {mark} |")
    out.append("")
    pred = s.prediction_drift
    if pred:
        out += [
            f"Prediction drift (score, {pred.method}): {_fmt(pred.score)} "
            f"(threshold {pred.threshold}); mean score {_fmt(pred.mean_reference)} → "
            f"{_fmt(pred.mean_current)}.",
            "",
        ]
    return out


def _quality_section(q: Quality) -> list[str]:
    out = ["| model quality | holdout (training) | current window |", "|---|---:|---:|"]
    for k in ("roc_auc", "pr_auc", "log_loss", "positive_rate"):
        out.append(f"| {k} | {_fmt(q.reference.get(k), 4)} | {_fmt(q.current.get(k), 4)} |")
    return [
        *out,
        "",
        f"Floor ROC AUC {_fmt(q.floor, 4)}: "
        + ("**below the floor**." if q.below_floor else "above the floor."),
        "",
    ]


def _trigger_section(t: TriggerSummary) -> list[str]:
    quality = (
        f"; live quality below the floor in {t.quality_drop_count} of the last "
        f"{len(t.quality_considered)} weeks with enough outcomes"
        if t.quality_considered is not None
        else "; no live quality (outcomes not joined)"
    )
    signal = f" Signal: **{t.signal}**." if t.signal else ""
    return [
        f"Retraining trigger: input drift in {t.drift_count} of the last {len(t.considered)} "
        f"checks{quality} (either needs {t.n} of {t.m}) → "
        + ("**retraining requested**." if t.retrain_recommended else "no retraining yet.")
        + signal,
        "",
    ]


def render_markdown(summary: DriftSummary, run_url: str | None = None) -> str:
    """The issue body: the verdict and why, the columns, model and live quality, the trigger."""
    s = summary
    head = {
        "drift": "Drift detected",
        "no_drift": "No drift",
        "not_enough_data": "Not enough data",
    }[s.status]
    cur, ref = s.current, s.reference
    out = [
        MARKER,
        f"## {head}",
        "",
        f"Checked {s.checked_at}: **{cur.description}** ({cur.rows:,} rows, "
        f"{cur.rows_used:,} compared) against the training reference "
        f"({ref.window.start} … {ref.window.end}, {ref.rows_used:,} rows).",
        "",
    ]
    if s.reasons:
        out += ["Why: " + "; ".join(s.reasons) + ".", ""]
    if s.status != "not_enough_data":
        out += _columns_section(s)
    if s.model_quality:
        out += _quality_section(s.model_quality)
    if s.live_quality:
        from flightdelay.lifecycle.drift.feedback import render_markdown as live_markdown

        out += live_markdown(s.live_quality)
    out += _trigger_section(s.trigger)
    if run_url:
        out += [
            f"Evidence: [workflow run and HTML report]({run_url}) · summary `{SUMMARY_FILE}` "
            f"(schema v{s.schema_version}).",
            "",
        ]
    return "\n".join(out)
