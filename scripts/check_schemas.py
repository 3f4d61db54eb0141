"""Schema checks: built-in kinds against the pinned Kubernetes OpenAPI (strict), custom
resources against deploy/schemas/crds.schema.yaml (strict). Nothing is skipped silently."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

import yaml
from check_common import KUBERNETES_VERSION, REPO_ROOT, SCHEMAS, CheckError, Finding, Obj, describe

CRD_SCHEMA_FILE = SCHEMAS / "crds.schema.yaml"
CRD_GROUPS = ("argoproj.io", "monitoring.coreos.com", "kubernetes.dask.org")
# Core specs a custom resource embeds, validated as the built-in kind they are:
# {kind: [(path to the spec, the kind that owns such a spec)]}.
EMBEDDED_SPECS = {
    "DaskCluster": [
        (("spec", "scheduler", "spec"), "Pod"),
        (("spec", "scheduler", "service"), "Service"),
        (("spec", "worker", "spec"), "Pod"),
    ],
}


def _path(parts: Iterable[Any]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


@cache
def _crd_root() -> dict[str, Any]:
    root: dict[str, Any] = yaml.safe_load(CRD_SCHEMA_FILE.read_text())
    return root


def _crd_key(obj: Obj) -> str:
    group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
    return f"{obj.get('kind')}.{group}/{version}"


def is_custom_resource(obj: Obj) -> bool:
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    return group in CRD_GROUPS


def _hint(error: Any) -> str:
    if error.validator == "additionalProperties":
        return (
            " — fix the spelling; if the upstream CRD really has this field, add it to "
            f"{CRD_SCHEMA_FILE.relative_to(REPO_ROOT)}"
        )
    return ""


def validate_custom(obj: Obj) -> list[Finding]:
    """One finding per schema error, naming the field path."""
    # Imported here: only the tools environment has it, and tests import the pure modules.
    import jsonschema

    key = _crd_key(obj)
    root = _crd_root()
    if key not in root["$defs"]:
        known = ", ".join(k for k in root["$defs"] if "/" in k)
        return [
            Finding(
                "schema",
                describe(obj),
                "apiVersion/kind",
                f"no schema for {key} (known: {known}); add one to {CRD_SCHEMA_FILE.relative_to(REPO_ROOT)}",
            )
        ]
    schema = {
        "$defs": root["$defs"],
        "$ref": "#/$defs/" + key.replace("~", "~0").replace("/", "~1"),
    }
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    return [
        Finding("schema", describe(obj), _path(err.absolute_path), err.message + _hint(err))
        for err in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.path)))
    ]


def validate_builtin(obj: Obj, version: str = KUBERNETES_VERSION) -> list[Finding]:
    """Strict OpenAPI validation from kubernetes-validate (offline schemas)."""
    try:
        import kubernetes_validate
    except ImportError as exc:
        raise CheckError(
            "kubernetes-validate is missing: run the checks with the tools "
            "environment (`make tools`; scripts/check_deploy.py re-executes there)"
        ) from exc
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.SchemaNotFoundError as exc:
        return [
            Finding(
                "schema",
                describe(obj),
                "apiVersion/kind",
                f"{exc.message}: use an API version that Kubernetes {version} serves",
            )
        ]
    except kubernetes_validate.ValidationError as exc:
        hint = (
            " — unknown field: fix the spelling or remove it"
            if exc.validator == "additionalProperties"
            else ""
        )
        return [
            Finding(
                "schema",
                describe(obj),
                _path(exc.absolute_path),
                f"{exc.message} (Kubernetes {version}){hint}",
            )
        ]
    return []


def validate_embedded(obj: Obj, version: str = KUBERNETES_VERSION) -> list[Finding]:
    """The core specs inside a custom resource (a DaskCluster's pod and service specs), strictly,
    as the `spec` of a Pod or Service; findings name the path inside the custom resource."""
    out: list[Finding] = []
    for path, kind in EMBEDDED_SPECS.get(str(obj.get("kind")), []):
        spec: Any = obj
        for key in path:
            spec = spec.get(key) if isinstance(spec, dict) else None
        if not isinstance(spec, dict):
            continue  # absent or not an object: the custom resource's own schema reports it
        name = f"{(obj.get('metadata') or {}).get('name', 'x')}-{path[1]}"
        wrapped = {"apiVersion": "v1", "kind": kind, "metadata": {"name": name}, "spec": spec}
        for f in validate_builtin(wrapped, version):
            field = f.field.removeprefix("spec").lstrip(".")
            inner = ".".join(path) + (f".{field}" if field and not field.startswith("[") else field)
            out.append(Finding("schema", describe(obj), inner, f.message))
    return out


def check_schemas(docs: Iterable[Obj], version: str = KUBERNETES_VERSION) -> list[Finding]:
    findings: list[Finding] = []
    for obj in docs:
        if not isinstance(obj, dict) or "apiVersion" not in obj or "kind" not in obj:
            findings.append(
                Finding("schema", "document", "", "not a Kubernetes object (needs apiVersion and kind)")
            )
        elif is_custom_resource(obj):
            findings.extend(validate_custom(obj) + validate_embedded(obj, version))
        else:
            findings.extend(validate_builtin(obj, version))
    return findings
