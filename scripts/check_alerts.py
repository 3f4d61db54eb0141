"""Alert and dashboard checks: PrometheusRule specs extracted to plain rule files, `promtool
check rules` and `promtool test rules` (every alert tested firing and silent), and every metric
name in an expression known to monitoring/metrics.yaml."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml
from check_common import MONITORING, REPO_ROOT, Finding, Obj, describe, of_kind, rel, run_tool, tool

CATALOG = MONITORING / "metrics.yaml"
PROMTOOL_TESTS = MONITORING / "promtool"
DASHBOARDS = MONITORING / "dashboards"
_KEYWORDS = {
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "inf",
    "nan",
    "start",
    "end",
}
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")


def known_metrics() -> set[str]:
    catalog: dict[str, dict[str, dict[str, Any]]] = yaml.safe_load(CATALOG.read_text())
    names: set[str] = set()
    for section in catalog.values():
        for name, spec in section.items():
            names.add(name)
            if spec["type"] == "histogram":
                names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return names


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL (or Grafana-templated PromQL) expression selects."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = _GROUPING.sub(" ", s)
    s = re.sub(r"label_values\(([^,()]*),\s*\w+\s*\)", r"(\1)", s)  # Grafana: drop the label arg
    names = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", s):
        before = s[m.start() - 1] if m.start() else " "
        if before.isdigit() or before in ".$" or m.group(0) in _KEYWORDS:
            continue  # a duration/number suffix, a Grafana variable, or a keyword
        if s[m.end() :].lstrip().startswith("("):
            continue  # a function
        names.add(m.group(0))
    return names


def _unknown(names: Iterable[str], known: set[str]) -> list[str]:
    return sorted(n for n in names if n not in known)


def rule_files(docs: Iterable[Obj]) -> dict[str, dict[str, Any]]:
    """{'<PrometheusRule name>.rules.yaml': plain Prometheus rules file}."""
    return {
        f"{r['metadata']['name']}.rules.yaml": {"groups": r["spec"]["groups"]}
        for r in of_kind(docs, "PrometheusRule")
    }


def check_rule_metrics(docs: Iterable[Obj]) -> list[Finding]:
    rules = of_kind(docs, "PrometheusRule")
    known = known_metrics() | {
        r["record"] for p in rules for g in p["spec"]["groups"] for r in g["rules"] if "record" in r
    }
    out = []
    for p in rules:
        for gi, group in enumerate(p["spec"]["groups"]):
            for ri, rule in enumerate(group["rules"]):
                if bad := _unknown(metric_names(rule["expr"]), known):
                    name = rule.get("alert") or rule.get("record")
                    out.append(
                        Finding(
                            "alerts",
                            describe(p),
                            f"spec.groups[{gi}].rules[{ri}] ({name}).expr",
                            f"unknown metric {bad} — use a name from "
                            f"{CATALOG.relative_to(REPO_ROOT)} (the service's real metrics), "
                            "or add a new metric there first",
                        )
                    )
    return out


def check_runbooks(docs: Iterable[Obj]) -> list[Finding]:
    """Every alert links a runbook section that exists in deploy/README.md."""
    readme = (REPO_ROOT / "deploy" / "README.md").read_text()
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", h.strip().lower()).replace(" ", "-")
        for h in re.findall(r"^#+ (.+)$", readme, flags=re.M)
    }
    out = []
    for p in of_kind(docs, "PrometheusRule"):
        for group in p["spec"]["groups"]:
            for rule in group["rules"]:
                if "alert" not in rule:
                    continue
                link = (rule.get("annotations") or {}).get("runbook", "")
                if not link.startswith("deploy/README.md#") or link.split("#", 1)[1] not in anchors:
                    out.append(
                        Finding(
                            "alerts",
                            describe(p),
                            f"{rule['alert']}.annotations.runbook",
                            f"{link!r} is not a heading of deploy/README.md — add a "
                            "runbook section and link it as deploy/README.md#<anchor>",
                        )
                    )
    return out


def _test_coverage(test_files: list[Path], alerts: set[str]) -> list[Finding]:
    firing: set[str] = set()
    silent: set[str] = set()
    for test_file in test_files:
        for case in yaml.safe_load(test_file.read_text()).get("tests") or []:
            for t in case.get("alert_rule_test") or []:
                (firing if t.get("exp_alerts") else silent).add(t["alertname"])
    where = ", ".join(str(f.relative_to(REPO_ROOT)) for f in test_files)
    return [
        Finding("alerts", where, a, "no test case where it fires (exp_alerts non-empty)")
        for a in sorted(alerts - firing)
    ] + [
        Finding("alerts", where, a, "no test case where it stays silent (exp_alerts: [])")
        for a in sorted(alerts - silent)
    ]


def check_promtool(docs: Iterable[Obj], tests_dir: Path = PROMTOOL_TESTS) -> list[Finding]:
    """promtool check + test rules on each PrometheusRule, with its committed unit tests
    (`<PrometheusRule name>.test.yaml` and `<PrometheusRule name>.*.test.yaml`)."""
    promtool = tool("promtool")
    out: list[Finding] = []
    with tempfile.TemporaryDirectory(prefix="flightdelay-rules-") as tmp:
        for name, rules in rule_files(docs).items():
            path = Path(tmp) / name
            path.write_text(yaml.safe_dump(rules, sort_keys=False))
            proc = run_tool([promtool, "check", "rules", str(path)])
            if proc.returncode != 0:
                out.append(
                    Finding(
                        "alerts",
                        name,
                        "",
                        f"promtool check rules failed:\n{proc.stdout}{proc.stderr}",
                    )
                )
                continue
            stem = name.removesuffix(".rules.yaml")
            test_files = sorted(
                [*tests_dir.glob(f"{stem}.test.yaml"), *tests_dir.glob(f"{stem}.*.test.yaml")]
            )
            if not test_files:
                out.append(
                    Finding(
                        "alerts",
                        name,
                        "",
                        f"no unit tests: add {(tests_dir / (stem + '.test.yaml')).relative_to(REPO_ROOT)}",
                    )
                )
                continue
            alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
            out.extend(_test_coverage(test_files, alerts))
            for test_file in test_files:
                shutil.copy(test_file, Path(tmp) / test_file.name)
            proc = run_tool([promtool, "test", "rules", *(f.name for f in test_files)], cwd=Path(tmp))
            if proc.returncode != 0:
                out.append(
                    Finding(
                        "alerts",
                        ", ".join(str(f.relative_to(REPO_ROOT)) for f in test_files),
                        "",
                        f"promtool test rules failed against {name}:\n{(proc.stdout + proc.stderr).strip()}",
                    )
                )
    return out


def check_dashboard(path: Path) -> list[Finding]:
    """Valid JSON, unique panel ids, templated datasource, known metric names."""
    where = rel(path)
    try:
        board = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        return [Finding("dashboard", where, "", f"not valid JSON: {exc}")]
    known = known_metrics()
    out: list[Finding] = []
    panels = list(board.get("panels") or [])
    for p in list(panels):
        panels.extend(p.get("panels") or [])  # panels inside collapsed rows
    ids = [p.get("id") for p in panels]
    if dupes := sorted({i for i in ids if ids.count(i) > 1}, key=str):
        out.append(Finding("dashboard", where, "panels[].id", f"duplicate ids {dupes}"))
    exprs = [
        (
            f"panel {p.get('title')!r}",
            t.get("expr", ""),
            (t.get("datasource") or p.get("datasource") or {}),
        )
        for p in panels
        for t in p.get("targets") or []
    ]
    exprs += [
        (
            f"variable {v.get('name')!r}",
            str(
                v.get("query", "")
                if isinstance(v.get("query"), str)
                else (v.get("query") or {}).get("query", "")
            ),
            None,
        )
        for v in (board.get("templating") or {}).get("list") or []
        if v.get("type") == "query"
    ]
    for label, expr, ds in exprs:
        if bad := _unknown(metric_names(expr), known):
            out.append(
                Finding(
                    "dashboard",
                    where,
                    label,
                    f"unknown metric {bad} — use a name from {CATALOG.relative_to(REPO_ROOT)}",
                )
            )
        if ds is not None and ds.get("uid") != "${datasource}":
            out.append(Finding("dashboard", where, label, "datasource must be the ${datasource} variable"))
    return out


# --- selectors against a running Prometheus --------------------------------------------------------

_TOKEN = re.compile(
    r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|\{[^}]*\}|\[[^\]]*\]'
    r"|\d+(?:\.\d+)?(?:e[+-]?\d+)?[smhdwy]*|[a-zA-Z_:][a-zA-Z0-9_:]*|\S",
    re.IGNORECASE,
)


def selectors(expr: str) -> list[str]:
    """The vector selectors of a PromQL expression (`name{matchers}`, without range or offset),
    in order; Grafana variables must be substituted first."""
    tokens = [t for t in _TOKEN.findall(_GROUPING.sub(" ", expr)) if t.strip()]
    out: list[str] = []
    for i, tok in enumerate(tokens):
        if not re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", tok) or tok.lower() in _KEYWORDS:
            continue
        after = tokens[i + 1] if i + 1 < len(tokens) else ""
        if after == "(":
            continue  # a function
        out.append(tok + (after if after.startswith("{") else ""))
    return out


def unmatched_selectors(
    exprs: Iterable[tuple[str, str]], query: Callable[[str], list[Any]], external: set[str]
) -> list[str]:
    """`where: selector` for every selector of the (where, expr) pairs that matches no series
    `query` (a Prometheus instant query) returns; metric names in `external` (series another
    system produces, e.g. kube-state-metrics) are not asked for."""
    out = []
    for where, expr in exprs:
        for sel in selectors(expr):
            if re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", sel).group(0) in external:  # type: ignore[union-attr]
                continue
            if not query(sel):
                out.append(f"{where}: {sel} matches no series")
    return out
