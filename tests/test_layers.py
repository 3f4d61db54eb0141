"""The package's layers, as an import contract (every import counts, also those inside functions).

core       the contract both sides share        imports nothing of the others
adapters   one tool each (DVC, git, MLflow, …)   imports core
pipeline   one module per DVC stage              imports core and adapters; stages not each other
lifecycle  gate, report, release, drift, …       imports core, adapters, pipeline
cli        the command table                     imports anything (lazily)
api/       the service                           imports only flightdelay.core
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "flightdelay"
LAYERS = ("core", "adapters", "pipeline", "lifecycle")
ALLOWED = {
    "core": {"core"},
    "adapters": {"core", "adapters"},
    "pipeline": {"core", "adapters", "pipeline"},
    "lifecycle": {"core", "adapters", "pipeline", "lifecycle"},
}
# The modules of pipeline/ that are `dvc.yaml` stages (the others are their shared parts).
STAGES = {"prepare", "validate", "featurize", "train", "evaluate", "backtest", "bundle"}
# A stage that composes others, and why.
STAGE_EXCEPTIONS = {
    # The backtest scores months outside the pipeline's window too: it prepares and featurizes them
    # exactly as those stages do, in a temporary folder, instead of keeping a second copy.
    ("backtest", "prepare"),
    ("backtest", "featurize"),
}


def imports_of(path: Path) -> set[str]:
    """Every module `path` imports from (absolute names), at top level or inside functions."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            # `from flightdelay.pipeline import prepare` imports the module `prepare`
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def flightdelay_layer(name: str) -> str | None:
    parts = name.split(".")
    if parts[0] != "flightdelay" or len(parts) < 2:
        return None
    # `flightdelay.__version__` and the like belong to no layer; `cli` sits above all of them
    return parts[1] if parts[1] in (*LAYERS, "cli") else None


def package_modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE)


@pytest.mark.parametrize("path", package_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_layer_imports_only_the_layers_below_it(path: Path) -> None:
    layer = path.relative_to(PACKAGE).parts[0]
    assert layer in LAYERS, f"{path.relative_to(ROOT)} is in no layer: put it under one of {LAYERS}"
    wrong = sorted(
        name
        for name in imports_of(path)
        if (target := flightdelay_layer(name)) is not None and target not in ALLOWED[layer]
    )
    where = path.relative_to(ROOT)
    assert not wrong, f"{where} ({layer}) imports {wrong}; {layer} may import {sorted(ALLOWED[layer])}"


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_a_stage_does_not_import_another_stage(stage: str) -> None:
    path = PACKAGE / "pipeline" / f"{stage}.py"
    assert path.is_file(), f"stage module {path.relative_to(ROOT)} is missing"
    others = sorted(
        name.rsplit(".", 1)[1]
        for name in imports_of(path)
        if name.startswith("flightdelay.pipeline.") and name.rsplit(".", 1)[1] in STAGES - {stage}
    )
    wrong = [o for o in others if (stage, o) not in STAGE_EXCEPTIONS]
    assert not wrong, f"stage {stage} imports stage(s) {wrong}: move what they share into a non-stage module"


@pytest.mark.parametrize("path", sorted((ROOT / "api").rglob("*.py")), ids=lambda p: p.name)
def test_the_service_imports_only_core(path: Path) -> None:
    wrong = sorted(
        name
        for name in imports_of(path)
        if name.split(".")[0] == "flightdelay" and flightdelay_layer(name) not in ("core", None)
    )
    where = path.relative_to(ROOT)
    assert not wrong, f"{where} imports {wrong}: the service may import only flightdelay.core"


def test_the_checks_see_a_violation(tmp_path: Path) -> None:
    """The contract is not vacuous: a core module importing the lifecycle is caught."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from flightdelay.lifecycle import gate\n")
    assert {flightdelay_layer(n) for n in imports_of(bad)} >= {"lifecycle"}
