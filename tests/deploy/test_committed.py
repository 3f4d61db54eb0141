"""The committed manifests pass every check; image references are what the overlays declare."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from check_deploy import MANAGED_BLOCK, check_images, declared_images, rendered_images

from tests.deploy.conftest import Obj, find, run_check
from tests.helpers import REPO_ROOT

OVERLAYS_DIR = REPO_ROOT / "deploy" / "overlays"


def test_every_check_passes_on_the_committed_manifests() -> None:
    run = run_check("all", "--no-checkov")  # checkov runs once, in test_checkov.py
    assert run.returncode == 0, run.output
    assert "deploy checks: ok" in run.output


def test_rendered_images_equal_the_declared_ones() -> None:
    # The placeholder until the first release, then whatever the release step pinned.
    refs = {}
    for overlay in ("staging", "production"):
        path = OVERLAYS_DIR / overlay
        refs[overlay] = declared_images(path)
        assert rendered_images(path) == refs[overlay]
        assert len(refs[overlay]) == 1
    run = run_check("images")
    assert run.returncode == 0, run.output
    assert f"production: {refs['production'][0]}" in run.output
    run = run_check("images", "staging", "--json")
    assert run.returncode == 0, run.output
    assert json.loads(run.output) == {"staging": refs["staging"]}


def test_an_image_the_overlay_does_not_declare_fails(tmp_path: Path) -> None:
    staging = _copy_deploy(tmp_path)
    kust = staging / "kustomization.yaml"
    kust.write_text(kust.read_text().replace("- name: flightdelay\n", "- name: flight-delay\n"))
    messages = [str(f) for f in check_images(staging)]
    assert any("must end with the block that `flightdelay release` rewrites" in m for m in messages)
    assert any("rendered Deployment runs 'flightdelay'" in m for m in messages), messages


def _copy_deploy(tmp_path: Path) -> Path:
    shutil.copytree(REPO_ROOT / "deploy", tmp_path / "deploy")
    return tmp_path / "deploy" / "overlays" / "staging"


def _pin(overlay: Path, lines: str) -> None:
    kust = overlay / "kustomization.yaml"
    kust.write_text(re.sub(r"    newTag: \S+\n(    digest: \S+\n)?\Z", lines, kust.read_text()))


def test_a_release_bump_shows_in_the_rendered_deployment(tmp_path: Path) -> None:
    staging = _copy_deploy(tmp_path)
    _pin(staging, "    newTag: model-v7-0123abc\n")
    assert rendered_images(staging) == ["ghcr.io/example-org/flightdelay:model-v7-0123abc"]
    assert declared_images(staging) == rendered_images(staging)


def test_a_digest_pin_is_declared_and_rendered(tmp_path: Path) -> None:
    staging = _copy_deploy(tmp_path)
    digest = "sha256:" + "a" * 64
    _pin(staging, f"    newTag: model-v7-0123abc\n    digest: {digest}\n")
    assert (
        rendered_images(staging)
        == declared_images(staging)
        == [f"ghcr.io/example-org/flightdelay:model-v7-0123abc@{digest}"]
    )
    assert check_images(staging) == []


def test_each_overlay_ends_with_the_block_the_release_step_rewrites() -> None:
    for overlay in ("staging", "production"):
        text = (OVERLAYS_DIR / overlay / "kustomization.yaml").read_text()
        block = MANAGED_BLOCK.search(text)
        assert block, f"{overlay}: the managed images block is not the end of the file"
        assert block["name"] == declared_images(OVERLAYS_DIR / overlay)[0].split(":")[0].split("@")[0]


def test_overlays_differ_only_where_environments_should(rendered: dict[str, list[Obj]]) -> None:
    hpa = {o: find(rendered[o], "HorizontalPodAutoscaler")["spec"] for o in ("staging", "production")}
    assert (hpa["staging"]["minReplicas"], hpa["production"]["minReplicas"]) == (2, 3)
    assert all(d["metadata"]["namespace"] == "flightdelay-production" for d in rendered["production"])
    assert [r["metadata"]["name"] for r in rendered["staging"] if r["kind"] == "PrometheusRule"] == [
        "flightdelay-service"
    ]
    for overlay in ("staging", "production"):
        dep = find(rendered[overlay], "Deployment")
        assert "replicas" not in dep["spec"]
        env = dep["spec"]["template"]["spec"]["containers"][0]["env"]
        assert env == [
            {
                "name": "ADMIN_TOKEN",
                "valueFrom": {
                    "secretKeyRef": {"name": "flightdelay-admin", "key": "token", "optional": True}
                },
            }
        ]
        config = find(rendered[overlay], "ConfigMap")["data"]
        assert config["PORT"] == "8000"
        assert config["PROMETHEUS_MULTIPROC_DIR"] == "/tmp/prometheus"
        assert re.fullmatch(
            r"flightdelay-settings-\w+", find(rendered[overlay], "ConfigMap")["metadata"]["name"]
        )
