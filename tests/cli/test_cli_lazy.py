"""The CLI imports only the module of the command it runs: a pipeline stage starts without MLflow."""

from __future__ import annotations

import subprocess
import sys

import pytest

from flightdelay.cli import COMMANDS, build_parser

EXTENSIONS = sorted(n for n, c in COMMANDS.items() if not c.stage_help)


def _choices(argv: list[str] | None) -> set[str]:
    parser, _ = build_parser(argv)
    sub = next(a for a in parser._actions if a.dest == "command")
    return set(sub.choices or {})


@pytest.mark.parametrize("command", EXTENSIONS)
def test_each_extension_registers_the_command_it_is_listed_under(command: str) -> None:
    assert command in _choices([command, "--help"])


def test_without_argv_every_command_is_registered() -> None:
    assert _choices(None) == set(COMMANDS) | {"data"}


def test_unknown_command_still_lists_every_command() -> None:
    assert _choices(["nonsense"]) >= set(EXTENSIONS)


def test_data_registers_no_other_module() -> None:
    assert _choices(["data", "list"]) == {"data", *(n for n, c in COMMANDS.items() if c.stage_help)}


def test_a_stage_does_not_import_mlflow_or_the_gate() -> None:
    code = (
        "import sys; from flightdelay.cli import build_parser;"
        "build_parser(['--params', 'p.yaml', 'prepare']);"
        "heavy = ('mlflow', 'flightdelay.lifecycle.gate', 'flightdelay.lifecycle.report');"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
