"""Policy checks of the training manifests (deploy/training/: the Job, and the DaskCluster of the
Dask Kubernetes operator when `train.engine: dask`): every pod hardened like the service's
(resources, non-root, read-only root, capabilities dropped, seccomp, no service-account token, a
pull secret, a writable /tmp), the Job bounded (no restarts in place, a retry limit, a deadline, a
TTL), every pod isolated by a NetworkPolicy, and the job and the Dask pods on one image."""

from __future__ import annotations

from typing import Any

from check_common import Finding, Obj, describe, of_kind, selects
from check_policy import RESOURCES

MAX_BACKOFF = 3
# The operator labels every pod of a DaskCluster with these (dask_kubernetes/operator).
DASK_CLUSTER_LABEL = "dask.org/cluster-name"
DASK_COMPONENT_LABEL = "dask.org/component"


def training_pods(docs: list[Obj]) -> list[tuple[Obj, str, Obj, dict[str, str]]]:
    """(owner, path to the pod spec, pod spec, the pod's labels) of every Job and DaskCluster."""
    pods = []
    for job in of_kind(docs, "Job"):
        template = job["spec"]["template"]
        labels = dict((template.get("metadata") or {}).get("labels") or {})
        pods.append((job, "spec.template.spec", template["spec"], labels))
    for cluster in of_kind(docs, "DaskCluster"):
        name = cluster["metadata"]["name"]
        for component in ("scheduler", "worker"):
            spec = ((cluster.get("spec") or {}).get(component) or {}).get("spec") or {}
            labels = {DASK_CLUSTER_LABEL: name, DASK_COMPONENT_LABEL: component}
            pods.append((cluster, f"spec.{component}.spec", spec, labels))
    return pods


def _pod_findings(owner: Obj, base: str, pod: Obj) -> list[Finding]:
    out: list[Finding] = []
    where = describe(owner)

    def bad(field: str, message: str) -> None:
        out.append(Finding("policy", where, f"{base}.{field}", message))

    if pod.get("automountServiceAccountToken") is not False:
        bad("automountServiceAccountToken", "must be false (training calls no Kubernetes API)")
    if not [s for s in pod.get("imagePullSecrets") or [] if s.get("name")]:
        bad("imagePullSecrets", "missing — reference the docker-registry Secret `ghcr-pull`")
    psc = pod.get("securityContext") or {}
    empty_dirs = {v["name"] for v in pod.get("volumes") or [] if "emptyDir" in v}
    containers = pod.get("containers") or []
    if not containers:
        bad("containers", "no container")
    for c in containers:
        cbase = f"containers[{c.get('name')}]"
        res = c.get("resources") or {}
        for kind in ("requests", "limits"):
            for r in RESOURCES:
                if r not in (res.get(kind) or {}):
                    bad(
                        f"{cbase}.resources.{kind}.{r}",
                        "missing — set requests and limits for cpu, "
                        "memory and ephemeral-storage (a training pod is sized for its data)",
                    )
        sc = c.get("securityContext") or {}
        if sc.get("privileged") is True:
            bad(f"{cbase}.securityContext.privileged", "true — training never needs it; set false")
        if sc.get("allowPrivilegeEscalation") is not False:
            bad(f"{cbase}.securityContext.allowPrivilegeEscalation", "must be false")
        if sc.get("readOnlyRootFilesystem") is not True:
            bad(f"{cbase}.securityContext.readOnlyRootFilesystem", "must be true (write to emptyDir volumes)")
        if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
            bad(f"{cbase}.securityContext.capabilities.drop", "must contain ALL")
        if not (sc.get("runAsNonRoot") or psc.get("runAsNonRoot")):
            bad(f"{cbase}.securityContext.runAsNonRoot", "must be true (the image runs as uid 10001)")
        seccomp = (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
        if seccomp != "RuntimeDefault":
            bad(f"{cbase}.securityContext.seccompProfile.type", f"is {seccomp!r}; set RuntimeDefault")
        mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts") or []}
        if mounts.get("/tmp") not in empty_dirs:  # noqa: S108 - the container's /tmp
            bad(f"{cbase}.volumeMounts", "no writable emptyDir at /tmp (HOME and the caches live there)")
    return out


def _job_findings(job: Obj) -> list[Finding]:
    spec, pod = job["spec"], job["spec"]["template"]["spec"]
    out: list[Finding] = []

    def bad(field: str, message: str) -> None:
        out.append(Finding("policy", describe(job), field, message))

    if pod.get("restartPolicy") != "Never":
        bad(
            "spec.template.spec.restartPolicy",
            "must be Never: a failed run is retried as a new pod "
            "(backoffLimit), never restarted inside a half-written workspace",
        )
    backoff = spec.get("backoffLimit")
    if not isinstance(backoff, int) or backoff > MAX_BACKOFF:
        bad("spec.backoffLimit", f"is {backoff!r}; set 0..{MAX_BACKOFF} (the default 6 retrains six times)")
    if not spec.get("activeDeadlineSeconds"):
        bad("spec.activeDeadlineSeconds", "missing — a stuck run would hold its nodes forever")
    if spec.get("ttlSecondsAfterFinished") is None:
        bad("spec.ttlSecondsAfterFinished", "missing — finished jobs would pile up; keep them a few days")
    return out


def _images(pod: Obj) -> set[str]:
    return {c.get("image", "") for key in ("initContainers", "containers") for c in pod.get(key) or []}


def check_training(docs: list[Obj]) -> list[Finding]:
    """Every rule for the objects of one rendered training target (empty when it has none)."""
    pods = training_pods(docs)
    out: list[Finding] = []
    for job in of_kind(docs, "Job"):
        out += _job_findings(job)
    for owner, base, pod, _ in pods:
        out += _pod_findings(owner, base, pod)
    policies = of_kind(docs, "NetworkPolicy")
    for owner, base, _, labels in pods:
        if not any(selects(n["spec"].get("podSelector"), labels) for n in policies):
            out.append(
                Finding(
                    "policy",
                    describe(owner),
                    base,
                    f"no NetworkPolicy selects these pods "
                    f"(labels {labels}) — add one (deploy/training/*/networkpolicy.yaml)",
                )
            )
    images: dict[str, list[Any]] = {}
    for owner, base, pod, _ in pods:
        for image in _images(pod):
            images.setdefault(image, []).append(f"{describe(owner)} {base}")
    if len(images) > 1:
        out.append(
            Finding(
                "policy",
                "training",
                "images",
                f"the job and the Dask pods run different "
                f"images {sorted(images)}: the workers must run the job's code and libraries "
                "— keep the `images:` blocks of deploy/training/base and dask equal",
            )
        )
    return out
