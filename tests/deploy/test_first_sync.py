"""A first sync into a fresh cluster works, or fails with a documented reason: the pods can pull
from a private GHCR package, an Ingress routes what the NetworkPolicy opens to ingress-nginx,
kube-prometheus-stack picks up the monitoring objects, and the overlays pin either a released image
or the documented placeholder."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from check_argocd import check_project_kinds
from check_cluster import check_cluster
from check_deploy import PLACEHOLDER_TAG, check_images, declared_images, pins_placeholder

from tests.deploy.conftest import Mutate, Obj, find, run_check, run_policy
from tests.helpers import REPO_ROOT

ENVIRONMENTS = ("staging", "production")
FORK_SETUP = REPO_ROOT / "docs" / "fork-setup.md"
RELEASE_LABEL_VALUE = "kube-prometheus-stack"  # kube-prometheus-stack's default Helm release name


def _setup_section() -> str:
    text = FORK_SETUP.read_text()
    assert text.startswith("# Set up your fork\n"), "docs/fork-setup.md is not the fork set-up page"
    return text


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_first_sync_checks_pass_on_the_committed_overlay(rendered: dict[str, list[Obj]], env: str) -> None:
    assert check_cluster(rendered[env]) == []


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_pods_pull_with_the_secret_the_readme_creates(rendered: dict[str, list[Obj]], env: str) -> None:
    pod = find(rendered[env], "Deployment")["spec"]["template"]["spec"]
    assert pod.get("imagePullSecrets") == [{"name": "ghcr-pull"}]
    setup = _setup_section()
    assert f"-n flightdelay-{env} create secret docker-registry ghcr-pull" in setup
    assert "read:packages" in setup


def test_an_ingress_per_overlay_routes_the_client_api(rendered: dict[str, list[Obj]]) -> None:
    hosts = []
    for env in ENVIRONMENTS:
        spec = find(rendered[env], "Ingress", "flightdelay")["spec"]
        assert spec["ingressClassName"] == "nginx"
        [rule] = spec["rules"]
        hosts.append(rule["host"])
        paths = {p["path"]: p for p in rule["http"]["paths"]}
        assert set(paths) == {"/v1", "/invocations", "/docs", "/openapi.json"}  # no /metrics, /admin
        for p in paths.values():
            assert p["backend"]["service"] == {"name": "flightdelay", "port": {"name": "http"}}
        policy = find(rendered[env], "NetworkPolicy")["spec"]["ingress"][0]["from"]
        assert {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}
        } in policy
    assert hosts == ["flightdelay.staging.example.org", "flightdelay.example.org"]


def test_the_project_allows_every_kind_the_overlays_render(rendered: dict[str, list[Obj]]) -> None:
    project = find(rendered["argocd"], "AppProject")
    assert {"group": "networking.k8s.io", "kind": "Ingress"} in project["spec"]["namespaceResourceWhitelist"]
    assert check_project_kinds(project, rendered["staging"] + rendered["production"]) == []


def test_monitoring_objects_carry_the_release_label_set_in_one_place(rendered: dict[str, list[Obj]]) -> None:
    monitoring = [
        o
        for env in ENVIRONMENTS
        for o in rendered[env]
        if o["apiVersion"].startswith("monitoring.coreos.com/")
    ]
    assert {o["kind"] for o in monitoring} == {"ServiceMonitor", "PrometheusRule"}
    for obj in monitoring:
        assert obj["metadata"]["labels"]["release"] == RELEASE_LABEL_VALUE, obj["metadata"]["name"]
    sources = [p for p in (REPO_ROOT / "deploy").rglob("*.yaml") if RELEASE_LABEL_VALUE in p.read_text()]
    assert [p.relative_to(REPO_ROOT).as_posix() for p in sources] == ["deploy/base/kustomization.yaml"]
    assert f"release: {RELEASE_LABEL_VALUE}" in _setup_section()


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_committed_overlays_pin_a_release_or_the_documented_placeholder(env: str) -> None:
    overlay = REPO_ROOT / "deploy" / "overlays" / env
    assert check_images(overlay) == []
    [ref] = declared_images(overlay)
    tag = ref.rpartition("@")[0].rpartition(":")[2] if "@" in ref else ref.rpartition(":")[2]
    assert re.fullmatch(r"model-v[1-9]\d*-[0-9a-f]{7,40}", tag) or (
        tag == PLACEHOLDER_TAG and pins_placeholder(overlay)
    )
    if pins_placeholder(overlay):  # what an operator sees before the first release
        run = run_check("images", env)
        assert run.returncode == 0, run.output
        assert "placeholder: no release yet, the first release bumps it" in run.output
        assert PLACEHOLDER_TAG in _setup_section()


def _overlay_copy(tmp_path: Path, env: str) -> Path:
    shutil.copytree(REPO_ROOT / "deploy", tmp_path / "deploy")
    return tmp_path / "deploy" / "overlays" / env


def _pin(overlay: Path, lines: str) -> None:
    """Replace the managed block's newTag (and digest) lines, as a hand edit or the release would."""
    kust = overlay / "kustomization.yaml"
    text = re.sub(r"    newTag: \S+\n(    digest: \S+\n)?\Z", lines, kust.read_text())
    kust.write_text(text)


@pytest.mark.parametrize(
    ("lines", "fragment"),
    [
        ("    newTag: latest\n", "'latest' is neither a release tag (model-vN-<sha>"),
        ("    newTag: model-v0-hotfix\n", "'model-v0-hotfix' is neither a release tag"),
        (
            "    newTag: model-v0-bootstrap\n    digest: sha256:" + "a" * 64 + "\n",
            "names no image: remove the digest",
        ),
        (
            "    newTag: model-v3-1a2b3c4\n    digest: sha256:abc\n",
            "'sha256:abc' is not sha256:<64 hex digits>",
        ),
    ],
    ids=["latest", "not-a-release", "placeholder-with-digest", "short-digest"],
)
def test_an_image_tag_no_release_wrote_fails(tmp_path: Path, lines: str, fragment: str) -> None:
    overlay = _overlay_copy(tmp_path, "staging")
    _pin(overlay, lines)
    messages = [str(f) for f in check_images(overlay)]
    assert any(fragment in m for m in messages), messages


def test_the_block_a_release_writes_with_a_digest_passes(tmp_path: Path) -> None:
    """`flightdelay release bump --digest` writes newTag and digest: both render, and the check passes."""
    overlay = _overlay_copy(tmp_path, "production")
    digest = "sha256:" + "b" * 64
    _pin(overlay, f"    newTag: model-v3-1a2b3c4\n    digest: {digest}\n")
    assert check_images(overlay) == []
    assert declared_images(overlay) == [f"ghcr.io/example-org/flightdelay:model-v3-1a2b3c4@{digest}"]
    assert not pins_placeholder(overlay)


def _ingress(docs: list[Obj]) -> Obj:
    return find(docs, "Ingress", "flightdelay")


def _backend(docs: list[Obj]) -> Obj:
    service: Obj = _ingress(docs)["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    return service


def _monitoring(docs: list[Obj], kind: str) -> Obj:
    return next(d for d in docs if d["kind"] == kind)


# (id, target, mutation, every expected fragment of the policy output)
CASES: list[tuple[str, str, Mutate, list[str]]] = [
    (
        "deployment-without-pull-secret",
        "production",
        lambda d: find(d, "Deployment")["spec"]["template"]["spec"].pop("imagePullSecrets"),
        [
            "Deployment flightdelay-production/flightdelay: spec.template.spec.imagePullSecrets: missing",
            "`ghcr-pull`",
        ],
    ),
    (
        "servicemonitor-without-release-label",
        "staging",
        lambda d: _monitoring(d, "ServiceMonitor")["metadata"]["labels"].pop("release"),
        [
            "ServiceMonitor flightdelay-staging/flightdelay: metadata.labels.release: missing",
            "deploy/base/kustomization.yaml",
        ],
    ),
    (
        "prometheusrule-with-another-release",
        "production",
        lambda d: find(d, "PrometheusRule", "flightdelay-service")["metadata"]["labels"].update(
            {"release": "prometheus"}
        ),
        ["'prometheus' while other monitoring objects carry ['kube-prometheus-stack']"],
    ),
    (
        "ingress-missing",
        "production",
        lambda d: d.remove(_ingress(d)),
        [
            "Service flightdelay-production/flightdelay",
            "admits the ingress controller (ingress-nginx) to its pods on port http, but no Ingress "
            "of class nginx routes to it",
        ],
    ),
    (
        "ingress-without-class",
        "staging",
        lambda d: _ingress(d)["spec"].pop("ingressClassName"),
        ["spec.ingressClassName: None is not one of the cluster's ingress classes ['nginx']"],
    ),
    (
        "ingress-catch-all",
        "staging",
        lambda d: _ingress(d)["spec"]["rules"][0].pop("host"),
        ["Ingress flightdelay-staging/flightdelay: spec.rules[0].host: missing"],
    ),
    (
        "ingress-unknown-port",
        "staging",
        lambda d: _backend(d).update({"port": {"name": "metrics"}}),
        ["spec.rules[0].http.paths[0].backend.service.port: 'metrics' is not a port of Service flightdelay"],
    ),
    (
        "ingress-unknown-service",
        "staging",
        lambda d: _backend(d).update({"name": "flight-delay"}),
        ["backend.service.name: 'flight-delay' is not a Service of this overlay"],
    ),
    (
        "networkpolicy-shuts-out-the-controller",
        "production",
        lambda d: find(d, "NetworkPolicy")["spec"]["ingress"][0]["from"].pop(0),
        ["no NetworkPolicy admits namespace ingress-nginx to the pods of Service flightdelay on port http"],
    ),
]


@pytest.mark.parametrize(("target", "mutate", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_broken_copy_fails_the_first_sync_checks(
    broken: Callable[[str, Mutate], Path], target: str, mutate: Mutate, expected: list[str]
) -> None:
    run = run_policy(broken(target, mutate))
    assert run.returncode == 1, run.output
    for fragment in expected:
        assert fragment in run.output, f"{fragment!r} missing from:\n{run.output}"


def test_an_open_cluster_without_network_policies_needs_no_ingress(
    broken: Callable[[str, Mutate], Path],
) -> None:
    """Only a rule that names the controller's namespace asks for an Ingress; no policy at all does not."""

    def drop(docs: list[Obj]) -> None:
        docs.remove(_ingress(docs))
        docs.remove(find(docs, "NetworkPolicy"))

    assert "no Ingress" not in run_policy(broken("staging", drop)).output


def test_the_project_must_allow_the_ingress(rendered: dict[str, list[Obj]]) -> None:
    project = find(rendered["argocd"], "AppProject")
    project = {**project, "spec": {**project["spec"]}}
    project["spec"]["namespaceResourceWhitelist"] = [
        g for g in project["spec"]["namespaceResourceWhitelist"] if g["kind"] != "Ingress"
    ]
    messages = [str(f) for f in check_project_kinds(project, rendered["staging"])]
    assert any("Ingress (networking.k8s.io) is rendered by an overlay but not allowed" in m for m in messages)
