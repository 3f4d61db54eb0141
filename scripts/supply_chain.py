"""Supply-chain commands behind `make audit` and `make sbom`: a pip-audit verdict that is never
silent, and a CycloneDX SBOM of the serving image's Python environment.

    python scripts/supply_chain.py audit [-r requirements.txt] [--report build/pip-audit.json]
    python scripts/supply_chain.py sbom [-r requirements-serve.txt] [-o build/sbom-serve.cdx.json]

`audit` exits 1 when a pinned package has a known vulnerability (and lists them), 0 otherwise; when
the advisory database cannot be reached it says so and prints the verdict SKIPPED-BY-NETWORK.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
AUDIT_TIMEOUT_S = 300
# What requests/urllib3 print when the advisory service is unreachable (DNS, proxy, refused, timeout).
NETWORK_ERRORS = (
    "ConnectionError",
    "ProxyError",
    "Max retries exceeded",
    "NameResolutionError",
    "Temporary failure in name resolution",
    "ConnectTimeout",
    "ReadTimeout",
    "timed out",
)
NOT_AUDITED = "could not reach the advisory database; not audited"


def tool(name: str) -> Path:
    """A linter from the tools environment (`make tools`), located by FLIGHTDELAY_TOOLS_BIN."""
    folder = Path(os.environ.get("FLIGHTDELAY_TOOLS_BIN") or ROOT / ".venv-tools" / "bin")
    path = folder / name
    if not path.exists():
        raise SystemExit(f"{name} is not installed in {folder}: run `make tools`")
    return path


@dataclass(frozen=True)
class AuditVerdict:
    """The outcome of one audit: a status word, the lines to print, the exit code."""

    status: str
    lines: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return {"VULNERABLE": 1, "ERROR": 2}.get(self.status, 0)


def judge_audit(report: dict[str, Any] | None, stderr: str, source: str) -> AuditVerdict:
    """Turn pip-audit's JSON report (None when it wrote none) and stderr into a verdict.

    pip-audit exits 0 and says "No known vulnerabilities found" even when it could audit nothing
    (every package skipped because the index gave no advisory data), so the skips are counted here.
    """
    if report is None:
        if any(marker in stderr for marker in NETWORK_ERRORS):
            reason = next(line for line in reversed(stderr.splitlines()) if line.strip())
            return AuditVerdict("SKIPPED-BY-NETWORK", [f"{NOT_AUDITED} ({reason[:200]})"])
        tail = "\n".join(stderr.strip().splitlines()[-15:])
        return AuditVerdict("ERROR", [f"pip-audit failed without a report:\n{tail}"])

    deps: list[dict[str, Any]] = report.get("dependencies", [])
    vulnerable = [d for d in deps if d.get("vulns")]
    skipped = [d for d in deps if "skip_reason" in d]
    audited = len(deps) - len(skipped)
    if vulnerable:
        lines = [f"{len(vulnerable)} of {len(deps)} pinned packages in {source} have known vulnerabilities:"]
        for dep in vulnerable:
            for vuln in dep["vulns"]:
                fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed release yet"
                aliases = ", ".join(vuln.get("aliases") or [])
                lines.append(
                    f"  {dep['name']}=={dep['version']}: {vuln['id']}"
                    + (f" ({aliases})" if aliases else "")
                    + f" -> fixed in {fixes}"
                )
        lines.append("Raise the pin in pyproject.toml if needed and run `make lock`.")
        return AuditVerdict("VULNERABLE", lines)
    if deps and audited == 0:
        first = skipped[0]["skip_reason"]
        return AuditVerdict(
            "SKIPPED-BY-NETWORK",
            [f"{NOT_AUDITED}: the index returned no advisory data for any of {len(deps)} pins ({first})"],
        )
    lines = [f"0 known vulnerabilities in {audited} audited pins of {source}"]
    if skipped:
        names = ", ".join(f"{d['name']}" for d in skipped)
        lines.append(f"NOT AUDITED ({len(skipped)} of {len(deps)}, no advisory data): {names}")
        return AuditVerdict("PARTIAL", lines)
    return AuditVerdict("OK", lines)


def run_audit(requirements: Path, report_path: Path, cache_dir: Path | None = None) -> AuditVerdict:
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.unlink(missing_ok=True)
    cmd = [
        str(tool("pip-audit")),
        "--requirement",
        str(requirements),
        "--no-deps",  # the file is a complete, pinned environment
        "--disable-pip",
        "--vulnerability-service",
        "pypi",
        "--progress-spinner",
        "off",
        "--timeout",
        "15",
        "--format",
        "json",
        "--output",
        str(report_path),
        *(["--cache-dir", str(cache_dir)] if cache_dir else []),
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=AUDIT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return AuditVerdict("SKIPPED-BY-NETWORK", [f"{NOT_AUDITED} (no answer within {AUDIT_TIMEOUT_S} s)"])
    report = json.loads(report_path.read_text()) if report_path.exists() else None
    return judge_audit(report, proc.stderr, requirements.name)


def build_sbom(requirements: Path, output: Path) -> int:
    """Write a CycloneDX 1.6 JSON SBOM for `requirements`; returns the component count."""
    output.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        str(tool("cyclonedx-py")),
        "requirements",
        str(requirements),
        "--pyproject",
        str(ROOT / "pyproject.toml"),
        "--schema-version",
        "1.6",
        "--output-format",
        "JSON",
        "--output-reproducible",
        "--validate",
        "--outfile",
        str(output),
    ]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}  # root-component dependency-graph notice
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"cyclonedx-py failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return len(json.loads(output.read_text())["components"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    audit = sub.add_parser("audit", help="pip-audit the pinned requirements")
    audit.add_argument("-r", "--requirements", type=Path, default=ROOT / "requirements.txt")
    audit.add_argument("--report", type=Path, default=ROOT / "build" / "pip-audit.json")
    audit.add_argument("--cache-dir", type=Path, help="pip-audit's HTTP cache (default: its own)")
    sbom = sub.add_parser("sbom", help="CycloneDX SBOM of the serving environment")
    sbom.add_argument("-r", "--requirements", type=Path, default=ROOT / "requirements-serve.txt")
    sbom.add_argument("-o", "--output", type=Path, default=ROOT / "build" / "sbom-serve.cdx.json")
    args = parser.parse_args(argv)

    if args.command == "audit":
        verdict = run_audit(args.requirements, args.report, args.cache_dir)
        for line in verdict.lines:
            print(f"audit: {line}")
        print(f"audit: {verdict.status}")
        return verdict.exit_code
    count = build_sbom(args.requirements, args.output)
    shown = args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output
    print(f"sbom: {count} components from {args.requirements.name} -> {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
