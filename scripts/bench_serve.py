"""Serving benchmark: our service vs `mlflow models serve` vs a no-op handler on the same stack.

Each server runs alone on loopback with 2 workers and the same model; wrk drives it with 8
connections. Printed: requests/s, p50 and p99 for 1-row and 100-row bodies, 1,000-row latency,
time from start to ready (median of 3 starts), RSS per worker, each target met or missed, and
where a 100-row request's time goes inside one process (parse, validation, encoding, trees,
response, score histogram).

    python scripts/bench_serve.py --model-dir models/bundle      (make bench-serve)

The module also exposes `noop_app()`, the no-op server (gunicorn imports it): our app, middleware
and request validation, with a handler that scores nothing.
"""

import argparse
import contextlib
import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import Response

ROOT = Path(__file__).resolve().parents[1]
CONNECTIONS = 8
WORKERS = 2
STARTS = 3  # time to ready: the median of this many starts (the first may read a cold disk cache)


def noop_app() -> Any:
    """Same app and request validation as the service; POST /bench/noop validates and returns."""
    from api.main import create_app
    from api.routing import RawRoute

    app = create_app(configure_logging=True)
    service = app.state.service

    async def noop(request: Request) -> Response:
        service.adapters.predict_batch(await request.body(), service.settings.max_batch_rows)
        return Response(b'{"predictions":[]}', media_type="application/json")

    # Where /v1/predict is served (the first route, the same kind), so routing costs both the same.
    routes = app.router.routes
    at = next(i for i, r in enumerate(routes) if getattr(r, "path", None) == "/v1/predict")
    routes[at] = RawRoute("/bench/noop", noop, methods=["POST"])

    return app


@dataclass
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


@dataclass
class Result:
    name: str
    ready_s: float = 0.0  # median of STARTS
    ready_all_s: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    runs: dict[str, Run] = field(default_factory=dict)
    batch1000_ms: dict[str, float] = field(default_factory=dict)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _status(port: int, method: str, path: str, body: bytes | None = None) -> int:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        c.request(method, path, body=body, headers={"Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


def _descendants(pid: int) -> list[int]:
    out: list[int] = []
    for tid in Path(f"/proc/{pid}/task").iterdir():
        for child in (tid / "children").read_text().split():
            out += [int(child), *_descendants(int(child))]
    return out


def _alive(pid: int) -> bool:
    """True while `pid` runs (a zombie, exited but not yet reaped, counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Server:
    def __init__(self, cmd: list[str], env: dict[str, str], ready_path: str, log: Path) -> None:
        self.cmd, self.env, self.ready_path, self.log = cmd, env, ready_path, log
        self.port = int(env["BENCH_PORT"])
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120) -> float:
        t0 = time.monotonic()
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                self.cmd,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.cmd[0]} exited; see {self.log}")
            try:
                if _status(self.port, "GET", self.ready_path) == 200:
                    return time.monotonic() - t0
            except OSError:
                pass
            time.sleep(0.02)
        raise SystemExit(f"not ready after {timeout} s; see {self.log}")

    def workers_rss(self) -> list[float]:
        if self.proc is None:
            return []
        procs = _descendants(self.proc.pid)
        leaves = [p for p in procs if not _descendants(p)] or [self.proc.pid]
        return [round(_rss_mb(p), 1) for p in leaves]

    def stop(self) -> None:
        """SIGTERM the process group and wait until all of it is gone: a server started next on
        the same port must not find the old one still answering (`mlflow models serve` exits
        before its uvicorn does)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        group = [self.proc.pid, *_descendants(self.proc.pid)]
        os.killpg(self.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while any(_alive(p) for p in group) and time.monotonic() < deadline:
            time.sleep(0.05)
        if any(_alive(p) for p in group):
            for p in group:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p, signal.SIGKILL)
        self.proc.wait()


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    if not m:
        return float("nan")
    v, unit = float(m.group(1)), m.group(2)
    return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v


def wrk(port: int, path: str, body: bytes, seconds: int, workdir: Path) -> Run:
    """wrk, 1 thread (the other core serves), 8 connections, POST `body`."""
    body_file = workdir / "body.json"
    body_file.write_bytes(body)
    script = workdir / "post.lua"
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f'local f = io.open("{body_file}", "rb")\nwrk.body = f:read("*all")\nf:close()\n'
    )
    cmd = [
        "wrk",
        "-t1",
        f"-c{CONNECTIONS}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}{path}",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.MULTILINE).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors:(.*)", out)
    errors = (int(bad.group(1)) if bad else 0) + (
        sum(int(n) for n in re.findall(r"\d+", sock.group(1))) if sock else 0
    )
    return Run(rps=round(rps, 1), p50_ms=round(p50, 2), p99_ms=round(p99, 2), errors=errors)


def sequential_ms(port: int, path: str, body: bytes, n: int) -> dict[str, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times = []
    for _ in range(n + 2):
        t0 = time.perf_counter()
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            raise SystemExit(f"{path}: {r.status}")
        times.append((time.perf_counter() - t0) * 1000)
    conn.close()
    times = sorted(times[2:])
    return {"p50": round(statistics.median(times), 2), "max": round(times[-1], 2), "n": n}


def _rows(model_dir: Path, n: int) -> list[dict[str, Any]]:
    import pandas as pd

    from flightdelay.core.features import INPUT_COLUMNS

    holdout = ROOT / "data/features/holdout.parquet"
    if not holdout.is_file():
        raise SystemExit(f"{holdout} is missing: run `dvc repro` first")
    frame = pd.read_parquet(holdout).sample(n=n, random_state=0)[list(INPUT_COLUMNS)]
    return json.loads(frame.to_json(orient="records"))


def mlflow_model(model_dir: Path, out: Path) -> Path:
    """The same booster and feature spec as an MLflow sklearn model (what a team would serve)."""
    import mlflow.sklearn

    from flightdelay.core.features import FeatureSpec
    from flightdelay.core.model import FlightDelayModel, load_classifier

    model = FlightDelayModel(
        FeatureSpec.load(model_dir / "feature_spec.json"),
        load_classifier(str(model_dir / "model.json")),
    )
    mlflow.sklearn.save_model(
        model, str(out), serialization_format="cloudpickle", pyfunc_predict_fn="predict_proba"
    )
    return out


def _split(rows: Sequence[dict[str, Any]]) -> bytes:
    cols = list(rows[0])
    return json.dumps(
        {"dataframe_split": {"columns": cols, "data": [[r[c] for c in cols] for r in rows]}}
    ).encode()


@dataclass
class Target:
    server: Server
    path: str
    bodies: dict[str, bytes]
    batch_reps: int
    result: Result


def bench(targets: list[Target], *, seconds: int, rounds: int, work: Path) -> list[Result]:
    """Start the servers (one at a time: cold start alone), then alternate wrk runs between them.

    Alternating cancels slow drifts in machine load between the servers compared; the best of
    `rounds` runs is reported (the least disturbed one), with its latencies.
    """
    try:
        for t in targets:
            for i in range(STARTS):
                if i:
                    t.server.stop()
                t.result.ready_all_s.append(round(t.server.start(), 2))
            t.result.ready_s = round(statistics.median(t.result.ready_all_s), 2)
        for label in ("1 row", "100 rows"):
            for t in targets:
                wrk(t.server.port, t.path, t.bodies[label], 1, work)  # warm-up
            runs: dict[str, list[Run]] = {t.result.name: [] for t in targets}
            for _ in range(rounds):
                for t in targets:
                    runs[t.result.name].append(wrk(t.server.port, t.path, t.bodies[label], seconds, work))
            for t in targets:
                t.result.runs[label] = max(runs[t.result.name], key=lambda r: r.rps)
        for t in targets:
            if "1000 rows" in t.bodies:
                t.result.batch1000_ms = sequential_ms(
                    t.server.port, t.path, t.bodies["1000 rows"], t.batch_reps
                )
            t.result.rss_mb = t.server.workers_rss()
    finally:
        for t in targets:
            t.server.stop()
    return [t.result for t in targets]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", type=Path, default=Path("models/bundle"))
    ap.add_argument("--seconds", type=int, default=3, help="wrk duration per run")
    ap.add_argument("--rounds", type=int, default=5, help="alternating runs (best is kept)")
    ap.add_argument(
        "--serve-python",
        type=Path,
        default=ROOT / ".venv-serve/bin/python",
        help="interpreter of the serving-only environment (make serve-env)",
    )
    ap.add_argument("--skip-mlflow", action="store_true")
    args = ap.parse_args(argv)
    model_dir = args.model_dir.resolve()
    serve_py = str(args.serve_python) if args.serve_python.exists() else sys.executable
    rows = _rows(model_dir, 1000)
    ours = {
        "1 row": json.dumps(rows[0]).encode(),
        "100 rows": json.dumps({"flights": rows[:100]}).encode(),
        "1000 rows": json.dumps({"flights": rows}).encode(),
    }
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        work = Path(tmp)
        base = {
            k: v for k, v in os.environ.items() if k not in ("PROMETHEUS_MULTIPROC_DIR", "MODEL_CONTROL_FILE")
        }

        def gunicorn(app: str, extra: list[str], log: str) -> Server:
            port = _port()
            env = {
                **base,
                "MODEL_DIR": str(model_dir),
                "BENCH_PORT": str(port),
                "PREDICTION_LOG": "off",
                "LOG_LEVEL": "info",
            }
            cmd = [
                serve_py,
                "-m",
                "gunicorn",
                "-c",
                "api/gunicorn.conf.py",
                *extra,
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(WORKERS),
                app,
            ]
            return Server(cmd, env, "/readyz", work / log)

        print(
            f"bench-serve: {WORKERS} workers each, wrk {CONNECTIONS} connections, "
            f"best of {args.rounds} alternating {args.seconds} s runs, model {model_dir.name}",
            flush=True,
        )
        ours_server = gunicorn("api.main:app", [], "ours.log")
        noop_server = gunicorn("bench_serve:noop_app()", ["--pythonpath", "scripts"], "noop.log")
        noop_bodies = {k: v for k, v in ours.items() if k != "1000 rows"}
        results += bench(
            [
                Target(ours_server, "/v1/predict", ours, 30, Result("flightdelay")),
                Target(noop_server, "/bench/noop", noop_bodies, 0, Result("no-op")),
            ],
            seconds=args.seconds,
            rounds=args.rounds,
            work=work,
        )
        print(
            f"  flightdelay and no-op done ({results[0].runs['1 row'].rps} vs "
            f"{results[1].runs['1 row'].rps} req/s)",
            flush=True,
        )
        if not args.skip_mlflow:
            mdir = mlflow_model(model_dir, work / "mlflow-model")
            port = _port()
            env = {**base, "BENCH_PORT": str(port), "MLFLOW_TRACKING_URI": f"sqlite:///{work}/m.db"}
            cmd = [
                str(Path(sys.executable).with_name("mlflow")),
                "models",
                "serve",
                "-m",
                str(mdir),
                "--env-manager",
                "local",
                "-w",
                str(WORKERS),
                "-p",
                str(port),
                "-h",
                "127.0.0.1",
            ]
            split = {
                "1 row": _split(rows[:1]),
                "100 rows": _split(rows[:100]),
                "1000 rows": _split(rows),
            }
            mlflow_server = Server(cmd, env, "/ping", work / "mlflow.log")
            results += bench(
                [Target(mlflow_server, "/invocations", split, 10, Result("mlflow models serve"))],
                seconds=2 * args.seconds,
                rounds=1,
                work=work,
            )
            print("  mlflow done", flush=True)
    report(results)
    print_request_costs(model_dir, ours["100 rows"])
    out = ROOT / ".bench" / "serve.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    print(f"\nraw figures: {out.relative_to(ROOT)}")
    return 0


def report(results: list[Result]) -> None:
    print(
        f"\n{'server':<22}{'ready s':>8}{'RSS/worker MB':>16}"
        f"{'1-row req/s':>13}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'100-row req/s':>15}{'p50 ms':>8}{'p99 ms':>8}{'1000-row ms':>13}{'errors':>8}"
    )
    for r in results:
        one, hundred = r.runs.get("1 row"), r.runs.get("100 rows")
        rss = "/".join(f"{x:.0f}" for x in r.rss_mb)
        batch = f"{r.batch1000_ms['p50']:.1f}" if r.batch1000_ms else "-"
        errors = sum(x.errors for x in r.runs.values())
        print(
            f"{r.name:<22}{r.ready_s:>8.2f}{rss:>16}"
            f"{one.rps if one else 0:>13.0f}{one.p50_ms if one else 0:>8.2f}"
            f"{one.p99_ms if one else 0:>8.2f}{hundred.rps if hundred else 0:>15.0f}"
            f"{hundred.p50_ms if hundred else 0:>8.2f}{hundred.p99_ms if hundred else 0:>8.2f}"
            f"{batch:>13}{errors:>8}"
        )
    by = {r.name: r for r in results}
    ours, noop, mlf = by["flightdelay"], by.get("no-op"), by.get("mlflow models serve")
    checks: list[tuple[str, str, bool]] = []
    for label in ("1 row", "100 rows"):
        run = ours.runs[label]
        if mlf:
            x = run.rps / mlf.runs[label].rps
            checks.append((f"{label}: {x:.1f}× mlflow models serve", "≥ 20×", x >= 20))
        if noop:
            share = 100 * run.rps / noop.runs[label].rps
            checks.append((f"{label}: {share:.0f}% of the no-op handler", "≥ 70%", share >= 70))
    one = ours.runs["1 row"]
    checks.append(
        (f"1 row: p99 {one.p99_ms:.2f} ms at {CONNECTIONS} connections", "≤ 10 ms", one.p99_ms <= 10)
    )
    if ours.batch1000_ms:
        p50 = ours.batch1000_ms["p50"]
        checks.append((f"1,000-row batch: p50 {p50:.1f} ms", "≤ 25 ms", p50 <= 25))
    starts = ", ".join(f"{x:.2f}" for x in ours.ready_all_s)
    checks.append(
        (f"ready {ours.ready_s:.2f} s after start (median of {starts})", "≤ 3 s", ours.ready_s <= 3)
    )
    print("\ntargets:")
    for text, target, ok in checks:
        print(f"  {'met ' if ok else 'MISSED'} {text:<46} target {target}")


def request_costs(model_dir: Path, body: bytes) -> dict[str, float]:
    """Where a request's time goes inside one process (µs, best of 7 × 2,000): the server's steps
    called one by one, without HTTP. The no-op handler stops after `validate`."""
    import timeit

    import orjson

    if str(ROOT) not in sys.path:  # run as a script, only scripts/ is on the path
        sys.path.insert(0, str(ROOT))
    from api.metrics import Metrics
    from api.scoring import load_model
    from api.service import prediction_body
    from api.validation import Adapters

    adapters, model, metrics = Adapters(), load_model(model_dir, 0), Metrics()
    flights = adapters.predict_batch(body, None)
    x = model.encode(flights)
    scores = model.predict(flights)

    steps = {
        "parse (orjson)": lambda: orjson.loads(body),
        "validate (parse included)": lambda: adapters.predict_batch(body, None),
        "encode": lambda: model.encode(flights),
        "trees": lambda: model.trees(x),
        "response": lambda: prediction_body("0", model.version, model.bundle.threshold, scores),
        "score histogram": lambda: metrics.observe_scores(scores),
    }
    return {k: min(timeit.repeat(f, number=2_000, repeat=7)) / 2_000 * 1e6 for k, f in steps.items()}


def print_request_costs(model_dir: Path, body: bytes) -> None:
    costs = request_costs(model_dir, body)
    after = sum(v for k, v in costs.items() if not k.startswith(("parse", "validate")))
    print("\nwhere a 100-row request's time goes, one process, µs (the no-op handler stops after validate):")
    for name, us in costs.items():
        print(f"  {name:<28}{us:>8.1f}")
    print(f"  {'after validation':<28}{after:>8.1f}")


if __name__ == "__main__":
    sys.exit(main())
