"""The action stand-ins: each pinned action's interface, the workflow check, and what each does locally."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from rehearsal.standins import STANDINS, check_workflow, find, local_repository_flags
from rehearsal.standins.actionyml import MISSING, parse_action_yml
from rehearsal.standins.catalog import PROJECT_ROOT
from tests.rehearsal.real_actions import REAL_ACTIONS
from tests.rehearsal.standin_run import Runner, http_server

CHECKOUT = "actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8"
SETUP_PYTHON = "actions/setup-python@e797f83bcb11b83ae66e0230d6156d7c80228e7c"
CACHE = "actions/cache@0057852bfaa89a56745cba8c7296529d2fc39830"
RESTORE = "actions/cache/restore@0057852bfaa89a56745cba8c7296529d2fc39830"
SAVE = "actions/cache/save@0057852bfaa89a56745cba8c7296529d2fc39830"
UPLOAD = "actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02"
DOWNLOAD = "actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093"
AWS = "aws-actions/configure-aws-credentials@b47578312673ae6fa5b5096b330d9fbac3d116df"
LOGIN = "docker/login-action@74a5d142397b4f367a81961eba4e8cd7edddf772"
BUILD_PUSH = "docker/build-push-action@263435318d21b8e681c14492fe198d362a7d2c83"
S3_SK = "SK"  # the local S3 server's test credential
GHCR_LOGIN_VALUE = "ghs_x"
ALL_USES = [standin.uses(sub) for standin in STANDINS for sub in ("", *standin.subactions)]


def declared(uses: str) -> tuple[dict[str, dict[str, object]], list[str]]:
    found = find(uses)
    assert found is not None
    data = yaml.safe_load((found[0].action_dir(found[1]) / "action.yml").read_text())
    inputs = {
        name: {key: spec[key] for key in ("required", "default") if key in spec}
        for name, spec in (data.get("inputs") or {}).items()
    }
    return inputs, list(data.get("outputs") or {})


# -- the interface ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("uses", ALL_USES)
def test_standin_declares_the_real_actions_inputs_and_outputs(uses: str) -> None:
    assert uses in REAL_ACTIONS, f"{uses} has a stand-in but no row in tests/rehearsal/real_actions.py"
    assert declared(uses) == (REAL_ACTIONS[uses][0], REAL_ACTIONS[uses][1])


@pytest.mark.parametrize("uses", ALL_USES)
def test_the_stdlib_reader_agrees_with_pyyaml(uses: str) -> None:
    found = find(uses)
    assert found is not None
    spec = parse_action_yml((found[0].action_dir(found[1]) / "action.yml").read_text())
    inputs = {
        name: {
            k: v
            for k, v in (("required", s.required), ("default", s.default))
            if v is not MISSING and not (k == "required" and v is None)
        }
        for name, s in spec.inputs.items()
    }
    assert (inputs, list(spec.outputs)) == declared(uses)


@pytest.mark.parametrize("uses", ALL_USES)
def test_each_folder_runs_an_existing_entry_point(uses: str) -> None:
    found = find(uses)
    assert found is not None
    folder = found[0].action_dir(found[1])
    runs = yaml.safe_load((folder / "action.yml").read_text())["runs"]
    assert runs["using"] == "node20"
    for stage in ("main", "post"):
        script = folder / f"{stage}.js"
        assert script.exists() == (stage == "main" or "post" in runs), script
        if script.exists():
            module, function = (
                script.read_text().split('"rehearsal.standins", "')[1].split('"')[0].rsplit(".", 1)
            )
            source = (PROJECT_ROOT / "rehearsal" / "standins" / f"{module}.py").read_text()
            assert f"\ndef {function}(step: Step) -> None:" in source


def test_local_repository_flags_name_every_pin_once_and_where_the_code_is() -> None:
    flags = local_repository_flags()
    pins = flags[: 2 * len(STANDINS)]
    assert pins[::2] == ["--local-repository"] * len(STANDINS)
    cache_sha = CACHE.split("@")[1]
    assert f"{CACHE}={PROJECT_ROOT / 'rehearsal/actions/actions/cache' / cache_sha}" in pins[1::2]
    assert len(set(pins[1::2])) == len(STANDINS)
    assert flags[2 * len(STANDINS) :] == ["--env", f"REHEARSAL_HOME={PROJECT_ROOT}"]


# -- the static workflow check ------------------------------------------------------------------------------
def test_check_workflow_names_unknown_missing_and_unpinned(tmp_path: Path) -> None:
    workflow = tmp_path / "tiny.yml"
    workflow.write_text(
        yaml.safe_dump(
            {
                "on": "push",
                "jobs": {
                    "build": {
                        "runs-on": "ubuntu-24.04",
                        "outputs": {"x": "${{ steps.up.outputs.artifact-path }}"},
                        "steps": [
                            {"uses": CHECKOUT, "with": {"fetch-depht": 0}},
                            {"name": "cache it", "uses": RESTORE, "with": {"path": "x"}},
                            {"id": "up", "uses": UPLOAD, "with": {"path": "x"}},
                            {"uses": "actions/checkout@v4"},
                            {"run": "echo ${{ steps.up.outputs.artifact-id }}"},
                        ],
                    }
                },
            }
        )
    )
    problems = check_workflow(workflow)
    checkout_inputs = ", ".join(REAL_ACTIONS[CHECKOUT][0])
    assert problems == [
        f"tiny.yml: job 'build', step '#1 ({CHECKOUT})': input 'fetch-depht' is not an input of "
        f"actions/checkout at this pin (valid: {checkout_inputs})",
        "tiny.yml: job 'build', step 'cache it': required input 'key' is not supplied",
        "tiny.yml: job 'build', step '#4 (actions/checkout@v4)': uses actions/checkout@v4: no stand-in at "
        "this SHA (stand-ins exist at 08c6903cd8c0fde910a37f88322edcfb5dd907a8); "
        "see rehearsal/actions/README.md",
        "tiny.yml: job 'build': steps.up.outputs.artifact-path: actions/upload-artifact has no output "
        "'artifact-path' (outputs: artifact-id, artifact-url, artifact-digest)",
    ]


@pytest.mark.parametrize(
    "workflow", sorted((PROJECT_ROOT / ".github" / "workflows").glob("*.yml")), ids=lambda p: p.name
)
def test_the_repositorys_workflows_fit_the_standins(workflow: Path) -> None:
    assert check_workflow(workflow) == []


# -- inputs at run time -------------------------------------------------------------------------------------
def test_an_input_the_action_lacks_fails_the_step_naming_it(tmp_path: Path) -> None:
    step = Runner(tmp_path).run(UPLOAD, {"path": "x", "retention": "3"})
    assert step.code == 1
    assert "::error::Unexpected input(s) 'retention', valid inputs are ['name', 'path'," in step.log


def test_a_missing_required_input_fails_the_step_naming_it(tmp_path: Path) -> None:
    step = Runner(tmp_path).run(RESTORE, {"key": "k"})
    assert step.code == 1
    assert "::error::Input required and not supplied: path" in step.log


def created(method: str, path: str, body: object) -> tuple[int, object]:
    return 201, {}


# -- artifacts ----------------------------------------------------------------------------------------------
def test_upload_then_download_by_run_id_from_another_run(tmp_path: Path) -> None:
    with http_server(created) as (url, forge_calls):
        producer = Runner(
            tmp_path / "pr", {"REHEARSAL_STORE": str(tmp_path / "store"), "REHEARSAL_FORGE_URL": url}
        )
        report = producer.workspace / "reports" / "pr"
        (report / "plots").mkdir(parents=True)
        (report / "report.md").write_text("# metrics\n")
        (report / "plots" / "roc.png").write_bytes(b"\x89PNG")
        (report / ".cache").write_text("hidden")
        up = producer.run(UPLOAD, {"name": "pr-report", "path": "reports/pr/", "if-no-files-found": "error"})
        assert up.code == 0, up.log
        assert up.outputs["artifact-id"] == "1"
        assert (
            up.outputs["artifact-url"] == "https://github.com/acme/flightdelay/actions/runs/101/artifacts/1"
        )
        again = producer.run(UPLOAD, {"name": "pr-report", "path": "reports/pr/"})
        assert again.code == 1
        assert "an artifact with this name already exists on the workflow run" in again.log

    store = tmp_path / "store" / "artifacts" / "101" / "pr-report"
    assert [call[:3] for call in forge_calls] == [
        ("POST", "/_forge/artifacts", {"run_id": 101, "name": "pr-report", "path": str(store)})
    ]
    consumer = Runner(
        tmp_path / "comment", {"REHEARSAL_STORE": str(tmp_path / "store"), "GITHUB_RUN_ID": "102"}
    )
    inputs = {"name": "pr-report", "path": "~/artifact", "run-id": "101", "github-token": "ghs_x"}
    down = consumer.run(DOWNLOAD, inputs, REHEARSAL_FORGE_GIT_URL="http://127.0.0.1:1/acme/flightdelay.git")
    assert down.code == 0, down.log
    got = consumer.home / "artifact"
    assert down.outputs["download-path"] == str(got)
    assert sorted(str(p.relative_to(got)) for p in got.rglob("*") if p.is_file()) == [
        "plots/roc.png",
        "report.md",
    ]
    # Without github-token the real action ignores run-id and looks in the current run.
    alone = consumer.run(DOWNLOAD, {"name": "pr-report", "run-id": "101"})
    assert alone.code == 1
    assert "::error::Unable to download artifact(s): Artifact not found for name: pr-report" in alone.log


def test_upload_with_nothing_to_upload_follows_if_no_files_found(tmp_path: Path) -> None:
    runner = Runner(tmp_path)
    assert (
        "::warning::No files were found with the provided path: out/"
        in runner.run(UPLOAD, {"path": "out/"}).log
    )
    failed = runner.run(UPLOAD, {"path": "out/", "if-no-files-found": "error"})
    assert failed.code == 1
    assert (
        "::error::No files were found with the provided path: out/. No artifacts will be uploaded."
        in failed.log
    )


# -- cache --------------------------------------------------------------------------------------------------
def test_cache_save_and_restore_with_restore_keys_newest_first(tmp_path: Path) -> None:
    runner = Runner(tmp_path)
    history = runner.workspace / "reports" / "drift" / "history.json"
    history.parent.mkdir(parents=True)
    for run_id in ("1", "2"):
        history.write_text(json.dumps({"run": run_id}))
        saved = runner.run(SAVE, {"path": "reports/drift/history.json", "key": f"drift-history-{run_id}"})
        assert saved.code == 0 and f"Cache saved with key: drift-history-{run_id}" in saved.log, saved.log
    history.unlink()
    restored = runner.run(
        RESTORE,
        {"path": "reports/drift/history.json", "key": "drift-history-3", "restore-keys": "drift-history-"},
    )
    assert restored.code == 0, restored.log
    assert restored.outputs == {
        "cache-primary-key": "drift-history-3",
        "cache-matched-key": "drift-history-2",
        "cache-hit": "false",
    }
    assert json.loads(history.read_text()) == {"run": "2"}
    exact = runner.run(RESTORE, {"path": "reports/drift/history.json", "key": "drift-history-1"})
    assert exact.outputs["cache-hit"] == "true"
    assert json.loads(history.read_text()) == {"run": "1"}
    # Another path list is another cache version: no match.
    other = runner.run(RESTORE, {"path": "reports/drift/", "key": "drift-history-1"})
    assert "cache-hit" not in other.outputs
    assert "Cache not found for input keys: drift-history-1" in other.log


def test_cache_action_restores_home_paths_and_saves_in_its_post_step(tmp_path: Path) -> None:
    first = Runner(tmp_path / "job1", {"REHEARSAL_STORE": str(tmp_path / "store")})
    uv = first.home / ".cache" / "uv"
    uv.mkdir(parents=True)
    (uv / "wheel.whl").write_text("w")
    inputs = {"path": "~/.cache/uv", "key": "uv-Linux-abc"}
    assert "Cache not found" in first.run(CACHE, inputs).log
    assert "Cache saved with key: uv-Linux-abc" in first.run(CACHE, inputs, stage="post").log
    second = Runner(tmp_path / "job2", {"REHEARSAL_STORE": str(tmp_path / "store")})
    second.home.mkdir(exist_ok=True)
    hit = second.run(CACHE, {**inputs, "path": "~/.cache/uv"}, HOME=str(first.home))
    assert hit.outputs == {"cache-hit": "true"}
    assert (
        "Cache hit occurred on the primary key uv-Linux-abc, not saving cache."
        in second.run(CACHE, inputs, stage="post", HOME=str(first.home)).log
    )


# -- checkout -----------------------------------------------------------------------------------------------
def git(*args: str, cwd: Path) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@x",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@x",
        "HOME": str(cwd),
    }
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture
def forge_repo(tmp_path: Path) -> tuple[str, list[str]]:
    """A bare acme/flightdelay.git: two commits on main, a tag, a PR branch; (git URL, [c1, c2, pr])."""
    work = tmp_path / "src"
    work.mkdir()
    git("init", "-q", "-b", "main", cwd=work)
    shas = []
    for name in ("one", "two"):
        (work / f"{name}.txt").write_text(name)
        git("add", ".", cwd=work)
        git("commit", "-qm", name, cwd=work)
        shas.append(git("rev-parse", "HEAD", cwd=work))
    git("tag", "model-v1", shas[0], cwd=work)
    git("checkout", "-qb", "feature", cwd=work)
    (work / "pr.txt").write_text("pr")
    git("add", ".", cwd=work)
    git("commit", "-qm", "pr", cwd=work)
    shas.append(git("rev-parse", "HEAD", cwd=work))
    bare = tmp_path / "forge" / "acme" / "flightdelay.git"
    git("clone", "-q", "--bare", str(work), str(bare), cwd=tmp_path)
    return f"file://{bare}", shas


def test_checkout_gives_the_push_events_commit_on_a_tracking_branch(
    tmp_path: Path, forge_repo: tuple[str, list[str]]
) -> None:
    url, shas = forge_repo
    runner = Runner(tmp_path / "job", {"REHEARSAL_FORGE_GIT_URL": url, "GITHUB_SHA": shas[1]})
    step = runner.run(CHECKOUT, {"token": "ghs_tok", "fetch-depth": "0", "persist-credentials": "true"})
    assert step.code == 0, step.log
    assert step.outputs == {"commit": shas[1], "ref": "refs/heads/main"}
    ws = runner.workspace
    assert git("rev-parse", "--abbrev-ref", "HEAD@{upstream}", cwd=ws) == "origin/main"
    assert git("tag", cwd=ws) == "model-v1"
    assert git("config", "--get", "remote.origin.url", cwd=ws) == url
    header = git("config", "--get", "http.file:///.extraheader", cwd=ws)
    assert (
        header == "AUTHORIZATION: basic eC1hY2Nlc3MtdG9rZW46Z2hzX3Rvaw=="
    )  # base64 of x-access-token:ghs_tok
    runner.run(CHECKOUT, stage="post")
    assert (
        subprocess.run(["git", "config", "--get-regexp", "extraheader"], cwd=ws, check=False).returncode == 1
    )


def test_checkout_of_a_pull_request_is_its_head_shallow_and_without_credentials(
    tmp_path: Path, forge_repo: tuple[str, list[str]]
) -> None:
    url, shas = forge_repo
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 7, "head": {"sha": shas[2]}}}))
    env = {
        "REHEARSAL_FORGE_GIT_URL": url,
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REF": "refs/pull/7/merge",
        "GITHUB_SHA": "0" * 40,
    }
    runner = Runner(tmp_path / "job", env)
    step = runner.run(CHECKOUT, {"token": "ghs_tok", "persist-credentials": "false", "path": "src"})
    assert step.code == 0, step.log
    assert step.outputs == {"commit": shas[2], "ref": "refs/pull/7/merge"}
    repo = runner.workspace / "src"
    assert git("rev-list", "--count", "HEAD", cwd=repo) == "1"  # fetch-depth 1
    assert (
        subprocess.run(["git", "config", "--get-regexp", "extraheader"], cwd=repo, check=False).returncode
        == 1
    )
    other = runner.run(CHECKOUT, {"token": "t", "repository": "someone/else"})
    assert "::error::Repository 'someone/else' is not on the rehearsal forge" in other.log


# -- setup-python, AWS credentials --------------------------------------------------------------------------
def test_setup_python_accepts_the_hosts_version_only(tmp_path: Path) -> None:
    import platform

    runner = Runner(tmp_path)
    major_minor = ".".join(platform.python_version_tuple()[:2])
    ok = runner.run(SETUP_PYTHON, {"python-version": major_minor})
    assert ok.code == 0, ok.log
    assert ok.outputs["python-version"] == platform.python_version()
    assert Path(ok.outputs["python-path"]).parent == Path(ok.paths[0])
    wrong = runner.run(SETUP_PYTHON, {"python-version": "3.9"})
    assert wrong.code == 1
    assert f"python-version '3.9' does not match the host's Python {platform.python_version()}" in wrong.log


def test_configure_aws_credentials_hands_out_the_s3_servers_keys_for_a_role_arn(tmp_path: Path) -> None:
    env = {
        "REHEARSAL_AWS_ACCESS_KEY_ID": "AK",
        "REHEARSAL_AWS_SECRET_ACCESS_KEY": S3_SK,
        "REHEARSAL_AWS_ENDPOINT_URL": "http://127.0.0.1:8333",
    }
    runner = Runner(tmp_path, env)
    ok = runner.run(
        AWS,
        {"role-to-assume": "arn:aws:iam::000000000000:role/flightdelay-gitops", "aws-region": "eu-west-1"},
    )
    assert ok.code == 0, ok.log
    assert ok.exported == {
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "AK",
        "AWS_SECRET_ACCESS_KEY": S3_SK,
        "AWS_ENDPOINT_URL": "http://127.0.0.1:8333",
    }
    assert ok.outputs == {"aws-account-id": "000000000000"}
    name_only = runner.run(AWS, {"role-to-assume": "flightdelay-gitops", "aws-region": "eu-west-1"})
    assert name_only.code == 1
    assert "Source Account ID is needed if the Role Name is provided and not the Role Arn." in name_only.log
    assert "Input required and not supplied: aws-region" in runner.run(AWS, {"role-to-assume": "x"}).log


# -- docker -------------------------------------------------------------------------------------------------
def build_context(root: Path) -> None:
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("print(1)\n")
    (root / "build").mkdir()
    (root / "Dockerfile").write_text(
        "FROM python:3.11-slim AS base\nWORKDIR /app\nCOPY src/ ./src/\nCOPY --from=base /app /x\n"
        "COPY build/model/ \\\n    ./model/\n"
    )
    (root / ".dockerignore").write_text("*\n!src/\n!build/model/\n")


def test_build_push_refuses_a_missing_copy_source(tmp_path: Path) -> None:
    runner = Runner(tmp_path)
    build_context(runner.workspace)
    step = runner.run(BUILD_PUSH, {"context": ".", "tags": "ghcr.io/acme/flightdelay:model-v1-abc"})
    assert step.code == 1
    assert 'Dockerfile:5 COPY build/model/ ./model/: "/build/model": not found' in step.log
    (runner.workspace / "build" / "model").mkdir()
    (runner.workspace / "build" / "model" / "bundle.json").write_text("{}")
    (runner.workspace / ".dockerignore").write_text("*\n!src/\n")
    excluded = runner.run(BUILD_PUSH, {"context": ".", "tags": "ghcr.io/acme/flightdelay:model-v1-abc"})
    assert '"/build/model": not found (excluded by .dockerignore)' in excluded.log


def test_build_push_needs_a_login_to_push_and_records_the_image(tmp_path: Path) -> None:
    with http_server(created) as (url, requests):
        runner = Runner(tmp_path, {"REHEARSAL_FORGE_URL": url})
        build_context(runner.workspace)
        (runner.workspace / "build" / "model").mkdir()
        (runner.workspace / "build" / "model" / "bundle.json").write_text("{}")
        inputs = {"context": ".", "push": "true", "tags": "ghcr.io/acme/flightdelay:model-v1-abc"}
        refused = runner.run(BUILD_PUSH, inputs)
        assert refused.code == 1
        assert (
            "unauthorized: authentication required (no docker/login-action for ghcr.io in this job)"
            in refused.log
        )
        login = {
            "registry": "ghcr.io",
            "username": "octocat",
            "password": GHCR_LOGIN_VALUE,
        }
        assert runner.run(LOGIN, login).code == 0
        first, second = runner.run(BUILD_PUSH, inputs), runner.run(BUILD_PUSH, inputs)
        assert first.code == 0, first.log
    digest = first.outputs["digest"]
    assert digest.startswith("sha256:") and digest == second.outputs["digest"]
    assert [call[1:3] for call in requests] == [
        ("/_forge/images", {"ref": "ghcr.io/acme/flightdelay:model-v1-abc", "digest": digest})
    ] * 2
    assert json.loads(first.outputs["metadata"])["containerimage.digest"] == digest
