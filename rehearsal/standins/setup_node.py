"""actions/setup-node stand-in: the host's node is the only one; an npx put on PATH runs the CML stand-in."""

from __future__ import annotations

import json
import os
import shlex
import subprocess

from rehearsal.standins.core import StandinError, Step
from rehearsal.standins.setup_python import satisfies

NPX_SHIM = """#!/bin/sh
# npx of the rehearsal, written by the actions/setup-node stand-in: @dvcorg/cml@0.20.4 runs the CML stand-in,
# any other package fails (the npm registry is not reachable offline).
PYTHONPATH={home} exec python3 -m rehearsal.standins.npx "$@"
"""


def host_node() -> str:
    try:
        return subprocess.run(
            ["node", "--version"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise StandinError(
            f"node is not on this machine's PATH ({exc}); the rehearsal uses the host's node"
        ) from exc


def requested(step: Step) -> str:
    version = step.input("node-version")
    file_name = step.input("node-version-file")
    if version or not file_name:
        return version
    path = step.resolve(file_name)
    if not path.is_file():
        raise StandinError(f"The specified node version file at: {path} does not exist")
    if path.name == "package.json":
        data = json.loads(path.read_text(encoding="utf-8"))
        return str((data.get("volta") or {}).get("node") or (data.get("engines") or {}).get("node") or "")
    return (
        path.read_text(encoding="utf-8").strip().splitlines()[0].strip() if path.read_text().strip() else ""
    )


def main(step: Step) -> None:
    for name in ("registry-url", "scope", "cache", "mirror"):
        if step.input(name):
            raise StandinError(
                f"setup-node's {name} input is not emulated by the rehearsal stand-in; remove it"
            )
    text = host_node()
    version = tuple(int(part) for part in text.lstrip("v").split("."))
    spec = requested(step)
    if spec and not satisfies(version, spec.lstrip("v")):
        raise StandinError(
            f"node-version '{spec}' does not match the host's node {text}, the only one the rehearsal has: "
            "install that node or change the workflow"
        )
    home = step.need_env(
        "REHEARSAL_HOME", "the rehearsal harness passes the project root; the npx shim runs from it"
    )
    folder = step.store / "node" / "bin"
    folder.mkdir(parents=True, exist_ok=True)
    shim = folder / "npx"
    partial = folder / f".npx.{os.getpid()}"
    partial.write_text(NPX_SHIM.format(home=shlex.quote(home)), encoding="utf-8")
    partial.chmod(0o755)
    partial.replace(shim)  # jobs in parallel may write it at once
    step.add_path(folder)
    step.info(f"Found the host's node {text}; npx is the rehearsal's ({shim})")
    step.set_output("node-version", text)
