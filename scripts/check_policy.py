"""Policy checks that schemas and checkov do not cover: how the objects of one rendered overlay
fit together (HPA, PDB, NetworkPolicy, probes, shutdown timing). What the cluster must provide
(pull secret, Ingress, monitoring label): check_cluster.py. Argo CD: check_argocd.py."""

from __future__ import annotations

import math
from typing import Any

from check_cluster import check_cluster
from check_common import Finding, Obj, describe, of_kind, selects

RESOURCES = ("cpu", "memory", "ephemeral-storage")
PROBES = ("startupProbe", "readinessProbe", "livenessProbe")


def _pod_labels(dep: Obj) -> dict[str, str]:
    return dict(dep["spec"]["template"].get("metadata", {}).get("labels") or {})


def _settings(docs: list[Obj], container: Obj) -> dict[str, str]:
    """The container's environment as the pod will see it (ConfigMap envFrom, then env)."""
    maps = {m["metadata"]["name"]: m.get("data") or {} for m in of_kind(docs, "ConfigMap")}
    env: dict[str, str] = {}
    for src in container.get("envFrom") or []:
        env.update(maps.get((src.get("configMapRef") or {}).get("name", ""), {}))
    env.update({e["name"]: e["value"] for e in container.get("env") or [] if "value" in e})
    return env


def _container_findings(docs: list[Obj], dep: Obj, pod: Obj, c: Obj) -> list[Finding]:
    out: list[Finding] = []
    where = describe(dep)
    base = f"spec.template.spec.containers[{c.get('name')}]"

    def bad(field: str, message: str) -> None:
        out.append(Finding("policy", where, f"{base}.{field}", message))

    for probe in PROBES:
        if probe not in c:
            bad(
                probe,
                "missing — every container needs startup, readiness and liveness probes "
                "(readiness GET /readyz, liveness GET /healthz)",
            )
    ready, live = c.get("readinessProbe"), c.get("livenessProbe")
    if ready and live and ready.get("httpGet", ready) == live.get("httpGet", live):
        bad(
            "readinessProbe",
            "same check as livenessProbe — readiness must mean 'model loaded' "
            "(/readyz), liveness 'process alive' (/healthz), or a slow load restarts the pod",
        )
    res = c.get("resources") or {}
    for kind in ("requests", "limits"):
        for r in RESOURCES:
            if r not in (res.get(kind) or {}):
                bad(
                    f"resources.{kind}.{r}",
                    "missing — set requests and limits for cpu, memory and ephemeral-storage",
                )
    sc = c.get("securityContext") or {}
    psc = pod.get("securityContext") or {}
    if sc.get("privileged") is True:
        bad("securityContext.privileged", "true — never run the service privileged; set false")
    if sc.get("allowPrivilegeEscalation") is not False:
        bad("securityContext.allowPrivilegeEscalation", "must be false")
    if sc.get("readOnlyRootFilesystem") is not True:
        bad("securityContext.readOnlyRootFilesystem", "must be true (write to the /tmp volume)")
    if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
        bad("securityContext.capabilities.drop", "must contain ALL")
    if not (sc.get("runAsNonRoot") or psc.get("runAsNonRoot")):
        bad("securityContext.runAsNonRoot", "must be true (the image runs as uid 10001)")
    seccomp = (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
    if seccomp != "RuntimeDefault":
        bad("securityContext.seccompProfile.type", f"is {seccomp!r}; set RuntimeDefault")
    mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts") or []}
    empty_dirs = {v["name"] for v in pod.get("volumes") or [] if "emptyDir" in v}
    if mounts.get("/tmp") not in empty_dirs:  # noqa: S108 - the container's /tmp, not ours
        bad("volumeMounts", "no writable emptyDir at /tmp (the root filesystem is read-only)")
    settings = _settings(docs, c)
    multiproc = settings.get("PROMETHEUS_MULTIPROC_DIR")
    if multiproc and not any(multiproc.startswith(p) and mounts[p] in empty_dirs for p in mounts):
        bad("volumeMounts", f"PROMETHEUS_MULTIPROC_DIR={multiproc} is not on a writable volume")
    grace = pod.get("terminationGracePeriodSeconds", 30)
    sleep = (((c.get("lifecycle") or {}).get("preStop") or {}).get("sleep") or {}).get("seconds", 0)
    if "GRACEFUL_TIMEOUT" not in settings:
        bad(
            "envFrom",
            "GRACEFUL_TIMEOUT is not set (ConfigMap flightdelay-settings): the grace "
            "period cannot be checked against gunicorn's shutdown",
        )
    elif grace <= sleep + int(settings["GRACEFUL_TIMEOUT"]):
        out.append(
            Finding(
                "policy",
                where,
                "spec.template.spec.terminationGracePeriodSeconds",
                f"{grace} s is not longer than preStop sleep {sleep} s + gunicorn "
                f"GRACEFUL_TIMEOUT {settings['GRACEFUL_TIMEOUT']} s — raise it, or "
                "in-flight requests are killed",
            )
        )
    return out


def check_deployment(docs: list[Obj], dep: Obj) -> list[Finding]:
    where = describe(dep)
    out: list[Finding] = []
    spec, pod = dep["spec"], dep["spec"]["template"]["spec"]
    if "replicas" in spec:
        out.append(
            Finding(
                "policy",
                where,
                "spec.replicas",
                "remove it: the HorizontalPodAutoscaler owns the replica count (a sync would reset it)",
            )
        )
    if pod.get("automountServiceAccountToken") is not False:
        out.append(
            Finding(
                "policy",
                where,
                "spec.template.spec.automountServiceAccountToken",
                "must be false (the service calls no Kubernetes API)",
            )
        )
    if not pod.get("topologySpreadConstraints"):
        out.append(
            Finding(
                "policy",
                where,
                "spec.template.spec.topologySpreadConstraints",
                "missing — spread the pods over zones and nodes",
            )
        )
    for c in pod.get("containers") or []:
        out.extend(_container_findings(docs, dep, pod, c))
    name, labels = dep["metadata"]["name"], _pod_labels(dep)
    hpas = [
        h
        for h in of_kind(docs, "HorizontalPodAutoscaler")
        if h["spec"]["scaleTargetRef"].get("kind") == "Deployment"
        and h["spec"]["scaleTargetRef"].get("name") == name
    ]
    if not hpas:
        out.append(Finding("policy", where, "", "no HorizontalPodAutoscaler targets it"))
    min_replicas = min((h["spec"].get("minReplicas", 1) for h in hpas), default=1)
    for h in hpas:
        if h["spec"].get("minReplicas", 1) < 2:
            out.append(
                Finding(
                    "policy",
                    describe(h),
                    "spec.minReplicas",
                    "must be at least 2 (one pod is not highly available)",
                )
            )
    pdbs = [p for p in of_kind(docs, "PodDisruptionBudget") if selects(p["spec"].get("selector"), labels)]
    if not pdbs:
        out.append(Finding("policy", where, "", "no PodDisruptionBudget selects its pods"))
    for p in pdbs:
        allowed = _disruptions_allowed(p["spec"], min_replicas)
        if allowed < 1:
            out.append(
                Finding(
                    "policy",
                    describe(p),
                    "spec",
                    f"allows {allowed} disruptions at "
                    f"the HPA minimum of {min_replicas} pods — node drains would "
                    "block; lower minAvailable or use maxUnavailable: 1",
                )
            )
    if not any(selects(n["spec"].get("podSelector"), labels) for n in of_kind(docs, "NetworkPolicy")):
        out.append(
            Finding(
                "policy",
                where,
                "spec.template.metadata.labels",
                "no NetworkPolicy selects these pods — add one (default deny, allow "
                "the ingress controller and Prometheus)",
            )
        )
    return out


def _disruptions_allowed(pdb_spec: dict[str, Any], pods: int) -> int:
    def resolve(value: int | str) -> int:
        if isinstance(value, str) and value.endswith("%"):
            return math.ceil(pods * int(value[:-1]) / 100)
        return int(value)

    if "maxUnavailable" in pdb_spec:
        return resolve(pdb_spec["maxUnavailable"])
    return pods - resolve(pdb_spec.get("minAvailable", pods))


def check_overlays(docs: list[Obj]) -> list[Finding]:
    """check_overlay on each namespace's objects (an overlay renders one namespace)."""
    namespaces: dict[str, list[Obj]] = {}
    for d in docs:
        if d.get("kind") not in ("AppProject", "Application"):
            namespaces.setdefault((d.get("metadata") or {}).get("namespace", ""), []).append(d)
    return [f for group in namespaces.values() for f in check_overlay(group)]


def check_overlay(docs: list[Obj]) -> list[Finding]:
    """Every rule for the objects of one rendered overlay."""
    out: list[Finding] = []
    deployments = of_kind(docs, "Deployment")
    for dep in deployments:
        out.extend(check_deployment(docs, dep))
    pods = [_pod_labels(d) for d in deployments]
    for svc in of_kind(docs, "Service"):
        if not any(selects({"matchLabels": svc["spec"].get("selector")}, p) for p in pods):
            out.append(Finding("policy", describe(svc), "spec.selector", "selects no Deployment's pods"))
    services = of_kind(docs, "Service")
    for sm in of_kind(docs, "ServiceMonitor"):
        chosen = [s for s in services if selects(sm["spec"]["selector"], s["metadata"].get("labels") or {})]
        ports = {p.get("name") for s in chosen for p in s["spec"].get("ports") or []}
        for i, ep in enumerate(sm["spec"]["endpoints"]):
            if ep.get("port") not in ports:
                out.append(
                    Finding(
                        "policy",
                        describe(sm),
                        f"spec.endpoints[{i}].port",
                        f"{ep.get('port')!r} is not a port name of a selected Service "
                        f"(found {sorted(p for p in ports if p)})",
                    )
                )
    return out + check_cluster(docs)
