"""Shared pieces of the deploy checks: paths, tools, rendering, and the finding type."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
DEPLOY = REPO_ROOT / "deploy"
OVERLAYS = ("staging", "production")
ARGOCD = REPO_ROOT / "argocd"
TRAINING = DEPLOY / "training"
TRAINING_TARGETS = ("base", "dask")  # deploy/training/<target>: the Job, and Job + DaskCluster
MONITORING = REPO_ROOT / "monitoring"
SCHEMAS = DEPLOY / "schemas"
KUBERNETES_VERSION = "1.31.0"  # the oldest cluster version the manifests must be valid for

Obj = dict[str, Any]


class CheckError(Exception):
    """A check could not run at all (missing tool, unreadable input): fails, never skips."""


@dataclass(frozen=True)
class Finding:
    """One problem: which check, which object, which field, and what to do about it."""

    check: str
    where: str
    field: str
    message: str

    def __str__(self) -> str:
        field = f" {self.field}:" if self.field else ""
        return f"[{self.check}] {self.where}:{field} {self.message}"


def describe(obj: Obj) -> str:
    """`Kind namespace/name`, as people search for it in `kubectl get`."""
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    name = meta.get("name", "<no name>")
    return f"{obj.get('kind', '<no kind>')} {ns}/{name}" if ns else f"{obj.get('kind')} {name}"


def rel(path: Path) -> str:
    """A path as messages show it: relative to the repository when inside it."""
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def tool(name: str) -> str:
    """Path of a required executable; the pinned linters live in FLIGHTDELAY_TOOLS_BIN."""
    tools_bin = Path(os.environ.get("FLIGHTDELAY_TOOLS_BIN", REPO_ROOT / ".venv-tools" / "bin"))
    found = tools_bin / name if (tools_bin / name).is_file() else shutil.which(name)
    if not found:
        hint = {
            "kubectl": "install kubectl (it includes kustomize)",
            "promtool": "run `make system` (Debian package `prometheus`)",
        }.get(name, "run `make tools`")
        raise CheckError(f"required tool `{name}` not found: {hint}")
    return str(found)


def run_tool(cmd: Sequence[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, check=False)


def render(kustomization_dir: Path) -> list[Obj]:
    """`kubectl kustomize DIR` as a list of objects."""
    proc = run_tool([tool("kubectl"), "kustomize", str(kustomization_dir)])
    if proc.returncode != 0:
        raise CheckError(f"kubectl kustomize {kustomization_dir} failed:\n{proc.stderr.strip()}")
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


def load_docs(paths: Iterable[Path]) -> list[Obj]:
    docs: list[Obj] = []
    for path in paths:
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


def dump_docs(docs: Iterable[Obj]) -> str:
    return yaml.safe_dump_all(list(docs), sort_keys=False)


def of_kind(docs: Iterable[Obj], kind: str) -> list[Obj]:
    return [d for d in docs if d.get("kind") == kind]


def selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """Kubernetes label-selector semantics (an empty selector selects everything)."""
    selector = selector or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        ok = {
            "In": labels.get(key) in values,
            "NotIn": labels.get(key) not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True
