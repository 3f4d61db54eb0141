"""Reload that cannot split: on a real gunicorn, every worker moves to the new model or none does,
a failed reload says why (log and /v1/model), and a crashed worker comes back on the last good
model. The two-phase protocol itself is also tested in-process, with a worker that refuses."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from api.schemas import EXAMPLE_FLIGHT
from api.scoring import LoadedModel, load_model
from api.state import ModelHolder
from flightdelay.core import bundle
from flightdelay.core.errors import ModelError
from tests.api.server import ADMIN_TOKEN, Gunicorn, request
from tests.api.test_bundle_contract import edited

pytestmark = pytest.mark.serve_only
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ONE = json.dumps(EXAMPLE_FLIGHT).encode()


def reload(srv: Gunicorn, model_dir: Path) -> tuple[int, dict[str, object]]:
    status, body = request(
        srv.port, "POST", "/admin/reload", json.dumps({"model_dir": str(model_dir)}).encode(), AUTH
    )
    return status, json.loads(body)


def served_versions(srv: Gunicorn, n: int = 40) -> set[str]:
    """Versions answered over `n` new connections (they land on every worker)."""
    seen = set()
    for _ in range(n):
        status, body = request(srv.port, "POST", "/v1/predict", ONE)
        assert status == 200, body
        seen.add(json.loads(body)["model_version"])
    return seen


def model_infos(srv: Gunicorn, n: int = 20) -> list[dict[str, object]]:
    out = []
    for _ in range(n):
        status, body = request(srv.port, "GET", "/v1/model")
        assert status == 200, body
        out.append(json.loads(body))
    return out


@pytest.mark.slow
def test_a_bundle_that_breaks_the_loader_does_not_stop_later_reloads_reaching_every_worker(
    bundles: tuple[Path, Path], tmp_path: Path
) -> None:
    """A feature spec of the wrong JSON type, named by the control file (as a reload recorded
    before the bundle was changed under it): each worker refuses it and keeps following."""
    new = bundle.load(bundles[1]).version
    bad = edited(bundles[1], tmp_path / "bad-spec", "feature_spec.json", lambda _: ["carrier"])
    control = tmp_path / "control" / "model-control.json"
    control.parent.mkdir()
    with Gunicorn(bundles[0], tmp_path / "srv", workers=2, env={"MODEL_CONTROL_FILE": str(control)}) as srv:
        control.write_text(json.dumps({"generation": 5, "model_dir": str(bad)}))
        time.sleep(1.5)  # every worker has polled it and refused the bundle
        status, body = reload(srv, bundles[1])
        assert status == 200, body
        time.sleep(1.0)
        # before: the watchers had died on the bad spec; one worker served B, the other A
        assert served_versions(srv) == {new}, srv.log()
        assert "feature_spec.json is invalid" in srv.log()


@pytest.mark.slow
def test_a_replacement_worker_boots_on_the_last_good_model_when_its_directory_is_gone(
    bundles: tuple[Path, Path], tmp_path: Path
) -> None:
    new = bundle.load(bundles[1]).version
    gone = tmp_path / "will-vanish"
    shutil.copytree(bundles[1], gone)
    with Gunicorn(bundles[0], tmp_path / "srv", workers=1) as srv:
        status, body = reload(srv, gone)
        assert status == 200, body
        shutil.rmtree(gone)
        [worker] = srv.workers()
        os.kill(worker, signal.SIGKILL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not (srv.workers() not in ([], [worker]) and srv.ready()):
            assert srv.proc is not None
            assert srv.proc.poll() is None, (
                f"the server exited (before: the replacement could not boot)\n{srv.log()}"
            )
            time.sleep(0.05)
        assert srv.ready(), srv.log()
        assert served_versions(srv, 5) == {new}


@pytest.mark.slow
def test_a_failed_reload_is_logged_and_shown_by_every_worker(
    bundles: tuple[Path, Path], tmp_path: Path
) -> None:
    old = bundle.load(bundles[0]).version
    bad = tmp_path / "no-model"
    shutil.copytree(bundles[1], bad)
    (bad / "model.json").unlink()
    with Gunicorn(bundles[0], tmp_path / "srv", workers=2) as srv:
        status, body = reload(srv, bad)
        assert status == 422, body
        time.sleep(1.0)
        log = srv.log()
        assert "reload" in log and "has no model.json" in log, log  # before: only in the answer
        for info in model_infos(srv):
            last = info.get("last_reload")  # before: no such field
            assert isinstance(last, dict), info
            assert last["outcome"] == "failure" and last["model_dir"] == str(bad), last
            assert "has no model.json" in str(last["reason"]), last
            assert info["version"] == old
        assert served_versions(srv) == {old}


# In-process: two workers' holders sharing one control file, run on one event loop.


async def _follow(holder: ModelHolder, stop: asyncio.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(ModelError):  # a refusal is logged by the service's watcher
            await holder.sync()
        await asyncio.sleep(0.02)


def _pair(tmp_path: Path, refuse: bool) -> tuple[ModelHolder, ModelHolder]:
    def refusing(model_dir: Path, generation: int) -> LoadedModel:
        if generation > 0:
            raise ModelError("out of memory (simulated)")
        return load_model(model_dir, generation)

    control = tmp_path / "control" / "model-control.json"
    control.parent.mkdir(exist_ok=True)
    a = ModelHolder(control, member="a", ack_timeout=5)
    b = ModelHolder(control, member="b", loader=refusing if refuse else load_model, ack_timeout=5)
    return a, b


@pytest.mark.parametrize("refuse", [False, True], ids=["all-load", "one-refuses"])
def test_every_worker_moves_or_none_does(bundles: tuple[Path, Path], tmp_path: Path, refuse: bool) -> None:
    async def scenario() -> tuple[int, int, str | None]:
        a, b = _pair(tmp_path, refuse)
        await a.start(bundles[0])
        await b.start(bundles[0])
        stop = asyncio.Event()
        follower = asyncio.create_task(_follow(b, stop))
        error = None
        try:
            await a.reload(bundles[1])
        except ModelError as e:
            error = e.message
        await asyncio.sleep(0.2)
        stop.set()
        await follower
        assert a.last_attempt is not None and b.last_attempt is not None
        assert a.last_attempt.outcome == b.last_attempt.outcome == ("failure" if refuse else "success")
        return a.current.generation, b.current.generation, error

    ga, gb, error = asyncio.run(scenario())
    if refuse:
        assert (ga, gb) == (0, 0), "a worker moved although another refused the bundle"
        assert error is not None and "out of memory (simulated)" in error
    else:
        assert (ga, gb) == (1, 1) and error is None


def test_a_worker_that_never_answers_aborts_the_reload(bundles: tuple[Path, Path], tmp_path: Path) -> None:
    async def scenario() -> None:
        control = tmp_path / "model-control.json"
        a = ModelHolder(control, member="a", ack_timeout=0.5)
        silent = ModelHolder(control, member="silent")
        await a.start(bundles[0])
        await silent.start(bundles[0])  # registered, never polls
        with pytest.raises(ModelError, match="did not load the bundle within"):
            await a.reload(bundles[1])
        assert a.current.generation == 0

    asyncio.run(scenario())
