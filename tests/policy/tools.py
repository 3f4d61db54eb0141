"""Locating and running the offline linters of the tools environment (`make tools`) from tests."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType

import pytest

from tests.helpers import REPO_ROOT

TOOLS_BIN = Path(os.environ.get("FLIGHTDELAY_TOOLS_BIN") or REPO_ROOT / ".venv-tools" / "bin")


def tool(name: str) -> str:
    """Path of a linter; a missing one fails under CI=true (a skipped check is not a passed one)."""
    path = TOOLS_BIN / name
    if not path.exists():
        message = f"{name} is not installed in {TOOLS_BIN}: run `make tools`"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return str(path)


def run_tool(
    name: str, args: Sequence[str], cwd: Path = REPO_ROOT, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool(name), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
        timeout=300,
    )


def load_script(name: str) -> ModuleType:
    """Import scripts/<name>.py (scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def repo_files(root: Path = REPO_ROOT) -> list[str]:
    """Tracked files plus untracked ones git does not ignore (a new secret is caught before `git add`)."""
    proc = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return sorted({f for f in proc.stdout.splitlines() if (root / f).is_file()})


def repo_ids(paths: Sequence[Path]) -> list[str]:
    """Test ids for repository files: their paths relative to the repository root."""
    return [p.relative_to(REPO_ROOT).as_posix() for p in paths]
