"""The `flightdelay` command: one subcommand per pipeline stage and lifecycle step.

Errors are caught here only, printed with their hint, and mapped to the exit code of their class.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from flightdelay import __version__
from flightdelay.core import redact
from flightdelay.core.errors import DataError, FlightDelayError
from flightdelay.core.params import Params, load_params

Handler = Callable[[argparse.Namespace, Params], int | None]


@dataclass(frozen=True)
class Subcommand:
    """One `flightdelay` subcommand and the module that implements it (imported only when it runs,
    so a pipeline stage starts without MLflow, the gate's or the report's imports)."""

    module: str
    # A `dvc.yaml` stage: `module.run(params.paths, module.config(params))`, no flags, with this
    # help line; the stage sees only the params its `config` picks (those dvc.yaml lists).
    # Otherwise the module's `register(subparsers, handlers)` adds its own parser.
    stage_help: str = ""


# Every subcommand but `data` (below), in `flightdelay --help` order.
COMMANDS: dict[str, Subcommand] = {
    "prepare": Subcommand(
        "flightdelay.pipeline.prepare", "join flights with origin weather, label disrupted flights"
    ),
    "validate": Subcommand("flightdelay.pipeline.validate", "schema and quality rules on the prepared data"),
    "featurize": Subcommand("flightdelay.pipeline.featurize", "time split and feature spec"),
    "train": Subcommand("flightdelay.pipeline.train", "fit XGBoost and log the run to MLflow"),
    "evaluate": Subcommand(
        "flightdelay.pipeline.evaluate", "holdout metrics, slices, plots and the drift reference"
    ),
    "bundle": Subcommand(
        "flightdelay.pipeline.bundle", "assemble the serving bundle (model, feature spec, metadata)"
    ),
    "backtest": Subcommand("flightdelay.pipeline.backtest"),
    "gate": Subcommand("flightdelay.lifecycle.gate"),
    "report": Subcommand("flightdelay.lifecycle.report"),
    "release": Subcommand("flightdelay.lifecycle.release"),
    "drift": Subcommand("flightdelay.lifecycle.drift.cli"),
    "monitor": Subcommand("flightdelay.lifecycle.drift.monitor_cli"),
    "retrain": Subcommand("flightdelay.lifecycle.retrain"),
    "lock": Subcommand("flightdelay.lifecycle.lockcheck"),
    "intake": Subcommand("flightdelay.lifecycle.intake"),
    "tune": Subcommand("flightdelay.lifecycle.tune"),
}


def _stage(name: str, command: Subcommand) -> Handler:
    def handler(args: argparse.Namespace, p: Params) -> int:
        try:
            stage = importlib.import_module(command.module)
            stage.run(p.paths, stage.config(p))
        except FileNotFoundError as e:  # an input the stages before this one write
            raise DataError(
                f"{name}: input {e.filename} is missing",
                hint=f"run the pipeline up to this stage: `dvc repro {name}` (or `make repro`)",
            ) from e
        return 0

    return handler


def _data(args: argparse.Namespace, p: Params) -> int:
    from flightdelay.lifecycle import data

    if args.data_cmd == "add" and args.sources:
        if len(args.months) > 1:
            raise DataError("--from imports one month", hint="name at most one YYYY-MM with --from")
        data.add_from(p, args.sources, args.months[0] if args.months else None, tz=args.tz, push=args.push)
    elif args.data_cmd == "add":
        if not args.months:
            raise DataError(
                "no month given", hint="name months (YYYY-MM) or import files with --from PATH_OR_URL"
            )
        data.add(p, args.months, push=args.push)
    elif args.data_cmd == "restore":
        data.restore(p, push=not args.no_push)
    else:
        for m in data.tracked_months(Path(p.paths.raw)):
            print(m, "in window" if m in p.window_months else "")
    return 0


def build_parser(
    argv: Sequence[str] | None = None,
) -> tuple[argparse.ArgumentParser, dict[str, Handler]]:
    """The parser and its handlers. Given `argv`, only the module of the command it names is
    imported (a pipeline stage then starts without MLflow, the gate's or the report's imports);
    without, or for `--help` and unknown commands, every subcommand is registered."""
    parser = argparse.ArgumentParser(prog="flightdelay", description=__doc__)
    parser.add_argument("--version", action="version", version=f"flightdelay {__version__}")
    parser.add_argument("--params", default="params.yaml", help="path to params.yaml")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    handlers: dict[str, Handler] = {}

    d = sub.add_parser("data", help="add, restore or list raw monthly partitions (DVC-tracked)")
    dsub = d.add_subparsers(dest="data_cmd", required=True)
    add = dsub.add_parser(
        "add",
        help="materialise months from the embedded source, or import one from files (--from), and dvc-add",
    )
    add.add_argument("months", nargs="*", metavar="YYYY-MM")
    add.add_argument(
        "--from",
        dest="sources",
        action="append",
        default=[],
        metavar="PATH_OR_URL",
        help="import a month from BTS on-time flights + IEM ASOS weather CSVs: a folder, an "
        "s3://bucket/prefix or a file (repeat for the second file)",
    )
    add.add_argument(
        "--tz",
        default="America/New_York",
        help="time zone of the origin airports (local hours of the weather)",
    )
    add.add_argument("--push", action="store_true", help="also push them to the DVC remote")
    rest = dsub.add_parser("restore", help="bring tracked partitions into the workspace")
    rest.add_argument("--no-push", action="store_true", help="do not fill the DVC remote")
    dsub.add_parser("list", help="tracked partitions")
    handlers["data"] = _data

    wanted = _command(argv)
    for name, command in COMMANDS.items():
        if command.stage_help:
            sub.add_parser(name, help=command.stage_help)
            handlers[name] = _stage(name, command)
        elif wanted in (None, name) or (wanted not in COMMANDS and wanted != "data"):
            importlib.import_module(command.module).register(sub, handlers)
    return parser, handlers


def _command(argv: Sequence[str] | None) -> str | None:
    """The subcommand `argv` names, if it can be told without the full parser."""
    if argv is None:
        return None
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--params")
    pre.add_argument("command", nargs="?")
    known, _ = pre.parse_known_args(list(argv))
    return str(known.command) if known.command else None


def _redacted_traceback(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    """A crash the CLI did not expect still prints its traceback, with secrets masked (library
    errors repeat URLs, e.g. MLflow's "API request to <tracking URI> failed")."""
    sys.stderr.write(redact.text("".join(traceback.format_exception(kind, value, tb))))


def main(argv: Sequence[str] | None = None) -> int:
    sys.excepthook = _redacted_traceback
    parser, handlers = build_parser(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    try:
        p = load_params(args.params)
        return int(handlers[args.command](args, p) or 0)
    except FlightDelayError as e:
        print(f"flightdelay {args.command}: error: {redact.text(str(e))}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
