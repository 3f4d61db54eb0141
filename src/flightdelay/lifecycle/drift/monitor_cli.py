"""`flightdelay monitor outcomes`: the outcomes feedback loop (see drift/feedback.py)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from flightdelay.core.params import Params


def _outcomes(args: argparse.Namespace, p: Params) -> int:
    from flightdelay.lifecycle.drift import feedback, schema

    summary = feedback.run(
        p,
        Path(args.log),
        args.outcomes,
        bundle_dirs=[Path(b) for b in args.bundle or []],
        replay=args.replay,
        out_dir=args.out and Path(args.out),
        store_path=args.store and Path(args.store),
    )
    week = schema.dump(summary.newest_week) if summary.newest_week else {}
    sys.stdout.write(
        json.dumps(
            {
                "headline": feedback.headline(summary),
                "joined_rows": summary.join.store_rows,
                "counts": summary.join.counts,
                "newest_week": {k: week.get(k) for k in ("window", "rows", "roc_auc", "accuracy")},
                "summary": str(Path(args.out or p.drift.live.output_dir) / feedback.LIVE_FILE),
            }
        )
        + "\n"
    )
    return 0


def register(sub: argparse._SubParsersAction, handlers: dict[str, Any]) -> None:  # type: ignore[type-arg]
    m = sub.add_parser("monitor", help="live model quality: join logged predictions with outcomes")
    msub = m.add_subparsers(dest="monitor_cmd", required=True)
    o = msub.add_parser(
        "outcomes",
        help="join the prediction log with arrived outcomes; live quality per day and week",
        description="Idempotent: re-running adds nothing twice; predictions still awaiting their "
        "outcome are joined by a later run. Bad input is counted and reported, never fatal.",
    )
    o.add_argument("--log", required=True, help="the service's prediction log (JSON lines)")
    o.add_argument(
        "--outcomes",
        nargs="+",
        required=True,
        metavar="SOURCE",
        help="YYYY-MM (the labelled raw partition under paths.raw) or a .csv/.parquet outcome file",
    )
    o.add_argument(
        "--bundle",
        action="append",
        help="model bundle whose version and release figures apply (repeatable; default paths.bundle)",
    )
    o.add_argument(
        "--replay",
        action="store_true",
        help="the log replays past flights: skip the rule that a prediction must precede departure",
    )
    o.add_argument("--out", help="output directory (default drift.live.output_dir)")
    o.add_argument("--store", help="joined-rows store (default drift.live.store)")
    handlers["monitor"] = _outcomes
