"""Argo CD policy: the AppProject without wildcards and with exactly the kinds the overlays
render; Applications that sync automatically, self-heal, and stay inside their project."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from check_common import REPO_ROOT, Finding, Obj, describe, of_kind


def _wildcards(values: Iterable[Any]) -> list[str]:
    return [str(v) for v in values if isinstance(v, str) and "*" in v]


def check_argocd(docs: list[Obj]) -> list[Finding]:
    """AppProject: no wildcards; Applications: automated, self-healing, inside their project."""
    out: list[Finding] = []
    projects = {p["metadata"]["name"]: p for p in of_kind(docs, "AppProject")}
    for p in projects.values():
        spec, where = p["spec"], describe(p)
        fields: dict[str, list[Any]] = {"spec.sourceRepos": spec.get("sourceRepos") or []}
        for i, d in enumerate(spec.get("destinations") or []):
            fields[f"spec.destinations[{i}]"] = [d.get("server"), d.get("name"), d.get("namespace")]
        for key in ("clusterResourceWhitelist", "namespaceResourceWhitelist"):
            for i, gk in enumerate(spec.get(key) or []):
                fields[f"spec.{key}[{i}]"] = [gk.get("group"), gk.get("kind")]
        for field, values in fields.items():
            if wild := _wildcards(values):
                out.append(
                    Finding(
                        "policy",
                        where,
                        field,
                        f"wildcard {wild} — name the exact repository, namespace, group and kind",
                    )
                )
    for app in of_kind(docs, "Application"):
        out.extend(_application_findings(app, projects))
    return out


def _application_findings(app: Obj, projects: dict[str, Obj]) -> list[Finding]:
    out: list[Finding] = []
    spec, where = app["spec"], describe(app)
    sync = spec.get("syncPolicy") or {}
    auto = sync.get("automated") or {}
    for flag in ("prune", "selfHeal"):
        if auto.get(flag) is not True:
            out.append(Finding("policy", where, f"spec.syncPolicy.automated.{flag}", "must be true"))
    if "RespectIgnoreDifferences=true" not in (sync.get("syncOptions") or []):
        out.append(
            Finding(
                "policy",
                where,
                "spec.syncPolicy.syncOptions",
                "add RespectIgnoreDifferences=true (else a sync resets HPA-owned replicas)",
            )
        )
    if not (sync.get("retry") or {}).get("backoff"):
        out.append(Finding("policy", where, "spec.syncPolicy.retry.backoff", "missing — retry with backoff"))
    ignored = [
        d
        for d in spec.get("ignoreDifferences") or []
        if d.get("kind") == "Deployment" and "/spec/replicas" in (d.get("jsonPointers") or [])
    ]
    if not ignored:
        out.append(
            Finding(
                "policy",
                where,
                "spec.ignoreDifferences",
                "ignore /spec/replicas of the Deployment (the HPA owns it)",
            )
        )
    project = projects.get(spec.get("project", ""))
    if project is None:
        out.append(
            Finding(
                "policy",
                where,
                "spec.project",
                f"{spec.get('project')!r} is not an AppProject here",
            )
        )
        return out
    if spec["source"]["repoURL"] not in project["spec"]["sourceRepos"]:
        out.append(Finding("policy", where, "spec.source.repoURL", "not in the project's sourceRepos"))
    dests = {(d.get("server"), d.get("namespace")) for d in project["spec"]["destinations"]}
    dest = (spec["destination"].get("server"), spec["destination"].get("namespace"))
    if dest not in dests:
        out.append(
            Finding("policy", where, "spec.destination", f"{dest} is not a destination of the project")
        )
    path = spec["source"].get("path", "")
    if not re.fullmatch(r"[\w./-]+", path) or not (REPO_ROOT / path / "kustomization.yaml").is_file():
        out.append(
            Finding(
                "policy",
                where,
                "spec.source.path",
                f"{path!r} is not a kustomization in this repository",
            )
        )
    return out


def check_project_kinds(project: Obj, rendered: Iterable[Obj]) -> list[Finding]:
    """The project whitelists exactly the kinds the overlays render (plus Namespace)."""
    spec = project["spec"]
    allowed = {(g["group"], g["kind"]) for g in spec.get("namespaceResourceWhitelist") or []}
    allowed |= {(g["group"], g["kind"]) for g in spec.get("clusterResourceWhitelist") or []}
    rendered = list(rendered)
    used = {(str(o["apiVersion"]).rpartition("/")[0], o["kind"]) for o in rendered}
    used.add(("", "Namespace"))  # created by the Applications (CreateNamespace=true)
    # The project may create Namespaces only for CreateNamespace: an overlay that renders one
    # could rewrite any namespace's labels (Pod Security) through this project.
    out = [
        Finding(
            "policy",
            describe(o),
            "kind",
            "overlays must not render Namespaces — the "
            "Applications create theirs (CreateNamespace=true, managedNamespaceMetadata)",
        )
        for o in rendered
        if o["kind"] == "Namespace"
    ]
    out += [
        Finding(
            "policy",
            describe(project),
            "spec.namespaceResourceWhitelist",
            f"{kind} ({group or 'core'}) is rendered by an overlay but not allowed — add it",
        )
        for group, kind in sorted(used - allowed)
    ]
    out += [
        Finding(
            "policy",
            describe(project),
            "spec.namespaceResourceWhitelist",
            f"{kind} ({group or 'core'}) is allowed but no overlay renders it — remove it",
        )
        for group, kind in sorted(allowed - used)
    ]
    return out
