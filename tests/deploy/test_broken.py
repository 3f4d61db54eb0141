"""Acceptance: a deliberately broken copy of each object kind fails the checks with a message
that names the object, the field and what to do."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from check_argocd import check_project_kinds

from tests.deploy.conftest import Mutate, Obj, find, run_check, run_policy
from tests.helpers import REPO_ROOT


def _container(docs: list[Obj]) -> Obj:
    container: Obj = find(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    return container


def _rule(docs: list[Obj], alert: str) -> Obj:
    rules = find(docs, "PrometheusRule", "flightdelay-service")["spec"]["groups"][0]["rules"]
    return next(r for r in rules if r.get("alert") == alert)


def _set(obj: Obj, path: str, value: object) -> None:
    *parents, last = path.split(".")
    for key in parents:
        obj = obj[key]
    obj[last] = value


# (id, target, mutation, check subcommand, every expected fragment of the output)
CASES: list[tuple[str, str, Mutate, str, list[str]]] = [
    (
        "application-typo-selfheal",
        "argocd",
        lambda d: find(d, "Application", "flightdelay-production")["spec"]["syncPolicy"]["automated"].update(
            {"selfheal": True}
        ),
        "schema",
        [
            "Application argocd/flightdelay-production",
            "spec.syncPolicy.automated",
            "'selfheal' was unexpected",
            "crds.schema.yaml",
        ],
    ),
    (
        "application-no-self-heal",
        "argocd",
        lambda d: find(d, "Application", "flightdelay-staging")["spec"]["syncPolicy"]["automated"].pop(
            "selfHeal"
        ),
        "policy",
        [
            "Application argocd/flightdelay-staging",
            "spec.syncPolicy.automated.selfHeal: must be true",
        ],
    ),
    (
        "application-outside-project",
        "argocd",
        lambda d: _set(
            find(d, "Application", "flightdelay-staging")["spec"],
            "destination.namespace",
            "kube-system",
        ),
        "policy",
        ["spec.destination", "is not a destination of the project"],
    ),
    (
        "appproject-wildcard-repo",
        "argocd",
        lambda d: _set(find(d, "AppProject")["spec"], "sourceRepos", ["*"]),
        "policy",
        ["AppProject argocd/flightdelay", "spec.sourceRepos", "wildcard ['*']"],
    ),
    (
        "appproject-wildcard-kind",
        "argocd",
        lambda d: find(d, "AppProject")["spec"]["namespaceResourceWhitelist"].append(
            {"group": "*", "kind": "*"}
        ),
        "policy",
        ["spec.namespaceResourceWhitelist[10]", "wildcard"],
    ),
    (
        "appproject-typo",
        "argocd",
        lambda d: _set(
            find(d, "AppProject")["spec"],
            "destinations",
            [{"server": "https://kubernetes.default.svc", "namspace": "flightdelay-staging"}],
        ),
        "schema",
        ["spec.destinations[0]", "'namspace' was unexpected"],
    ),
    (
        "deployment-typo",
        "staging",
        lambda d: _container(d).update({"imagePullPolcy": "Always"}),
        "schema",
        [
            "Deployment flightdelay-staging/flightdelay",
            "spec.template.spec.containers[0]",
            "'imagePullPolcy' was unexpected",
            "Kubernetes 1.31",
        ],
    ),
    (
        "deployment-missing-readiness-probe",
        "staging",
        lambda d: _container(d).pop("readinessProbe"),
        "policy",
        ["containers[api].readinessProbe: missing"],
    ),
    (
        "deployment-readiness-equals-liveness",
        "staging",
        lambda d: _container(d).update({"readinessProbe": _container(d)["livenessProbe"]}),
        "policy",
        ["readinessProbe: same check as livenessProbe"],
    ),
    (
        "deployment-privileged",
        "production",
        lambda d: _container(d)["securityContext"].update({"privileged": True}),
        "policy",
        ["Deployment flightdelay-production/flightdelay", "securityContext.privileged: true"],
    ),
    (
        "deployment-replicas-in-git",
        "production",
        lambda d: find(d, "Deployment")["spec"].update({"replicas": 3}),
        "policy",
        ["spec.replicas: remove it"],
    ),
    (
        "deployment-grace-too-short",
        "production",
        lambda d: find(d, "Deployment")["spec"]["template"]["spec"].update(
            {"terminationGracePeriodSeconds": 25}
        ),
        "policy",
        [
            "terminationGracePeriodSeconds: 25 s is not longer than preStop sleep 5 s + gunicorn "
            "GRACEFUL_TIMEOUT 20 s"
        ],
    ),
    (
        "deployment-no-memory-limit",
        "staging",
        lambda d: _container(d)["resources"]["limits"].pop("memory"),
        "policy",
        ["resources.limits.memory: missing"],
    ),
    (
        "deployment-writable-root",
        "staging",
        lambda d: _container(d)["securityContext"].update({"readOnlyRootFilesystem": False}),
        "policy",
        ["securityContext.readOnlyRootFilesystem: must be true"],
    ),
    (
        "networkpolicy-missing",
        "production",
        lambda d: d.remove(find(d, "NetworkPolicy")),
        "policy",
        ["no NetworkPolicy selects these pods"],
    ),
    (
        "networkpolicy-typo",
        "production",
        lambda d: find(d, "NetworkPolicy")["spec"].update({"podSelecter": {}}),
        "schema",
        ["NetworkPolicy flightdelay-production/flightdelay", "'podSelecter' was unexpected"],
    ),
    (
        "pdb-blocks-drains",
        "production",
        lambda d: _set(
            find(d, "PodDisruptionBudget"),
            "spec",
            {"minAvailable": 3, "selector": find(d, "PodDisruptionBudget")["spec"]["selector"]},
        ),
        "policy",
        [
            "PodDisruptionBudget flightdelay-production/flightdelay",
            "allows 0 disruptions at the HPA minimum of 3 pods",
        ],
    ),
    (
        "hpa-single-replica",
        "staging",
        lambda d: find(d, "HorizontalPodAutoscaler")["spec"].update({"minReplicas": 1}),
        "policy",
        [
            "HorizontalPodAutoscaler flightdelay-staging/flightdelay",
            "spec.minReplicas: must be at least 2",
        ],
    ),
    (
        "service-typo",
        "staging",
        lambda d: find(d, "Service")["spec"].update({"selectr": {}}),
        "schema",
        ["Service flightdelay-staging/flightdelay", "'selectr' was unexpected"],
    ),
    (
        "servicemonitor-typo",
        "staging",
        lambda d: find(d, "ServiceMonitor")["spec"]["endpoints"][0].update({"intervall": "15s"}),
        "schema",
        [
            "ServiceMonitor flightdelay-staging/flightdelay",
            "spec.endpoints[0]",
            "'intervall' was unexpected",
        ],
    ),
    (
        "servicemonitor-wrong-port",
        "staging",
        lambda d: find(d, "ServiceMonitor")["spec"]["endpoints"][0].update({"port": "metrics"}),
        "policy",
        ["spec.endpoints[0].port: 'metrics' is not a port name of a selected Service"],
    ),
    (
        "prometheusrule-typo",
        "staging",
        lambda d: _rule(d, "FlightdelayHighErrorRatio").update({"fore": "5m"}),
        "schema",
        [
            "PrometheusRule flightdelay-staging/flightdelay-service",
            "spec.groups[0].rules[1]",
            "'fore' was unexpected",
        ],
    ),
    (
        "unknown-custom-resource",
        "staging",
        lambda d: d.append(
            {
                "apiVersion": "monitoring.coreos.com/v1",
                "kind": "PodMonitor",
                "metadata": {"name": "x"},
                "spec": {},
            }
        ),
        "schema",
        ["PodMonitor x", "no schema for PodMonitor.monitoring.coreos.com/v1"],
    ),
    (
        "hpa-api-removed-before-the-pinned-version",
        "staging",
        lambda d: find(d, "HorizontalPodAutoscaler").update({"apiVersion": "autoscaling/v2beta2"}),
        "schema",
        [
            "HorizontalPodAutoscaler flightdelay-staging/flightdelay",
            "autoscaling/v2beta2",
            "use an API version that Kubernetes 1.31.0 serves",
        ],
    ),
    (
        "configmap-typo",
        "staging",
        lambda d: find(d, "ConfigMap").update({"dat": {}}),
        "schema",
        ["ConfigMap flightdelay-staging/flightdelay-settings", "'dat' was unexpected"],
    ),
]


@pytest.mark.parametrize(
    ("target", "mutate", "check", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_broken_copy_fails_with_a_clear_message(
    broken: Callable[[str, Mutate], Path],
    target: str,
    mutate: Mutate,
    check: str,
    expected: list[str],
) -> None:
    path = broken(target, mutate)
    run = run_policy(path) if check == "policy" else run_check(check, path)
    assert run.returncode == 1, run.output
    for fragment in expected:
        assert fragment in run.output, f"{fragment!r} missing from:\n{run.output}"


def test_the_same_checks_pass_on_the_unbroken_copies(broken: Callable[[str, Mutate], Path]) -> None:
    """The broken-copy tests fail for the mutation, not for the copy."""
    paths = [broken(target, lambda d: None) for target in ("staging", "production", "argocd")]
    for check in ("schema", "policy"):
        run = run_check(check, *paths)
        assert run.returncode == 0, run.output
        assert f"{check}: ok" in run.output


def test_policy_command_reports_a_privileged_container(
    broken: Callable[[str, Mutate], Path],
) -> None:
    """The command line gives the same message as the in-process policy run."""
    path = broken("production", lambda d: _container(d)["securityContext"].update({"privileged": True}))
    run = run_check("policy", path)
    assert run.returncode == 1, run.output
    assert (
        "FAIL [policy] Deployment flightdelay-production/flightdelay: spec.template.spec."
        "containers[api].securityContext.privileged: true — never run the service privileged" in run.output
    ), run.output
    assert run_policy(path).output in run.output


def test_alert_with_a_wrong_metric_name_fails(broken: Callable[[str, Mutate], Path]) -> None:
    def typo(docs: list[Obj]) -> None:
        rule = _rule(docs, "FlightdelayHighErrorRatio")
        rule["expr"] = rule["expr"].replace(
            "flightdelay_http_requests_total", "flightdelay_http_request_total"
        )

    run = run_check("alerts", broken("production", typo))
    assert run.returncode == 1, run.output
    # the static check names the rule and the unknown metric …
    assert (
        "(FlightdelayHighErrorRatio).expr: unknown metric ['flightdelay_http_request_total']" in run.output
    ), run.output
    # … and the unit test shows the alert no longer fires
    assert "promtool test rules failed" in run.output
    assert "alertname: FlightdelayHighErrorRatio" in run.output


def test_alert_thresholds_are_pinned_by_the_unit_tests(
    broken: Callable[[str, Mutate], Path],
) -> None:
    def loosen(docs: list[Obj]) -> None:
        rule = _rule(docs, "FlightdelayHighLatencyP99")
        rule["expr"] = rule["expr"].replace("> 0.2", "> 0.5")

    run = run_check("alerts", broken("production", loosen))
    assert run.returncode == 1, run.output
    assert "alertname: FlightdelayHighLatencyP99" in run.output


def test_invalid_promql_fails_promtool_check(broken: Callable[[str, Mutate], Path]) -> None:
    run = run_check(
        "alerts",
        broken(
            "staging",
            lambda d: _rule(d, "FlightdelayNoTraffic").update(
                {"expr": "sum(rate(flightdelay_http_requests_total[5m]) > "}
            ),
        ),
    )
    assert run.returncode == 1, run.output
    assert "promtool check rules failed" in run.output


def test_alert_without_a_runbook_or_a_silent_case_fails(
    broken: Callable[[str, Mutate], Path], tmp_path: Path
) -> None:
    def add_alert(docs: list[Obj]) -> None:
        group = find(docs, "PrometheusRule", "flightdelay-service")["spec"]["groups"][0]
        group["rules"].append(
            {
                "alert": "FlightdelayUntested",
                "expr": "up == 0",
                "annotations": {"runbook": "deploy/README.md#nowhere"},
            }
        )

    run = run_check("alerts", broken("staging", add_alert))
    assert run.returncode == 1, run.output
    assert (
        "FlightdelayUntested.annotations.runbook: 'deploy/README.md#nowhere' is not a heading" in run.output
    )
    assert "FlightdelayUntested: no test case where it fires" in run.output
    assert "FlightdelayUntested: no test case where it stays silent" in run.output


def test_dashboard_with_a_wrong_metric_name_fails(tmp_path: Path) -> None:
    board = json.loads((REPO_ROOT / "monitoring" / "dashboards" / "flightdelay.json").read_text())
    board["panels"][1]["targets"][0]["expr"] = "sum(rate(flightdelay_requests_total[5m]))"
    board["panels"][2]["id"] = board["panels"][3]["id"]
    path = tmp_path / "board.json"
    path.write_text(json.dumps(board))
    run = run_check("dashboard", path)
    assert run.returncode == 1, run.output
    assert "panel 'Requests/s': unknown metric ['flightdelay_requests_total']" in run.output
    assert "panels[].id: duplicate ids" in run.output


def test_project_kinds_must_match_what_the_overlays_render(rendered: dict[str, list[Obj]]) -> None:
    project = find(rendered["argocd"], "AppProject")
    overlays = rendered["staging"] + rendered["production"]
    assert check_project_kinds(project, overlays) == []
    project = json.loads(json.dumps(project))
    whitelist = project["spec"]["namespaceResourceWhitelist"]
    whitelist.remove({"group": "monitoring.coreos.com", "kind": "PrometheusRule"})
    whitelist.append({"group": "", "kind": "Secret"})
    messages = [str(f) for f in check_project_kinds(project, overlays)]
    assert any(
        "PrometheusRule (monitoring.coreos.com) is rendered by an overlay but not allowed" in m
        for m in messages
    ), messages
    assert any("Secret (core) is allowed but no overlay renders it" in m for m in messages), messages
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}}
    messages = [str(f) for f in check_project_kinds(project, [*overlays, namespace])]
    assert any("Namespace kube-system: kind: overlays must not render Namespaces" in m for m in messages)


def test_missing_tools_fail_instead_of_skipping() -> None:
    run = run_check(
        "render", "staging", env={"PATH": "/nonexistent", "FLIGHTDELAY_TOOLS_BIN": "/nonexistent"}
    )
    assert run.returncode == 2, run.output
    assert "required tool `kubectl` not found" in run.output
