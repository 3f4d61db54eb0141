"""Supply chain: workflow linters, Dependabot, secrets, pinned requirements, the SBOM, the Dockerfile.

Each check runs on the repository and, where the tool decides, on a deliberately broken input in a
temp dir, so a check that silently stopped working would fail too.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import REPO_ROOT
from tests.policy.tools import load_script, repo_files, run_tool, tool
from tests.policy.workflow_policy import workflow_files

WORKFLOWS = workflow_files(REPO_ROOT)
DEPENDABOT = REPO_ROOT / ".github" / "dependabot.yml"
BASELINE = REPO_ROOT / ".secrets.baseline"
DOCKERFILE = REPO_ROOT / "Dockerfile"
CHECKOUT = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2"
INJECTABLE = f"""\
name: greet
on: pull_request
permissions: {{}}
jobs:
  greet:
    runs-on: ubuntu-24.04
    timeout-minutes: 5
    steps:
      - uses: {CHECKOUT}
        with:
          persist-credentials: false
      - run: echo "${{{{ github.event.pull_request.title }}}}"
"""

supply_chain = load_script("supply_chain")


def _ids(paths: list[Path]) -> list[str]:
    return [p.relative_to(REPO_ROOT).as_posix() for p in paths]


# --- GitHub workflows and Dependabot: zizmor and the vendored JSON schemas -------------------------

ZIZMOR_INPUTS = [*WORKFLOWS, DEPENDABOT]


@pytest.mark.parametrize("path", ZIZMOR_INPUTS, ids=_ids(ZIZMOR_INPUTS))
def test_zizmor_finds_nothing(path: Path) -> None:
    proc = run_tool("zizmor", ["--offline", "--no-progress", "--persona", "regular", str(path)])
    assert proc.returncode == 0, f"zizmor findings (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}"


def test_zizmor_flags_a_template_injection(tmp_path: Path) -> None:
    path = tmp_path / ".github" / "workflows" / "greet.yml"
    path.parent.mkdir(parents=True)
    path.write_text(INJECTABLE)
    proc = run_tool("zizmor", ["--offline", "--no-progress", str(path)])
    assert proc.returncode != 0
    assert "template-injection" in proc.stdout


def test_workflows_match_the_github_schema() -> None:
    assert WORKFLOWS, "no workflows to check"
    args = ["--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)]
    proc = run_tool("check-jsonschema", args)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_workflow_schema_rejects_a_misspelt_key(tmp_path: Path) -> None:
    path = tmp_path / "typo.yml"
    path.write_text(INJECTABLE.replace("runs-on:", "runs_on:"))
    proc = run_tool("check-jsonschema", ["--builtin-schema", "vendor.github-workflows", str(path)])
    assert proc.returncode == 1, proc.stdout + proc.stderr


def test_dependabot_matches_its_schema() -> None:
    proc = run_tool("check-jsonschema", ["--builtin-schema", "vendor.dependabot", str(DEPENDABOT)])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dependabot_covers_every_ecosystem_weekly_with_a_cooldown() -> None:
    updates = {u["package-ecosystem"]: u for u in yaml.safe_load(DEPENDABOT.read_text())["updates"]}
    assert set(updates) == {"pip", "github-actions", "docker"}
    for ecosystem, update in updates.items():
        assert update["directory"] == "/", ecosystem
        assert update["schedule"]["interval"] == "weekly", ecosystem
        # zizmor's dependabot-cooldown audit asks for at least 7 days.
        assert update["cooldown"]["default-days"] >= 7, ecosystem
    # One PR moves a package in all the generated requirements files together.
    assert updates["pip"]["groups"]["python"]["patterns"] == ["*"]


# --- Pinned requirements ----------------------------------------------------------------------------

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


@pytest.mark.parametrize("path", REQUIREMENT_FILES, ids=_ids(REQUIREMENT_FILES))
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


# --- Secrets ------------------------------------------------------------------------------------------


def new_secrets(root: Path, files: list[str], baseline: Path, scratch: Path) -> list[str]:
    """Secrets found in `files` that `baseline` does not list, as `file:line type`."""
    trial = scratch / "baseline.json"
    shutil.copyfile(baseline, trial)  # `scan --baseline` rewrites the file it is given
    proc = run_tool("detect-secrets", ["scan", "--baseline", str(trial), *files], cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    known = {
        (f, s["hashed_secret"], s["type"])
        for f, secrets in json.loads(baseline.read_text())["results"].items()
        for s in secrets
    }
    return [
        f"{f}:{s['line_number']} {s['type']}"
        for f, secrets in json.loads(trial.read_text())["results"].items()
        for s in secrets
        if (f, s["hashed_secret"], s["type"]) not in known
    ]


def test_no_secret_outside_the_baseline(tmp_path: Path) -> None:
    found = new_secrets(REPO_ROOT, repo_files(), BASELINE, tmp_path)
    assert not found, (
        "detect-secrets found secrets not in .secrets.baseline: "
        f"{found}. Remove them; for a false positive run `detect-secrets scan --baseline .secrets.baseline` "
        "and `detect-secrets audit .secrets.baseline`."
    )


def test_a_new_aws_key_is_caught(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    fake_key = "AKIA" + "ZQ3V7K2MXP9TW4LD"  # split so this file itself holds no key pattern
    (repo / "settings.py").write_text(f'aws_access_key_id = "{fake_key}"\n')
    (repo / "clean.py").write_text('region = "eu-west-1"\n')
    assert new_secrets(repo, ["settings.py", "clean.py"], BASELINE, tmp_path) == [
        "settings.py:1 AWS Access Key"
    ]


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


# --- Dockerfile: hadolint and checkov -------------------------------------------------------------------

BAD_DOCKERFILE = """\
FROM python:latest
USER root
COPY . /app
RUN pip install --no-cache-dir -r /app/requirements-serve.txt
CMD gunicorn api.main:app
"""
GOOD_DOCKERFILE = f"""\
FROM python:3.11-slim@sha256:{"0" * 64}
WORKDIR /app
COPY requirements-serve.txt .
RUN pip install --no-cache-dir --require-hashes -r requirements-serve.txt \\
    && useradd --create-home --uid 10001 app
USER 10001
HEALTHCHECK --interval=30s --timeout=3s CMD ["python", "-c", "print('ok')"]
CMD ["gunicorn", "api.main:app"]
"""
HADOLINT = ["--no-color", "--failure-threshold", "warning"]


def require_dockerfile() -> Path:
    assert DOCKERFILE.is_file(), "no Dockerfile at the repository root: the serving image is built from it"
    return DOCKERFILE


@pytest.fixture(scope="module")
def checkov_failures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """One checkov run (it is slow to start) over the repository's Dockerfile and the two samples."""
    root = tmp_path_factory.mktemp("dockerfiles")
    for name, text in (("bad", BAD_DOCKERFILE), ("good", GOOD_DOCKERFILE)):
        (root / name).mkdir()
        (root / name / "Dockerfile").write_text(text)
    if DOCKERFILE.is_file():
        (root / "repo").mkdir()
        shutil.copyfile(DOCKERFILE, root / "repo" / "Dockerfile")
    args = ["--skip-download", "--framework", "dockerfile", "--quiet", "--compact", "-o", "json"]
    proc = run_tool("checkov", [*args, "-d", str(root)])
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    reports = json.loads(proc.stdout)
    failures: dict[str, set[str]] = {"bad": set(), "good": set(), "repo": set()}
    for report in reports if isinstance(reports, list) else [reports]:
        for check in report.get("results", {}).get("failed_checks", []):
            failures[check["file_path"].strip("/").split("/")[0]].add(check["check_id"])
    return failures


def test_hadolint_passes_the_dockerfile() -> None:
    proc = run_tool("hadolint", [*HADOLINT, str(require_dockerfile())])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_checkov_passes_the_dockerfile(checkov_failures: dict[str, set[str]]) -> None:
    require_dockerfile()
    assert not checkov_failures["repo"], f"checkov failed checks on Dockerfile: {checkov_failures['repo']}"


def test_hadolint_catches_root_latest_and_shell_form(tmp_path: Path) -> None:
    bad, good = tmp_path / "bad.Dockerfile", tmp_path / "good.Dockerfile"
    bad.write_text(BAD_DOCKERFILE)
    good.write_text(GOOD_DOCKERFILE)
    proc = run_tool("hadolint", [*HADOLINT, str(bad)])
    assert proc.returncode == 1
    assert {"DL3007", "DL3002", "DL3025"} <= set(re.findall(r"DL\d{4}", proc.stdout))
    assert run_tool("hadolint", [*HADOLINT, str(good)]).returncode == 0


def test_checkov_catches_root_and_latest(checkov_failures: dict[str, set[str]]) -> None:
    # CKV_DOCKER_7: base image tag `latest`; CKV_DOCKER_8: last USER root; CKV_DOCKER_2: no HEALTHCHECK.
    assert {"CKV_DOCKER_7", "CKV_DOCKER_8", "CKV_DOCKER_2"} <= checkov_failures["bad"]
    assert checkov_failures["good"] == set()
