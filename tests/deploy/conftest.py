"""Fixtures for the deployment checks: rendered overlays, and a runner for
scripts/check_deploy.py in the tools environment (jsonschema, kubernetes-validate, checkov).
Missing tools fail, never skip."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import REPO_ROOT

SCRIPTS = REPO_ROOT / "scripts"
if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))

from check_argocd import check_argocd  # noqa: E402
from check_common import ARGOCD, OVERLAYS, load_docs, render  # noqa: E402
from check_policy import check_overlays  # noqa: E402

Obj = dict[str, Any]


def tools_python() -> Path:
    python = Path(os.environ.get("FLIGHTDELAY_TOOLS_BIN", REPO_ROOT / ".venv-tools" / "bin")) / "python"
    if not python.is_file():
        pytest.fail(f"tools environment missing ({python}): run `make tools`")
    return python


@dataclass(frozen=True)
class CheckRun:
    returncode: int
    output: str


def run_check(*args: str | Path, env: dict[str, str] | None = None) -> CheckRun:
    proc = subprocess.run(
        [str(tools_python()), str(SCRIPTS / "check_deploy.py"), *map(str, args)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )
    return CheckRun(proc.returncode, proc.stdout + proc.stderr)


def run_policy(path: Path) -> CheckRun:
    """`check_deploy.py policy PATH` in-process (pure Python: no tools needed, and fast)."""
    docs = load_docs([path])
    findings = check_argocd(docs) + check_overlays(docs)
    return CheckRun(1 if findings else 0, "\n".join(f"FAIL {f}" for f in findings))


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[Obj]]:
    """{'staging': […], 'production': […], 'argocd': […]} as `kubectl kustomize` renders them."""
    out = {name: render(REPO_ROOT / "deploy" / "overlays" / name) for name in OVERLAYS}
    out["argocd"] = render(ARGOCD)
    return out


def find(docs: list[Obj], kind: str, name: str | None = None) -> Obj:
    matches = [d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, found {len(matches)}"
    return matches[0]


Mutate = Callable[[list[Obj]], None]


@pytest.fixture
def broken(rendered: dict[str, list[Obj]], tmp_path: Path) -> Callable[[str, Mutate], Path]:
    """Write a deliberately broken copy of a rendered target to a file; return its path."""

    def make(target: str, mutate: Mutate) -> Path:
        docs = copy.deepcopy(rendered[target])
        mutate(docs)
        path = tmp_path / f"broken-{target}.yaml"
        path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
        return path

    return make
