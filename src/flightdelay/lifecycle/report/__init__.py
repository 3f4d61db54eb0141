"""`flightdelay report`: reports for reviewers (today: `report pr`, the pull-request report)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from flightdelay.core.params import Params
from flightdelay.lifecycle.gate import add_candidate_args
from flightdelay.lifecycle.report import pr


def _handler(args: argparse.Namespace, p: Params) -> int:
    pr.build(
        p,
        base_ref=args.base,
        out=Path(args.out or p.paths.pr_report),
        champion_bundle=args.champion_bundle,
        use_registry=not args.no_champion,
        check_stale=not args.allow_stale,
    )
    return 0


def register(sub: argparse._SubParsersAction, handlers: dict[str, Any]) -> None:  # type: ignore[type-arg]
    r = sub.add_parser("report", help="reports for reviewers")
    rsub = r.add_subparsers(dest="report_cmd", required=True)
    prp = rsub.add_parser("pr", help="PR report: metrics, params, data, drift, plots, gate verdict")
    add_candidate_args(prp)
    prp.add_argument("--out", help="output directory (default: params.yaml paths.pr_report)")
    handlers["report"] = _handler
