"""The `flightdelay` command: one subcommand per pipeline stage and lifecycle step.

Errors are caught here only, printed with their hint, and mapped to the exit code of their class.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

from flightdelay import __version__, redact
from flightdelay.errors import DataError, FlightDelayError
from flightdelay.params import Params, load_params

Handler = Callable[[argparse.Namespace, Params], int | None]


def _stage(module: str) -> Handler:
    def handler(args: argparse.Namespace, p: Params) -> int:
        import importlib

        try:
            importlib.import_module(f"flightdelay.{module}").run(p)
        except FileNotFoundError as e:  # an input the stages before this one write
            raise DataError(
                f"{module}: input {e.filename} is missing",
                hint=f"run the pipeline up to this stage: `dvc repro {module}` (or `make repro`)",
            ) from e
        return 0

    return handler


def _data(args: argparse.Namespace, p: Params) -> int:
    from flightdelay import data

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


STAGES = {
    "prepare": "join flights with origin weather, label disrupted flights",
    "validate": "schema and quality rules on the prepared data",
    "featurize": "time split and feature spec",
    "train": "fit XGBoost and log the run to MLflow",
    "evaluate": "holdout metrics, slices, plots and the drift reference",
    "bundle": "assemble the serving bundle (model, feature spec, metadata)",
}


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

    for name, help_text in STAGES.items():
        sub.add_parser(name, help=help_text)
        handlers[name] = _stage(name)

    for register in _extensions(_command(argv)):
        register(sub, handlers)
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


def _extensions(
    command: str | None = None,
) -> list[Callable[[argparse._SubParsersAction, dict[str, Handler]], None]]:  # type: ignore[type-arg]
    """Subcommands that live with their own module (gate, report, release, drift, retrain, …):
    the one `command` belongs to, or all of them."""
    import importlib

    if command in STAGES or command == "data":
        modules: list[str] = []
    elif command in EXTENSIONS:
        modules = [EXTENSIONS[command]]
    else:
        modules = list(EXTENSIONS.values())
    return [importlib.import_module(f"flightdelay.{m}").register for m in modules]


# Subcommand → the module exposing `register(subparsers, handlers)`, which adds it.
EXTENSIONS: dict[str, str] = {
    "gate": "gate",
    "report": "report",
    "release": "release",
    "drift": "drift.cli",
    "monitor": "drift.monitor_cli",
    "retrain": "retrain",
    "lock": "lockcheck",
    "intake": "intake",
    "backtest": "backtest",
    "tune": "tune",
}


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
