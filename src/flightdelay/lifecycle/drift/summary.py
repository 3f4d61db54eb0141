"""The drift check's summary (`summary.json`, the file the issue, the retraining PR and the
dashboards read) and its publication: the JSON, the issue body, the Prometheus text, the push."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from flightdelay.core import drift as core
from flightdelay.core.errors import ToolError
from flightdelay.core.params import Params
from flightdelay.core.progress import say
from flightdelay.lifecycle.drift import outputs, schema, sources
from flightdelay.lifecycle.drift.results import Comparison, Outcome, Window, finite


def _columns(columns: list[core.ColumnDrift]) -> list[schema.ColumnResult]:
    return [
        schema.ColumnResult(
            column=c.column,
            kind=c.kind,
            method=c.method,
            threshold=c.threshold,
            score=finite(c.score),
            drifted=c.drifted,
            weight=round(c.weight, 6),
            reference_values=c.reference_values,
            current_values=c.current_values,
            missing_increase=round(c.missing_increase, 6),
        )
        for c in columns
    ]


def _current(current: sources.Current, w: Window) -> schema.CurrentWindow:
    return schema.CurrentWindow(
        source=current.source,
        description=current.description,
        rows=current.rows,
        rows_used=len(w.current),
        lines_read=current.rows_read,
        malformed_lines=current.malformed,
        months=current.months,
        model_versions=current.model_versions,
        labelled=current.labelled,
    )


def summarize(
    p: Params,
    current: sources.Current,
    w: Window,
    c: Comparison,
    o: Outcome,
    *,
    now: dt.datetime,
    live: schema.LiveQuality | None,
    run_url: str | None,
) -> schema.DriftSummary:
    """Step 4: the summary, as written to `summary.json`: the file the issue, the retraining PR
    and the dashboards read."""
    v = c.verdict
    ordered = sorted(c.columns, key=lambda col: (-col.drifted, -col.weight))
    return schema.DriftSummary(
        schema_version=schema.SCHEMA_VERSION,
        status=o.status,
        exit_code=o.exit_code,
        drift_detected=o.status == "drift",
        reasons=o.reasons,
        checked_at=o.checked_at,
        checked_at_unix=int(now.timestamp()),
        current=_current(current, w),
        reference=schema.ReferenceWindow(
            path=p.paths.reference,
            rows=len(w.reference_full),
            rows_used=len(w.reference),
            window=schema.MonthRange(start=p.data.window.start, end=p.data.window.end),
        ),
        drifted_features=[col.column for col in ordered if col.drifted],
        data_drift=schema.DataDrift(
            share=round(v.drift_share, 6),
            unweighted_share=round(v.unweighted_share, 6),
            threshold=p.drift.share_threshold,
            detected=v.data_drift,
            critical_columns=v.critical_columns,
            columns=_columns(ordered),
        ),
        prediction_drift=c.prediction,
        model_quality=c.quality,
        live_quality=live.without_days() if live else None,
        trigger=o.decision.summary(o.history),
        artifacts=schema.Artifacts(
            html=c.html,
            summary=outputs.SUMMARY_FILE,
            markdown=outputs.MARKDOWN_FILE,
            prometheus=outputs.PROM_FILE,
        ),
        run_url=run_url,
    )


def publish(summary: schema.DriftSummary, out: Path, run_url: str | None) -> None:
    """Step 5: the summary, the issue body and the Prometheus text on disk; pushed to the
    Pushgateway when one is configured (a gateway that is down is a warning, not a failure)."""
    schema.write(out / outputs.SUMMARY_FILE, summary)
    (out / outputs.MARKDOWN_FILE).write_text(outputs.render_markdown(summary, run_url))
    prom = outputs.render_prom(summary)
    (out / outputs.PROM_FILE).write_text(prom)
    gateway = outputs.gateway_url(os.environ)
    if gateway:
        try:
            outputs.push(gateway, prom)
            say(f"drift: pushed metrics to {gateway}")
        except ToolError as e:
            say(f"drift: warning: {e}")
