"""The PR report's sections on what changed around the model: params, data partitions, rows and
label rate per month, feature schema, drift, serving budget (pure: content in, markdown lines out)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flightdelay.lifecycle.report.mdtable import pct, table, val

if TYPE_CHECKING:
    from flightdelay.lifecycle.report.markdown import Content


def params_section(c: Content) -> list[str]:
    out = ["## Params", ""]
    if c.params:
        out.append(
            table(
                ["key", "base", "PR", "change"],
                [[f"`{p.key}`", val(p.base), val(p.head), p.status] for p in c.params],
            )
        )
    else:
        out.append("params.yaml is unchanged.")
    return out


def partitions_section(c: Content) -> list[str]:
    changed = [p for p in c.partitions if p.status != "unchanged"]
    return [
        "",
        "## Data",
        "",
        f"{len(c.partitions)} partitions tracked; {len(changed)} added, removed or changed.",
        "",
        table(
            ["partition", "status", "md5 (base → PR)", "size (bytes)"],
            [
                [
                    p.month,
                    f"**{p.status}**" if p.status != "unchanged" else p.status,
                    f"`{p.base_md5[:8] or '–'}` → `{p.head_md5[:8] or '–'}`",
                    f"{p.head_size or p.base_size:,}",
                ]
                for p in c.partitions
            ],
        ),
    ]


def months_section(c: Content) -> list[str]:
    headers = [
        "month",
        "base rows",
        "base label rate",
        "PR rows",
        "PR label rate",
        "Δ rate",
        "role (base → PR)",
    ]
    rows = [
        [
            m.month,
            f"{m.base_rows:,}" if m.base_rows is not None else "–",
            pct(m.base_rate),
            f"{m.head_rows:,}" if m.head_rows is not None else "–",
            pct(m.head_rate),
            f"{100 * (m.head_rate - m.base_rate):+.1f} pt"
            if m.head_rate is not None and m.base_rate is not None
            else "–",
            f"{m.base_role or '–'} → {m.head_role or '–'}",
        ]
        for m in c.months
    ]
    return [
        "",
        "Rows and label rate (share of disrupted flights) per month in the training window:",
        "",
        table(headers, rows),
    ]


def schema_section(c: Content) -> list[str]:
    out = ["", "Schema of the features: " + ("unchanged." if not c.schema else ""), ""]
    if c.schema:
        out += [
            table(
                ["column", "base", "PR", "change"], [[s.column, s.base, s.head, s.status] for s in c.schema]
            ),
            "",
        ]
    return out


def drift_section(c: Content) -> list[str]:
    out = ["## Drift", "", f"Thresholds: {c.drift_thresholds}.", ""]
    if not c.drift:
        out += ["_Not available (see notes)._", ""]
    for d in c.drift:
        n = sum(r.drifted for r in d.rows)
        out += [
            f"**{d.title}** — {d.current_rows:,} rows vs {d.reference_rows:,}; "
            f"{n} of {len(d.rows)} columns drifted.",
            "",
        ]
        out.append(
            table(
                ["column", "kind", "distance", "threshold", "Δ missing", "drift"],
                [
                    [
                        r.column,
                        r.kind,
                        f"{r.method} {r.score:.3f}" if r.compared else "not compared (too few values)",
                        f"{r.threshold:g}",
                        f"{100 * r.missing_increase:+.1f} pt",
                        "⚠️ yes" if r.drifted else "no",
                    ]
                    for r in d.rows
                ],
            )
        )
        out.append("")
    return out


def budget_section(c: Content) -> list[str]:
    return [
        "## Serving budget",
        "",
        "Single-row `booster.inplace_predict` on float32 (median, one thread):",
        "",
        table(
            ["model", "trees", "size", "latency"],
            [
                [b.model, b.trees, f"{b.size_bytes / 1024:,.0f} KiB", f"{b.latency_ms:.3f} ms"]
                for b in c.budget
            ],
        ),
        "",
    ]
