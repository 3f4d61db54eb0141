"""`flightdelay drift …` subcommands: check, issue-action, next-month."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from flightdelay.core.errors import ConfigError, DataError
from flightdelay.core.params import Params

EPILOG = """exit codes of `drift check`: 0 no drift, 10 drift, 11 not enough data;
1-9 are errors (2 config, 3 data, 5 model, 9 tool)."""


def _emit(text: str) -> None:
    """Machine-readable result on stdout (progress goes to stderr)."""
    sys.stdout.write(text + "\n")


def _since(value: str) -> dt.datetime:
    try:
        ts = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO 8601 time") from e
    return ts if ts.tzinfo else ts.replace(tzinfo=dt.UTC)


def _check(args: argparse.Namespace, p: Params) -> int:
    from flightdelay.lifecycle.drift import check, schema, sources

    if args.log:
        current = sources.read_prediction_log(
            Path(args.log), since=args.since, max_rows=p.drift.max_rows, seed=p.drift.seed
        )
    elif args.months:
        current = sources.read_partitions(sources.resolve_months(args.months, p), p)
    else:
        current = sources.read_file(Path(args.file))
    result = check.run_check(
        p,
        current,
        out_dir=args.out and Path(args.out),
        history=args.history and Path(args.history),
        bundle_dir=args.bundle and Path(args.bundle),
        run_url=args.run_url,
        live=schema.read(schema.LiveQuality, Path(args.live), schema.LIVE_HINT) if args.live else None,
    )
    s = result.summary
    _emit(
        json.dumps(
            {
                "status": s.status,
                "exit_code": s.exit_code,
                "drift_detected": s.drift_detected,
                "drift_share": s.data_drift.share,
                "retrain_recommended": s.trigger.retrain_recommended,
                "summary": str(result.out_dir / "summary.json"),
            }
        )
    )
    return result.exit_code


def _read_json(path: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
        return json.loads(text)
    except FileNotFoundError as e:
        raise DataError(f"{path} does not exist") from e
    except json.JSONDecodeError as e:
        raise DataError(f"{path} is not valid JSON: {e}") from e


def _issue_action(args: argparse.Namespace, p: Params) -> int:
    from flightdelay.lifecycle.drift import issue, schema

    summary = schema.parse(schema.DriftSummary, _read_json(args.summary), args.summary, schema.SUMMARY_HINT)
    existing = _read_json(args.existing) if args.existing else []
    if not isinstance(existing, list):
        raise ConfigError(
            f"{args.existing} must be a JSON list of issues",
            hint="produce it with `gh issue list --label drift --json number,state`",
        )
    _emit(json.dumps(issue.decide(summary, existing).as_dict()))
    return 0


def register(sub: argparse._SubParsersAction, handlers: dict[str, Any]) -> None:  # type: ignore[type-arg]
    d = sub.add_parser("drift", help="drift check against the training reference; issue decision")
    dsub = d.add_subparsers(dest="drift_cmd", required=True)
    c = dsub.add_parser(
        "check",
        help="compare a current window with the reference",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    src = c.add_mutually_exclusive_group(required=True)
    src.add_argument("--log", help="the service's prediction log (JSON lines)")
    src.add_argument(
        "--months",
        nargs="+",
        metavar="YYYY-MM",
        help="labelled partitions under paths.raw (`next` = month after the window)",
    )
    src.add_argument("--file", help="a .parquet/.csv table with the input columns, or a .jsonl log")
    c.add_argument("--since", type=_since, help="with --log: only lines at or after this ISO time")
    c.add_argument("--out", help="output directory (default drift.output_dir)")
    c.add_argument("--history", help="trigger history file (default drift.history)")
    c.add_argument("--bundle", help="model bundle that scores labelled rows (default paths.bundle)")
    c.add_argument("--run-url", help="link to the CI run, written into the issue body")
    c.add_argument(
        "--live",
        help="live_quality.json of `flightdelay monitor outcomes`: live quality in the issue body, "
        "and its weekly quality drops as the trigger's concept-drift signal",
    )
    ia = dsub.add_parser("issue-action", help="open / update / close / none for the drift issue")
    ia.add_argument("--summary", required=True, help="summary.json of the check")
    ia.add_argument("--existing", help="JSON list of open drift issues (gh issue list --json), or -")

    dsub.add_parser("next-month", help="print the month after the training window (data.window.end)")

    def handler(args: argparse.Namespace, p: Params) -> int:
        if args.drift_cmd == "next-month":
            from flightdelay.lifecycle.drift.sources import next_month

            _emit(next_month(p.data.window.end))
            return 0
        return _check(args, p) if args.drift_cmd == "check" else _issue_action(args, p)

    handlers["drift"] = handler
