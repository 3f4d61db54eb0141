"""Pinned requirements, the pip-audit verdict and the CycloneDX SBOM of the serving environment."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import REPO_ROOT
from tests.policy.tools import load_script, repo_ids, run_tool, tool

supply_chain = load_script("supply_chain")


REQUIREMENT_FILES = sorted(REPO_ROOT.glob("requirements*.txt"))
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;#]+)")


def pins(path: Path) -> dict[str, str]:
    """{normalised name: version}; every requirement line must be an exact `==` pin."""
    found: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = PIN.match(line)
        assert match, f"{path.name}:{number}: `{line}` is not an exact pin (run `make lock`)"
        found[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(3)
    return found


@pytest.mark.parametrize("path", REQUIREMENT_FILES, ids=repo_ids(REQUIREMENT_FILES))
def test_requirements_are_exact_pins(path: Path) -> None:
    assert pins(path)


def test_serving_pins_equal_the_full_environment() -> None:
    full, serve = pins(REPO_ROOT / "requirements.txt"), pins(REPO_ROOT / "requirements-serve.txt")
    drift = {name: (version, full.get(name)) for name, version in serve.items() if full.get(name) != version}
    assert not drift, f"requirements-serve.txt differs from requirements.txt (run `make lock`): {drift}"


def test_pins_reject_a_range(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text("fastapi==0.120.0\nnumpy>=2\n")
    with pytest.raises(AssertionError, match=r"requirements.txt:2: `numpy>=2` is not an exact pin"):
        pins(path)


# --- pip-audit verdicts -----------------------------------------------------------------------------


def _dep(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "version": "1.0", **extra}


@pytest.mark.parametrize(
    ("report", "stderr", "status", "fragment"),
    [
        pytest.param(
            {"dependencies": [_dep("a", vulns=[]), _dep("b", vulns=[])]},
            "",
            "OK",
            "0 known vulnerabilities in 2 audited pins",
            id="clean",
        ),
        pytest.param(
            {
                "dependencies": [
                    _dep("a", vulns=[]),
                    _dep("b", vulns=[{"id": "PYSEC-1", "fix_versions": ["1.1"], "aliases": ["CVE-1"]}]),
                ]
            },
            "",
            "VULNERABLE",
            "b==1.0: PYSEC-1 (CVE-1) -> fixed in 1.1",
            id="vulnerable",
        ),
        pytest.param(
            {"dependencies": [_dep("a", skip_reason="Dependency not found on PyPI")]},
            "",
            "SKIPPED-BY-NETWORK",
            "could not reach the advisory database; not audited",
            id="no-advisory-data",
        ),
        pytest.param(
            {"dependencies": [_dep("a", vulns=[]), _dep("b", skip_reason="not found")]},
            "",
            "PARTIAL",
            "NOT AUDITED (1 of 2, no advisory data): b",
            id="partial",
        ),
        pytest.param(
            None,
            "requests.exceptions.ConnectionError: Max retries exceeded",
            "SKIPPED-BY-NETWORK",
            "could not reach the advisory database; not audited",
            id="unreachable",
        ),
        pytest.param(None, "ValueError: bad requirement", "ERROR", "bad requirement", id="broken"),
    ],
)
def test_audit_verdict(report: dict[str, Any] | None, stderr: str, status: str, fragment: str) -> None:
    verdict = supply_chain.judge_audit(report, stderr, "requirements.txt")
    assert verdict.status == status
    assert fragment in "\n".join(verdict.lines)
    assert verdict.exit_code == {"VULNERABLE": 1, "ERROR": 2}.get(status, 0)


def test_audit_says_so_when_the_advisory_database_is_unreachable(tmp_path: Path) -> None:
    tool("pip-audit")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("idna==3.10\n")
    unreachable = "http://127.0.0.1:9"  # nothing listens on the discard port
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "scripts" / "supply_chain.py"),
            "audit",
            "-r",
            str(requirements),
            "--report",
            str(tmp_path / "audit.json"),
            "--cache-dir",
            str(tmp_path / "cache"),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**_env_without_proxies(), "HTTPS_PROXY": unreachable, "https_proxy": unreachable},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "audit: could not reach the advisory database; not audited" in proc.stdout
    assert proc.stdout.rstrip().endswith("audit: SKIPPED-BY-NETWORK")


def _env_without_proxies() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "all_proxy")}


# --- SBOM of the serving environment ------------------------------------------------------------------

VALIDATE_CYCLONEDX = """
import sys
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read())
print(error or "valid")
sys.exit(1 if error else 0)
"""


@pytest.fixture(scope="module")
def sbom(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tool("cyclonedx-py")
    output = tmp_path_factory.mktemp("sbom") / "sbom-serve.cdx.json"
    assert supply_chain.main(["sbom", "-o", str(output)]) == 0
    return output


def validate_cyclonedx(path: Path) -> subprocess.CompletedProcess[str]:
    return run_tool("python", ["-c", VALIDATE_CYCLONEDX, str(path)])


def test_sbom_is_valid_cyclonedx(sbom: Path) -> None:
    proc = validate_cyclonedx(sbom)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    bom = json.loads(sbom.read_text())
    assert (bom["bomFormat"], bom["specVersion"]) == ("CycloneDX", "1.6")
    assert bom["metadata"]["component"]["name"] == "flightdelay"


def test_sbom_lists_the_serving_set_and_nothing_else(sbom: Path) -> None:
    names = {c["name"].lower() for c in json.loads(sbom.read_text())["components"]}
    assert {"fastapi", "xgboost-cpu", "gunicorn", "uvicorn-worker"} <= names
    assert not names & {"mlflow", "dvc", "evidently", "pandas", "scikit-learn", "matplotlib", "xgboost"}
    assert len(names) == len(pins(REPO_ROOT / "requirements-serve.txt"))


def test_sbom_validator_rejects_a_broken_bom(sbom: Path, tmp_path: Path) -> None:
    bom = json.loads(sbom.read_text())
    bom["components"][0]["type"] = "lib"
    broken = tmp_path / "broken.cdx.json"
    broken.write_text(json.dumps(bom))
    assert validate_cyclonedx(broken).returncode == 1
