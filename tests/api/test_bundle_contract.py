"""A bundle is a typed, hashed contract: a wrong type or a file that is not the one hashed is
refused at start-up and on reload, naming the file and the field, and the current model serves on."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings
from flightdelay.core.errors import ModelError
from tests.api.conftest import flight
from tests.api.server import ADMIN_TOKEN, Gunicorn

pytestmark = pytest.mark.serve_only
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
HASHED = ("model.json", "feature_spec.json", "metadata.json")


def rehash(d: Path) -> None:
    """Write the bundle's manifest.json as the bundle stage does, for files edited by the test:
    the hashes agree, so only the file's content is wrong."""
    files = {n: hashlib.sha256((d / n).read_bytes()).hexdigest() for n in HASHED}
    (d / "manifest.json").write_text(json.dumps({"version": 1, "algorithm": "sha256", "files": files}))


def edited(src: Path, dest: Path, name: str, edit: Callable[[Any], Any], *, manifest: bool = True) -> Path:
    """A copy of a bundle with one JSON file edited."""
    shutil.copytree(src, dest)
    path = dest / name
    doc = json.loads(path.read_text()) if path.is_file() else None
    path.write_text(json.dumps(edit(doc)))
    if manifest:
        rehash(dest)
    return dest


def _set(key: str, value: Any) -> Callable[[Any], Any]:
    return lambda d: {**d, key: value}


def start_up_error(app: FastAPI) -> str:
    """The ModelError that stops the app's start-up; fails the test if the app serves."""
    try:
        with TestClient(app) as c:
            ready = c.get("/readyz").status_code
            scored = c.post("/v1/predict", json=flight()).status_code
            md5 = c.get("/v1/model").json().get("model_md5")
    except ModelError as e:
        return e.message
    pytest.fail(f"the app started: /readyz {ready}, /v1/predict {scored}, /v1/model md5 {md5}")


# (file, edit, the field the refusal must name)
WRONG_TYPES = {
    "threshold-null": ("metadata.json", _set("threshold", None), "threshold"),
    "threshold-string": ("metadata.json", _set("threshold", "high"), "threshold"),
    "md5-not-a-string": ("metadata.json", _set("model_md5", 1234), "model_md5"),
    "release-not-an-object": ("release.json", lambda _: [1, 2], "document"),
    "release-version-null": ("release.json", lambda _: {"version": None}, "version"),
    "spec-not-an-object": ("feature_spec.json", lambda _: ["carrier"], "document"),
}


@pytest.mark.parametrize("case", sorted(WRONG_TYPES))
def test_a_bundle_with_a_wrong_type_is_refused_at_start_up(
    case: str, bundles: tuple[Path, Path], settings: Settings, tmp_path: Path
) -> None:
    name, edit, field = WRONG_TYPES[case]
    bad = edited(bundles[0], tmp_path / "bad", name, edit)
    app = create_app(settings.model_copy(update={"model_dir": bad}))
    error = start_up_error(app)  # before: /readyz 200, then every prediction a 500
    assert name in error and field in error, error


@pytest.mark.parametrize("case", sorted(WRONG_TYPES))
def test_a_reload_to_a_bundle_with_a_wrong_type_is_422_and_the_current_model_serves_on(
    case: str, inprocess: TestClient, bundles: tuple[Path, Path], tmp_path: Path
) -> None:
    name, edit, field = WRONG_TYPES[case]
    bad = edited(bundles[1], tmp_path / "bad", name, edit)
    before = inprocess.post("/v1/predict", json=flight()).json()
    r = inprocess.post("/admin/reload", json={"model_dir": str(bad)}, headers=AUTH)
    assert r.status_code == 422, r.text
    assert name in r.json()["message"] and field in r.json()["message"], r.json()["message"]
    after = inprocess.post("/v1/predict", json=flight())
    assert after.status_code == 200, after.text
    assert after.json()["model_version"] == before["model_version"]
    assert inprocess.get("/v1/model").status_code == 200


def test_a_bundle_that_does_not_pass_its_own_checks_never_makes_the_server_ready(
    bundles: tuple[Path, Path], tmp_path: Path
) -> None:
    """Real gunicorn: the worker refuses the bundle before it accepts traffic, saying why."""
    bad = edited(bundles[0], tmp_path / "bad", "metadata.json", _set("threshold", None))
    srv = Gunicorn(bad, tmp_path / "srv", workers=1)
    try:
        with pytest.raises(AssertionError, match="gunicorn exited") as e:
            srv.start(timeout=30)  # before: /readyz 200, then every prediction a 500
    finally:
        srv.__exit__(None, None, None)
    assert "metadata.json is invalid: threshold" in str(e.value), str(e.value)[-2000:]


def _other_model(a: Path, b: Path, dest: Path, *, manifest: bool) -> Path:
    """Bundle A holding B's model.json: with A's manifest (stale), or a manifest rewritten to
    match (then only metadata.json's model_md5 says it is the wrong model)."""
    shutil.copytree(a, dest)
    shutil.copyfile(b / "model.json", dest / "model.json")
    if manifest:
        rehash(dest)
    return dest


@pytest.mark.parametrize("manifest", ["stale-manifest", "rewritten-manifest"])
def test_a_bundle_holding_another_models_file_is_refused_at_start_up(
    manifest: str, bundles: tuple[Path, Path], settings: Settings, tmp_path: Path
) -> None:
    if manifest == "stale-manifest":
        shutil.copytree(bundles[0], tmp_path / "a")
        rehash(tmp_path / "a")  # bundles from before the manifest: give this one its manifest
        src = tmp_path / "a"
    else:
        src = bundles[0]
    bad = _other_model(src, bundles[1], tmp_path / "bad", manifest=manifest == "rewritten-manifest")
    app = create_app(settings.model_copy(update={"model_dir": bad}))
    error = start_up_error(app)  # before: served B's model.json, /v1/model reported A's md5
    assert "model.json has" in error, error


def test_a_reload_to_a_bundle_holding_another_models_file_is_refused(
    inprocess: TestClient, bundles: tuple[Path, Path], tmp_path: Path
) -> None:
    bad = _other_model(bundles[0], bundles[1], tmp_path / "bad", manifest=True)
    before = inprocess.post("/v1/predict", json=flight()).json()
    r = inprocess.post("/admin/reload", json={"model_dir": str(bad)}, headers=AUTH)
    assert r.status_code == 422, (
        f"reloaded: /v1/model says md5 {inprocess.get('/v1/model').json()['model_md5']}"
    )
    assert "model_md5" in r.json()["message"]
    after = inprocess.post("/v1/predict", json=flight()).json()
    assert after["predictions"] == before["predictions"]
