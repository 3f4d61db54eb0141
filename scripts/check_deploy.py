"""Static checks of the deployment: render every overlay, validate strictly, apply policy,
test alerts, scan with checkov. `python scripts/check_deploy.py all` is what `make check-deploy`
runs; the subcommands check single files (used by tests/deploy/ on deliberately broken copies).

Runs in the tools environment (.venv-tools: jsonschema, kubernetes-validate, checkov) and
re-executes itself there when started from another interpreter."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import yaml
from check_alerts import (
    DASHBOARDS,
    check_dashboard,
    check_promtool,
    check_rule_metrics,
    check_runbooks,
)
from check_argocd import check_argocd, check_project_kinds
from check_common import (
    ARGOCD,
    DEPLOY,
    OVERLAYS,
    REPO_ROOT,
    TRAINING,
    TRAINING_TARGETS,
    CheckError,
    Finding,
    Obj,
    dump_docs,
    load_docs,
    of_kind,
    rel,
    render,
    run_tool,
    tool,
)
from check_policy import check_overlay, check_overlays
from check_schemas import check_schemas
from check_training import check_training

MANAGED_BLOCK = re.compile(
    r"\nimages:\n  # managed by `flightdelay release` — do not edit by hand\n"
    r"  - name: flightdelay\n    newName: (?P<name>\S+)\n"
    r"    newTag: (?P<tag>\S+)(?:\n    digest: (?P<digest>\S+))?\n?\Z"
)
# What the committed overlays may pin: an image `flightdelay release` pushed, or, until the first
# release, this placeholder. It names no image: a sync before the first release leaves the pods in
# ImagePullBackOff, which docs/fork-setup.md (step 8) says to wait out.
PLACEHOLDER_TAG = "model-v0-bootstrap"
RELEASE_TAG = re.compile(r"model-v[1-9]\d*-[0-9a-f]{7,40}")
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
PLACEHOLDER_NOTE = "placeholder: no release yet, the first release bumps it (docs/fork-setup.md)"


DOCKERFILES = ("Dockerfile", "Dockerfile.train")  # the serving image and the training image


def overlay_dir(overlay: str) -> Path:
    if overlay.startswith("training/"):
        path = TRAINING / overlay.removeprefix("training/")
        if not (path / "kustomization.yaml").is_file():
            raise CheckError(f"no training target {overlay!r}: expected {path / 'kustomization.yaml'}")
        return path
    path = DEPLOY / "overlays" / overlay
    if not (path / "kustomization.yaml").is_file():
        raise CheckError(f"no overlay {overlay!r}: expected {path / 'kustomization.yaml'}")
    return path


def declared_images(overlay: Path) -> list[str]:
    """Image references the overlay's kustomization.yaml declares (what the release step wrote)."""
    kust = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    refs = []
    for img in kust.get("images") or []:
        name = img.get("newName", img["name"])
        tag = f":{img['newTag']}" if "newTag" in img else "" if "digest" in img else ":latest"
        refs.append(f"{name}{tag}@{img['digest']}" if "digest" in img else f"{name}{tag}")
    return refs


def rendered_images(overlay: Path) -> list[str]:
    """Image references of the containers of every Deployment that the overlay renders."""
    return [
        c["image"]
        for d in of_kind(render(overlay), "Deployment")
        for key in ("initContainers", "containers")
        for c in d["spec"]["template"]["spec"].get(key) or []
    ]


def pins_placeholder(overlay: Path) -> bool:
    """True while the overlay still pins the bootstrap placeholder (nothing released to it yet)."""
    block = MANAGED_BLOCK.search((overlay / "kustomization.yaml").read_text())
    return bool(block and block["tag"] == PLACEHOLDER_TAG and not block["digest"])


def _tag_findings(where: str, tag: str, digest: str | None) -> list[Finding]:
    """The pinned tag is one `flightdelay release` wrote, or the bootstrap placeholder."""

    def bad(field: str, message: str) -> list[Finding]:
        return [Finding("images", where, f"images[flightdelay].{field}", message)]

    if digest and not DIGEST.fullmatch(digest):
        return bad("digest", f"{digest!r} is not sha256:<64 hex digits>")
    if tag == PLACEHOLDER_TAG:
        if digest:
            return bad("digest", f"the placeholder {PLACEHOLDER_TAG!r} names no image: remove the digest")
        return []
    if RELEASE_TAG.fullmatch(tag):
        return []
    return bad(
        "newTag",
        f"{tag!r} is neither a release tag (model-vN-<sha>, written by `flightdelay release bump`) "
        f"nor the bootstrap placeholder {PLACEHOLDER_TAG!r} — a sync would pull an image no "
        "release pushed; restore the tag the release step wrote (git log -p on this file)",
    )


def check_images(overlay: Path) -> list[Finding]:
    where = rel(overlay / "kustomization.yaml")
    out = []
    block = MANAGED_BLOCK.search((overlay / "kustomization.yaml").read_text())
    if not block:
        out.append(
            Finding(
                "images",
                where,
                "images",
                "must end with the block that `flightdelay "
                "release` rewrites (comment line, name: flightdelay, newName, newTag, optional "
                "digest); see deploy/README.md",
            )
        )
    else:
        out += _tag_findings(where, block["tag"], block["digest"])
    declared, rendered = declared_images(overlay), rendered_images(overlay)
    for ref in rendered:
        if ref not in declared:
            out.append(
                Finding(
                    "images",
                    where,
                    "images",
                    f"rendered Deployment runs {ref!r}, "
                    f"not an image the overlay declares {declared} — is the image "
                    "named `flightdelay` in the base?",
                )
            )
    if not rendered:
        out.append(Finding("images", where, "", "the overlay renders no Deployment container"))
    return out


def run_checkov(paths: Sequence[Path]) -> dict[str, list[str]]:
    """checkov (offline) on files/directories: {file: ['CHECK_ID resource: name', …]}."""
    cmd = [
        tool("checkov"),
        "--skip-download",
        "--quiet",
        "--compact",
        "-o",
        "json",
        "--framework",
        "kubernetes",
        "dockerfile",
    ]
    for p in paths:
        cmd += ["-d", str(p)] if p.is_dir() else ["-f", str(p)]
    proc = run_tool(cmd, cwd=REPO_ROOT)
    try:
        reports = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise CheckError(f"checkov did not report JSON ({proc.returncode}):\n{proc.stderr[-2000:]}") from exc
    failed: dict[str, list[str]] = {}
    for report in reports if isinstance(reports, list) else [reports]:
        for f in (report.get("results") or {}).get("failed_checks") or []:
            failed.setdefault(Path(f["file_path"]).name, []).append(
                f"{f['check_id']} {f['resource']}: {f['check_name']}"
            )
    return failed


def checkov_findings(failed: dict[str, list[str]]) -> list[Finding]:
    def how_to_skip(file: str) -> str:
        if "Dockerfile" in file:
            return "a `# checkov:skip=CHECK_ID:reason` comment"
        return "a `checkov.io/skipN: CHECK_ID=reason` annotation on the object"

    return [
        Finding("checkov", file, "", f"{item} — fix it, or skip it with a justified {how_to_skip(file)}")
        for file, items in sorted(failed.items())
        for item in items
    ]


def check_all(with_checkov: bool = True) -> list[Finding]:
    findings: list[Finding] = []
    argocd = render(ARGOCD)
    findings += check_schemas(argocd) + check_argocd(argocd)
    all_rendered: list[Obj] = []
    with tempfile.TemporaryDirectory(prefix="flightdelay-rendered-") as tmp:
        for name in OVERLAYS:
            path = overlay_dir(name)
            docs = render(path)
            all_rendered += docs
            (Path(tmp) / f"{name}.yaml").write_text(dump_docs(docs))
            findings += check_images(path) + check_schemas(docs) + check_overlay(docs)
            findings += check_rule_metrics(docs) + check_runbooks(docs) + check_promtool(docs)
        for target in TRAINING_TARGETS:
            docs = render(TRAINING / target)
            (Path(tmp) / f"training-{target}.yaml").write_text(dump_docs(docs))
            findings += check_schemas(docs) + check_overlay(docs) + check_training(docs)
        for project in of_kind(argocd, "AppProject"):
            findings += check_project_kinds(project, all_rendered)
        for board in sorted(DASHBOARDS.glob("*.json")):
            findings += check_dashboard(board)
        if with_checkov:
            (Path(tmp) / "argocd.yaml").write_text(dump_docs(argocd))
            targets = [Path(tmp)] + [REPO_ROOT / f for f in DOCKERFILES if (REPO_ROOT / f).is_file()]
            findings += checkov_findings(run_checkov(targets))
    return findings


def _report(findings: list[Finding], what: str) -> int:
    for f in findings:
        print(f"FAIL {f}", file=sys.stderr)
    print(f"{what}: {'FAILED, ' + str(len(findings)) + ' problem(s)' if findings else 'ok'}")
    return 1 if findings else 0


def _ensure_tools_python() -> None:
    if not all(importlib.util.find_spec(m) for m in ("jsonschema", "kubernetes_validate")):
        tools_python = Path(os.environ.get("FLIGHTDELAY_TOOLS_BIN", REPO_ROOT / ".venv-tools/bin")) / "python"
        if not tools_python.is_file():
            raise CheckError("the tools environment is missing: run `make tools`") from None
        os.execv(str(tools_python), [str(tools_python), __file__, *sys.argv[1:]])  # noqa: S606


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    p_all = sub.add_parser("all", help="every check on the committed manifests")
    p_all.add_argument("--no-checkov", action="store_true", help="skip the (slow) checkov scan")
    p_img = sub.add_parser("images", help="print the image references an overlay renders; check them")
    p_img.add_argument("overlays", nargs="*", default=list(OVERLAYS))
    p_img.add_argument("--json", action="store_true", help='print {"overlay": [refs]} only')
    p_ren = sub.add_parser("render", help="print the rendered YAML of an overlay or argocd")
    p_ren.add_argument(
        "target",
        help=f"one of {', '.join(OVERLAYS)}, argocd, {', '.join('training/' + t for t in TRAINING_TARGETS)}",
    )
    for name, text in (
        ("schema", "strict schema validation"),
        ("policy", "policy checks"),
        ("alerts", "PrometheusRule checks: metric names, runbooks, promtool"),
        ("dashboard", "Grafana dashboard JSON checks"),
        ("checkov", "checkov scan"),
    ):
        sub.add_parser(name, help=f"{text} of the given files").add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    try:
        _ensure_tools_python()
        return _dispatch(args)
    except CheckError as exc:
        print(f"ERROR {exc}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "all":
        return _report(check_all(with_checkov=not args.no_checkov), "deploy checks")
    if args.command == "render":
        print(
            dump_docs(render(ARGOCD if args.target == "argocd" else overlay_dir(args.target))),
            end="",
        )
        return 0
    if args.command == "images":
        findings, refs = [], {}
        for name in args.overlays:
            path = overlay_dir(name)
            refs[name] = rendered_images(path)
            findings += check_images(path)
        if args.json:  # for other tools (e.g. release verify): the references, exit 1 on mismatch
            print(json.dumps(refs))
            return 1 if findings else 0
        for name, images in refs.items():
            note = f"  ({PLACEHOLDER_NOTE})" if pins_placeholder(overlay_dir(name)) else ""
            print(f"{name}: {' '.join(images)}{note}")
        return _report(findings, "images")
    if args.command in ("dashboard", "checkov"):
        findings = (
            checkov_findings(run_checkov(args.files))
            if args.command == "checkov"
            else [f for p in args.files for f in check_dashboard(p.resolve())]
        )
        return _report(findings, args.command)
    docs = load_docs(args.files)
    if args.command == "schema":
        return _report(check_schemas(docs), "schema")
    if args.command == "policy":
        findings = check_argocd(docs) + check_overlays(docs) + check_training(docs)
        return _report(findings, "policy")
    return _report(check_rule_metrics(docs) + check_runbooks(docs) + check_promtool(docs), "alerts")


if __name__ == "__main__":
    sys.exit(main())
