"""Policy checks of what a rendered overlay needs from the cluster on its first sync: the registry
pull secret, an Ingress for every Service the NetworkPolicy opens to the ingress controller (and a
NetworkPolicy that lets the controller through), and the `release` label kube-prometheus-stack
selects monitoring objects by. The cluster side is docs/fork-setup.md."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from check_common import Finding, Obj, describe, of_kind, selects

# ingressClassName → namespace of that controller's pods (what the NetworkPolicy must admit).
# A fork with another controller changes both this and deploy/base/networkpolicy.yaml.
INGRESS_CONTROLLERS = {"nginx": "ingress-nginx"}
MONITORING_GROUP = "monitoring.coreos.com"
RELEASE_LABEL = "release"
NAMESPACE_LABEL = "kubernetes.io/metadata.name"  # set by Kubernetes on every namespace
REGISTRY_PULL_HINT = (
    "reference the docker-registry Secret `ghcr-pull` (docs/fork-setup.md creates it); "
    "a new GHCR package is private and the pods would stay in ImagePullBackOff"
)


@dataclass(frozen=True)
class PodPort:
    """A container port as a NetworkPolicy sees it: by name and by number."""

    name: str | None
    number: int | None

    def __str__(self) -> str:
        return self.name or str(self.number)


def check_cluster(docs: list[Obj]) -> list[Finding]:
    """Every first-sync rule for the objects of one rendered overlay."""
    return _pull_secrets(docs) + _release_labels(docs) + _ingresses(docs)


def _pull_secrets(docs: list[Obj]) -> list[Finding]:
    out = []
    for dep in of_kind(docs, "Deployment"):
        names = [s.get("name") for s in dep["spec"]["template"]["spec"].get("imagePullSecrets") or []]
        if not names or not all(names):
            out.append(
                Finding(
                    "policy",
                    describe(dep),
                    "spec.template.spec.imagePullSecrets",
                    f"missing — {REGISTRY_PULL_HINT}",
                )
            )
    return out


def _group(obj: Obj) -> str:
    return str(obj.get("apiVersion", "")).rpartition("/")[0]


def _release_labels(docs: list[Obj]) -> list[Finding]:
    monitoring = [o for o in docs if _group(o) == MONITORING_GROUP]
    out = []
    values: dict[str, list[Obj]] = {}
    for obj in monitoring:
        value = ((obj.get("metadata") or {}).get("labels") or {}).get(RELEASE_LABEL)
        if not value:
            out.append(
                Finding(
                    "policy",
                    describe(obj),
                    f"metadata.labels.{RELEASE_LABEL}",
                    "missing — kube-prometheus-stack's Prometheus ignores ServiceMonitors and "
                    "PrometheusRules without `release: <its Helm release name>`; set it in "
                    "deploy/base/kustomization.yaml (the patch on group monitoring.coreos.com)",
                )
            )
        else:
            values.setdefault(str(value), []).append(obj)
    if len(values) > 1:
        out += [
            Finding(
                "policy",
                describe(obj),
                f"metadata.labels.{RELEASE_LABEL}",
                f"{value!r} while other monitoring objects carry {sorted(set(values) - {value})} — "
                "one Prometheus selects one value: set it once in deploy/base/kustomization.yaml",
            )
            for value, objs in sorted(values.items())
            for obj in objs
        ]
    return out


def _pod_port(dep: Obj, target: int | str) -> PodPort | None:
    """The container port a Service targetPort points at, or None when no container has it."""
    for c in dep["spec"]["template"]["spec"].get("containers") or []:
        for p in c.get("ports") or []:
            if target in (p.get("name"), p.get("containerPort")):
                return PodPort(p.get("name"), p.get("containerPort"))
    return PodPort(None, target) if isinstance(target, int) else None


def _port_matches(entry: dict[str, Any], port: PodPort) -> bool:
    wanted = entry.get("port")
    if wanted is None:
        return True
    if isinstance(wanted, str):
        return wanted == port.name
    end = entry.get("endPort", wanted)
    return port.number is not None and wanted <= port.number <= end


def _ingress_rules(policies: list[Obj], labels: dict[str, str]) -> list[Obj] | None:
    """Ingress rules of the NetworkPolicies isolating these pods; None when none isolates them."""
    isolating = [
        n
        for n in policies
        if selects(n["spec"].get("podSelector"), labels)
        and "Ingress" in (n["spec"].get("policyTypes") or ["Ingress"])
    ]
    if not isolating:
        return None
    return [rule for n in isolating for rule in n["spec"].get("ingress") or []]


def _peer_names(peer: Obj, namespace: str, *, explicitly: bool) -> bool:
    """Whether a `from` peer admits pods of `namespace` (the controller's pod labels are unknown,
    so a podSelector beside the namespaceSelector is not held against it)."""
    selector = peer.get("namespaceSelector")
    if selector is None:
        return False  # a podSelector alone means this namespace; an ipBlock names no namespace
    if explicitly:
        return bool((selector.get("matchLabels") or {}).get(NAMESPACE_LABEL) == namespace)
    return selects(selector, {NAMESPACE_LABEL: namespace})


def _admits(
    policies: list[Obj], labels: dict[str, str], port: PodPort, namespace: str, *, explicitly: bool
) -> bool:
    """Whether traffic from `namespace` reaches these pods on `port`. `explicitly`: only a rule that
    names the namespace counts (no NetworkPolicy, or an open rule, does not)."""
    rules = _ingress_rules(policies, labels)
    if rules is None:
        return not explicitly
    for rule in rules:
        if not any(_port_matches(e, port) for e in rule.get("ports") or [{}]):
            continue
        peers = rule.get("from")
        if not peers:
            if not explicitly:
                return True
            continue
        if any(_peer_names(p, namespace, explicitly=explicitly) for p in peers):
            return True
    return False


@dataclass(frozen=True)
class _Overlay:
    services: dict[str, Obj]
    deployments: list[Obj]
    policies: list[Obj]

    def pods_of(self, svc: Obj) -> list[Obj]:
        selector = {"matchLabels": svc["spec"].get("selector") or {}}
        return [
            d
            for d in self.deployments
            if svc["spec"].get("selector")
            and selects(selector, d["spec"]["template"].get("metadata", {}).get("labels") or {})
        ]


def _ingresses(docs: list[Obj]) -> list[Finding]:
    overlay = _Overlay(
        {s["metadata"]["name"]: s for s in of_kind(docs, "Service")},
        of_kind(docs, "Deployment"),
        of_kind(docs, "NetworkPolicy"),
    )
    out: list[Finding] = []
    routed: set[tuple[str, str]] = set()  # (Service, controller namespace) an Ingress routes
    for ing in of_kind(docs, "Ingress"):
        where, spec = describe(ing), ing["spec"]
        cls = spec.get("ingressClassName")
        namespace = INGRESS_CONTROLLERS.get(cls or "")
        if namespace is None:
            out.append(
                Finding(
                    "policy",
                    where,
                    "spec.ingressClassName",
                    f"{cls!r} is not one of the cluster's ingress classes {sorted(INGRESS_CONTROLLERS)} — "
                    "set ingressClassName: nginx (ingress-nginx; docs/fork-setup.md)",
                )
            )
        if not spec.get("rules"):
            out.append(
                Finding("policy", where, "spec.rules", "missing — route the service's paths on a host")
            )
        for i, rule in enumerate(spec.get("rules") or []):
            if not rule.get("host"):
                out.append(
                    Finding(
                        "policy",
                        where,
                        f"spec.rules[{i}].host",
                        "missing — a rule without a host answers for every name the controller "
                        "serves; set this environment's host in its overlay",
                    )
                )
            for j, path in enumerate((rule.get("http") or {}).get("paths") or []):
                field = f"spec.rules[{i}].http.paths[{j}].backend.service"
                backend = (path.get("backend") or {}).get("service") or {}
                findings, name = _backend(overlay, where, field, backend, namespace)
                out += findings
                if name and namespace:
                    routed.add((name, namespace))
    return out + _unrouted(overlay, routed)


def _backend(
    overlay: _Overlay, where: str, field: str, backend: Obj, namespace: str | None
) -> tuple[list[Finding], str | None]:
    """Findings for one Ingress backend, and the Service it routes to when that exists."""
    name = backend.get("name", "")
    svc = overlay.services.get(name)
    if svc is None:
        return [Finding("policy", where, f"{field}.name", f"{name!r} is not a Service of this overlay")], None
    ref = (backend.get("port") or {}).get("name") or (backend.get("port") or {}).get("number")
    ports = svc["spec"].get("ports") or []
    port = next((p for p in ports if ref in (p.get("name"), p.get("port"))), None)
    if port is None:
        found = [p.get("name") or p.get("port") for p in ports]
        return [
            Finding(
                "policy", where, f"{field}.port", f"{ref!r} is not a port of Service {name} (found {found})"
            )
        ], name
    out = []
    for dep in overlay.pods_of(svc):
        pod_port = _pod_port(dep, port.get("targetPort", port.get("port")))
        if pod_port is None:
            continue  # the Service points at no container port: not the Ingress's fault
        labels = dep["spec"]["template"].get("metadata", {}).get("labels") or {}
        if namespace and not _admits(overlay.policies, labels, pod_port, namespace, explicitly=False):
            out.append(
                Finding(
                    "policy",
                    where,
                    field,
                    f"no NetworkPolicy admits namespace {namespace} to the pods of Service {name} on "
                    f"port {pod_port}: the controller's requests would time out — allow it in "
                    "deploy/base/networkpolicy.yaml",
                )
            )
    return out, name


def _unrouted(overlay: _Overlay, routed: set[tuple[str, str]]) -> list[Finding]:
    """Services whose pods a NetworkPolicy opens to an ingress controller that no Ingress routes."""
    out = []
    for name, svc in sorted(overlay.services.items()):
        for cls, namespace in sorted(INGRESS_CONTROLLERS.items()):
            if (name, namespace) in routed:
                continue
            opened = [
                pod_port
                for dep in overlay.pods_of(svc)
                for p in svc["spec"].get("ports") or []
                if (pod_port := _pod_port(dep, p.get("targetPort", p.get("port")))) is not None
                and _admits(
                    overlay.policies,
                    dep["spec"]["template"].get("metadata", {}).get("labels") or {},
                    pod_port,
                    namespace,
                    explicitly=True,
                )
            ]
            if opened:
                out.append(
                    Finding(
                        "policy",
                        describe(svc),
                        "",
                        f"a NetworkPolicy admits the ingress controller ({namespace}) to its pods on port "
                        f"{opened[0]}, but no Ingress of class {cls} routes to it — add one "
                        "(deploy/base/ingress.yaml) or drop the rule",
                    )
                )
    return out
