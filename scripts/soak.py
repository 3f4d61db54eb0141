"""`make soak`: load and faults against a real gunicorn on loopback, with figures.

1. capacity: a short wrk burst (8 connections, 1-row requests) measures what 2 workers sustain;
2. load: a fixed rate near that capacity for `--seconds` (default 60): failures and p50/p99;
3. faults under load: SIGTERM to the master (in-flight requests answered, exit code, time to
   exit), `kill -9` of a worker (time until a replacement serves, failed requests), model reload
   (failed requests), and a corrupt / missing bundle at start (never ready, and says why);
4. hostile burst: the costliest bodies under the production limits (tests/api/bodies.py), two at
   a time, for as long as a fixed-rate run of normal traffic lasts: the time to answer each kind,
   and normal traffic's p99 before and during the burst.

wrk has no fixed-rate mode; `scripts/wrk_rate.lua` paces each connection (wrk's `delay()`), and
the achieved rate is reported next to the target. Results also go to `.bench/soak.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gunicorn_server import ADMIN_TOKEN, Gunicorn, request
from worst_bodies import worst_case_bodies

from api.schemas import EXAMPLE_FLIGHT

LUA = ROOT / "scripts" / "wrk_rate.lua"
BODY = json.dumps({"flights": [EXAMPLE_FLIGHT]})
CONNECTIONS = 8
# The production limits (api/settings.py defaults): the burst uses the largest bodies they allow.
MAX_BODY_BYTES, MAX_BATCH_ROWS, REQUEST_TIMEOUT_S = 1_048_576, 1000, 10.0


def wrk(port: int, seconds: float, rate: float | None = None) -> dict[str, Any]:
    """Run wrk against /v1/predict; returns requests, rate, non-2xx, socket errors, p50/p99 ms."""
    env = {**os.environ, "WRK_BODY": BODY, "WRK_RATE": str(rate or 0), "WRK_CONNECTIONS": str(CONNECTIONS)}
    cmd = [
        "wrk",
        "-t2",
        f"-c{CONNECTIONS}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "-s",
        str(LUA),
        f"http://127.0.0.1:{port}/v1/predict",
    ]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    return parse_wrk(out)


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse_wrk(out: str) -> dict[str, Any]:
    reqs = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    pct = dict(re.findall(r"^\s+(\d+)%\s+(\S+)$", out, flags=re.M))
    return {
        "requests": reqs,
        "rate": rate,
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sum(int(x) for x in sock.groups()) if sock else 0,
        "p50_ms": _ms(pct["50"]),
        "p99_ms": _ms(pct["99"]),
    }


def failures(r: dict[str, Any]) -> int:
    return int(r["non_2xx"]) + int(r["socket_errors"])


def in_background(port: int, seconds: float, rate: float) -> tuple[threading.Thread, dict[str, Any]]:
    result: dict[str, Any] = {}
    t = threading.Thread(target=lambda: result.update(wrk(port, seconds, rate)))
    t.start()
    return t, result


def partial_request(port: int) -> socket.socket:
    """Headers and half the body sent: a request that is in flight until the rest arrives."""
    body = BODY.encode()
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(
        b"POST /v1/predict HTTP/1.1\r\nHost: soak\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body[: len(body) // 2]
    )
    return s


def finish(s: socket.socket) -> int:
    body = BODY.encode()
    s.sendall(body[len(body) // 2 :])
    data = s.recv(65536)
    s.close()
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else -1


def fault_sigterm(bundle: Path, tmp: Path, rate: float) -> dict[str, Any]:
    with Gunicorn(bundle, tmp / "sigterm", workers=2) as srv:
        thread, _ = in_background(srv.port, 6, rate)
        time.sleep(2)
        pending = [partial_request(srv.port) for _ in range(CONNECTIONS)]
        time.sleep(0.3)
        if srv.proc is None:
            raise SystemExit("soak: gunicorn did not start")
        t0 = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        answered = [finish(s) for s in pending]
        code = srv.proc.wait(60)
        took = time.monotonic() - t0
        thread.join()
    return {
        "in_flight": len(pending),
        "in_flight_answered_200": answered.count(200),
        "exit_code": code,
        "seconds_to_exit": round(took, 2),
        "graceful_timeout_s": 20,
    }


def fault_kill_worker(bundle: Path, tmp: Path, rate: float) -> dict[str, Any]:
    with Gunicorn(bundle, tmp / "kill9", workers=2) as srv:
        thread, load = in_background(srv.port, 6, rate)
        time.sleep(2)
        before = set(srv.workers())
        victim = sorted(before)[0]
        t0 = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        replacement = None
        while time.monotonic() - t0 < 10 and replacement is None:
            new = set(srv.workers()) - before
            if new:
                replacement = new.pop()
            time.sleep(0.01)
        # The replacement serves when a request lands on it; both workers answer once it is up.
        while time.monotonic() - t0 < 10:
            if request(srv.port, "GET", "/readyz", timeout=2)[0] == 200 and _worker_ready(srv, replacement):
                break
            time.sleep(0.01)
        ready_in = time.monotonic() - t0
        thread.join()
    return {
        "replacement_ready_s": round(ready_in, 3),
        "failed_requests": failures(load),
        "requests": load["requests"],
        "open_connections_per_worker_max": CONNECTIONS,
    }


def _worker_ready(srv: Gunicorn, pid: int | None) -> bool:
    """A worker is serving once it has its listening socket and its model (gunicorn spawned it
    after `post_worker_init`, i.e. after the model loaded)."""
    return pid is not None and pid in srv.workers() and Path(f"/proc/{pid}").exists()


def fault_reload(bundle: Path, other: Path, tmp: Path, rate: float) -> dict[str, Any]:
    with Gunicorn(bundle, tmp / "reload", workers=2) as srv:
        thread, load = in_background(srv.port, 6, rate)
        time.sleep(2)
        for target in (other, bundle, other):
            status, body = request(
                srv.port,
                "POST",
                "/admin/reload",
                json.dumps({"model_dir": str(target)}).encode(),
                {"Authorization": f"Bearer {ADMIN_TOKEN}"},
            )
            if status != 200:
                raise SystemExit(f"reload failed: {status} {body!r}")
            time.sleep(1)
        thread.join()
    return {"reloads": 3, "failed_requests": failures(load), "requests": load["requests"]}


def fault_bad_bundle(bundle: Path, tmp: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    corrupt = tmp / "corrupt-bundle"
    shutil.copytree(bundle, corrupt)
    (corrupt / "model.json").write_text("{ not a model")
    for name, model_dir in (("missing", tmp / "no-such-bundle"), ("corrupt", corrupt)):
        srv = Gunicorn(model_dir, tmp / f"bad-{name}", workers=1)
        try:
            srv.start(timeout=8)
            out[name] = {"became_ready": True}
        except AssertionError as e:
            said = re.search(r"not serving: ([^\\\"]+)", str(e))
            out[name] = {"became_ready": False, "says": said.group(1) if said else str(e)[:160]}
        finally:
            srv.__exit__(None, None, None)
    return out


def _post(port: int, path: str, body: bytes) -> tuple[int, float]:
    """(status, seconds); status -1 when no answer came within twice the request timeout."""
    t0 = time.monotonic()
    try:
        status, _ = request(port, "POST", path, body, timeout=2 * REQUEST_TIMEOUT_S)
    except OSError:
        status = -1
    return status, time.monotonic() - t0


def hostile_burst(bundle: Path, tmp: Path, rate: float, seconds: float = 10) -> dict[str, Any]:
    bodies = worst_case_bodies(MAX_BODY_BYTES, MAX_BATCH_ROWS)
    answers: dict[str, list[tuple[int, float]]] = {name: [] for name in bodies}
    with Gunicorn(bundle, tmp / "hostile", workers=2) as srv:
        before = wrk(srv.port, 5, rate)
        thread, during = in_background(srv.port, seconds, rate)
        time.sleep(0.5)
        with ThreadPoolExecutor(2) as pool:
            while thread.is_alive():
                for name, (path, body) in bodies.items():
                    pair = [pool.submit(_post, srv.port, path, body) for _ in range(2)]
                    answers[name] += [f.result() for f in pair]
        thread.join()
    return {
        "p99_before_ms": before["p99_ms"],
        "p99_during_ms": during["p99_ms"],
        "normal_requests": during["requests"],
        "normal_failed": failures(during),
        "deadline_s": REQUEST_TIMEOUT_S,
        "bodies": {
            name: {
                "sent": len(got),
                "statuses": sorted({status for status, _ in got}),
                "max_s": round(max(t for _, t in got), 3),
                "median_s": round(statistics.median(t for _, t in got), 3),
            }
            for name, got in answers.items()
        },
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", default="models/bundle")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--load-fraction", type=float, default=0.7, help="fixed rate as a share of capacity")
    args = ap.parse_args()
    bundle = (ROOT / args.model_dir).resolve()
    if shutil.which("wrk") is None:
        sys.exit("soak: wrk is not installed; run `make system` (Debian package wrk)")
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="soak-") as tmpdir:
        tmp = Path(tmpdir)
        other = tmp / "bundle-b"
        shutil.copytree(bundle, other)  # a second bundle path to reload to and from
        with Gunicorn(bundle, tmp / "load", workers=2) as srv:
            wrk(srv.port, 3)  # warm-up
            cap = wrk(srv.port, 8)
            rate = round(cap["rate"] * args.load_fraction)
            print(
                f"soak: capacity ≈ {cap['rate']:.0f} req/s; holding {rate} req/s for {args.seconds:.0f} s …",
                file=sys.stderr,
            )
            # wrk paces by a fixed pause after each answer; calibrate the pause on a short trial.
            trial = wrk(srv.port, 3, rate)
            load = wrk(srv.port, args.seconds, rate * rate / max(trial["rate"], 1.0))
        results["capacity"] = cap
        results["load"] = {**load, "target_rate": rate, "seconds": args.seconds, "failed": failures(load)}
        fault_rate = rate * 0.5
        print("soak: faults under load …", file=sys.stderr)
        results["sigterm"] = fault_sigterm(bundle, tmp, fault_rate)
        results["kill_worker"] = fault_kill_worker(bundle, tmp, fault_rate)
        results["reload"] = fault_reload(bundle, other, tmp, fault_rate)
        results["bad_bundle"] = fault_bad_bundle(bundle, tmp)
        print("soak: hostile burst …", file=sys.stderr)
        results["hostile"] = hostile_burst(bundle, tmp, fault_rate)
    report(results)
    out = ROOT / ".bench" / "soak.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    ok = (
        results["load"]["failed"] == 0
        and results["sigterm"]["exit_code"] == 0
        and results["sigterm"]["in_flight_answered_200"] == results["sigterm"]["in_flight"]
        and results["kill_worker"]["replacement_ready_s"] <= 1.0
        and results["kill_worker"]["failed_requests"] <= CONNECTIONS
        and results["reload"]["failed_requests"] == 0
        and not any(v["became_ready"] for v in results["bad_bundle"].values())
        and hostile_ok(results["hostile"])
    )
    print("\nsoak: all checks passed" if ok else "\nsoak: some checks FAILED (see above)")
    return 0 if ok else 1


def hostile_ok(h: dict[str, Any]) -> bool:
    """Every worst-case body refused (4xx) within the deadline; no normal request failed, and
    normal traffic's p99 grew by at most the time one worst-case body holds a worker."""
    slowest = max(b["max_s"] for b in h["bodies"].values())
    return (
        h["normal_failed"] == 0
        and all(b["statuses"] and all(400 <= s < 500 for s in b["statuses"]) for b in h["bodies"].values())
        and slowest <= h["deadline_s"]
        and h["p99_during_ms"] <= h["p99_before_ms"] + 1000 * slowest
    )


def report(r: dict[str, Any]) -> None:
    ld, st, kw, rl, bad = r["load"], r["sigterm"], r["kill_worker"], r["reload"], r["bad_bundle"]
    grace, conns = st["graceful_timeout_s"], kw["open_connections_per_worker_max"]
    rows = [
        (
            "capacity, 2 workers, 1-row, 8 connections",
            f"{r['capacity']['rate']:.0f} req/s (p99 {r['capacity']['p99_ms']:.1f} ms)",
        ),
        (
            f"fixed-rate load, {ld['seconds']:.0f} s at {ld['target_rate']} req/s target",
            f"{ld['rate']:.0f} req/s achieved, {ld['requests']:,} requests, {ld['failed']} failed, "
            f"p50 {ld['p50_ms']:.2f} ms, p99 {ld['p99_ms']:.2f} ms",
        ),
        (
            "SIGTERM to the master under load",
            f"{st['in_flight_answered_200']}/{st['in_flight']} in-flight answered 200, exit "
            f"{st['exit_code']} after {st['seconds_to_exit']} s (graceful timeout {grace} s)",
        ),
        (
            "kill -9 of a worker under load",
            f"replacement ready in {kw['replacement_ready_s']} s; {kw['failed_requests']} of "
            f"{kw['requests']:,} requests failed (≤ {conns} open connections)",
        ),
        ("3 model reloads under load", f"{rl['failed_requests']} of {rl['requests']:,} requests failed"),
        (
            "missing bundle at start",
            f"ready: {bad['missing']['became_ready']}; {bad['missing'].get('says', '')}",
        ),
        (
            "corrupt bundle at start",
            f"ready: {bad['corrupt']['became_ready']}; {bad['corrupt'].get('says', '')}",
        ),
    ]
    h = r["hostile"]
    rows.append(
        (
            "hostile burst: normal traffic's p99 (fixed rate) before → during",
            f"{h['p99_before_ms']:.1f} ms → {h['p99_during_ms']:.1f} ms; {h['normal_failed']} of "
            f"{h['normal_requests']:,} failed",
        )
    )
    rows += [
        (
            f"hostile burst: {name}",
            f"{'/'.join(map(str, b['statuses']))} in {b['median_s']:.3f} s median, {b['max_s']:.3f} s max "
            f"({b['sent']} sent, deadline {h['deadline_s']:.0f} s)",
        )
        for name, b in h["bodies"].items()
    ]
    print("\n| check | figure |\n|---|---|")
    for check, figure in rows:
        print(f"| {check} | {figure} |")


if __name__ == "__main__":
    sys.exit(main())
