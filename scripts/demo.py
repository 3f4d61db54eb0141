"""`make demo`: the whole GitOps lifecycle on this machine, offline.

Every step runs the same CLI commands the workflows run, in a scratch clone under `.demo/`
(local DVC remote, local MLflow, the service on loopback):

  1 setup      clone, restore the data from the embedded source, reproduce main
  2 open PR    a branch that changes a param: dvc repro, gate, PR report
  3 merge      release v1 (MLflow version + alias, git tag, model card), bump staging, render it
  4 serve      gunicorn on the released bundle; /readyz and /v1/model
  5 traffic    replay real July 2013 flights through the API; the prediction log fills
  6 drift      scheduled drift check on that log → issue body + HTML report
  7 retrain    branch with July's labels → PR pipeline + report → release v2 → in-process reload
  8 summary    what happened, where each artefact is, timings

A second run starts clean (it says so). The first failing step stops the demo with its message,
and no process is left running.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
FAST_TRAIN = {"n_estimators": 40, "max_depth": 4}
ADMIN_TOKEN = "demo-admin-token"  # noqa: S105 - a throwaway token for a loopback-only demo service


class DemoFailed(Exception):
    """A step failed; the message says which command and why."""


@dataclass
class Demo:
    work: Path
    fast: bool
    repo: Path = field(init=False)
    env: dict[str, str] = field(init=False)
    artefacts: dict[str, str] = field(default_factory=dict)
    timings: list[tuple[str, float, str]] = field(default_factory=list)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    port: int = 0
    july: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.repo = self.work / "repo"
        self.env = {
            **os.environ,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "MLFLOW_TRACKING_URI": f"sqlite:///{self.work / 'mlflow.db'}",
            "DVC_REMOTE_URL": str(self.work / "dvc-remote"),
            "DVC_NO_ANALYTICS": "1",
            "GIT_AUTHOR_NAME": "flightdelay demo",
            "GIT_AUTHOR_EMAIL": "demo@flightdelay.invalid",
            "GIT_COMMITTER_NAME": "flightdelay demo",
            "GIT_COMMITTER_EMAIL": "demo@flightdelay.invalid",
            "PYTHONUNBUFFERED": "1",
        }

    # --- plumbing -------------------------------------------------------------------------
    def sh(
        self, *cmd: str, ok: Sequence[int] = (0,), quiet: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in the scratch clone; echo it; fail the step with its output."""
        print(f"    $ {' '.join(cmd)}", flush=True)
        cwd = self.repo if self.repo.exists() else self.work
        proc = subprocess.run(cmd, cwd=cwd, env=self.env, capture_output=True, text=True, check=False)
        if proc.returncode not in ok:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
            raise DemoFailed(f"`{' '.join(cmd)}` exited {proc.returncode}:\n{tail}")
        if not quiet:
            for line in (proc.stdout + proc.stderr).strip().splitlines()[-12:]:
                print(f"      {line}", flush=True)
        return proc

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def http(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url(path),
            data=data,
            method=method,
            headers={"content-type": "application/json", **(headers or {})},
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
        return json.loads(raw) if raw[:1] in (b"{", b"[") else raw.decode()

    def stop_processes(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + 25
        for p in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.procs.clear()

    # --- steps ----------------------------------------------------------------------------
    def step_setup(self) -> str:
        self.sh("git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(self.repo))
        self.sh("git", "config", "user.name", "flightdelay demo")
        self.sh("git", "config", "user.email", "demo@flightdelay.invalid")
        self.sh("flightdelay", "data", "restore")
        if self.fast:
            self._edit_params(
                {"data": {"window": {"start": "2013-05", "end": "2013-06"}}, "train": FAST_TRAIN}
            )
            self.sh("git", "commit", "-qam", "demo: reduced configuration (2 months, small model)")
        self.sh("dvc", "repro", "--quiet")
        self.sh("git", "add", "-A")
        self.sh("git", "commit", "-qm", "main: reproduce the pipeline", "--allow-empty")
        self.sh("dvc", "push", "--quiet")
        metrics = json.loads((self.repo / "reports/metrics.json").read_text())
        return f"main reproduced: holdout {metrics['holdout_months'][0]} ROC AUC {metrics['roc_auc']:.4f}"

    def _edit_params(self, changes: dict[str, dict[str, Any]]) -> None:
        import yaml

        path = self.repo / "params.yaml"
        params = yaml.safe_load(path.read_text())
        for section, values in changes.items():
            params[section] = {**params.get(section, {}), **values}
        path.write_text(yaml.safe_dump(params, sort_keys=False))

    def _pr_pipeline(self, label: str) -> str:
        """What the PR workflow runs: dvc repro, the gate, the report (outputs outside the tree)."""
        self.sh("dvc", "repro", "--quiet")
        report_dir = self.work / f"pr-report-{label}"
        gate_json = self.work / f"gate-{label}.json"
        gate = self.sh("flightdelay", "gate", "--base", "main", "--out", str(gate_json), ok=(0, 6))
        self.sh("flightdelay", "report", "pr", "--base", "main", "--out", str(report_dir), quiet=True)
        self.artefacts[f"PR report ({label})"] = str(report_dir / "report.md")
        if gate.returncode != 0:
            raise DemoFailed(f"the gate refused the {label} candidate; see {report_dir / 'report.md'}")
        self.sh("git", "add", "-A")
        self.sh("git", "commit", "-qm", f"{label}: dvc repro")
        return "gate passed"

    def step_open_pr(self) -> str:
        self.sh("git", "checkout", "-q", "-b", "demo/tune-learning-rate")
        self._edit_params({"train": {"learning_rate": 0.12}})
        self.sh("git", "commit", "-qam", "train: learning_rate 0.1 → 0.12")
        verdict = self._pr_pipeline("tune")
        return f"PR #1 (learning_rate 0.12): {verdict}; report in {self.artefacts['PR report (tune)']}"

    def _merge_and_release(self, branch: str, pr: int) -> str:
        self.sh("git", "checkout", "-q", "main")
        self.sh("git", "merge", "--no-ff", "-q", branch, "-m", f"Merge pull request #{pr} from {branch}")
        self.sh("flightdelay", "release", "--pr", str(pr))
        self.sh("flightdelay", "release", "bump", "--env", "staging")
        self.sh("flightdelay", "release", "verify")
        rendered = self.sh("kubectl", "kustomize", "deploy/overlays/staging", quiet=True).stdout
        out = self.work / "rendered" / f"staging-v{pr}.yaml"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(rendered)
        self.artefacts[f"rendered staging overlay (release {pr})"] = str(out)
        images = sorted(
            {line.split("image:")[1].strip() for line in rendered.splitlines() if "image:" in line}
        )
        return f"staging runs {', '.join(images)}"

    def step_merge(self) -> str:
        return self._merge_and_release("demo/tune-learning-rate", 1)

    def step_serve(self) -> str:
        self.port = _free_port()
        log = self.work / "predictions.jsonl"
        env = {
            **self.env,
            "MODEL_DIR": str(self.repo / "build/model"),
            "PREDICTION_LOG": str(log),
            "PREDICTION_LOG_SAMPLE_RATE": "1.0",
            "ADMIN_TOKEN": ADMIN_TOKEN,
            "WEB_CONCURRENCY": "2",
            "PROMETHEUS_MULTIPROC_DIR": str(self.work / "prometheus"),
        }
        shutil.rmtree(self.work / "prometheus", ignore_errors=True)
        (self.work / "prometheus").mkdir()
        # The C scoring kernel, as the image build does; without a compiler the numpy forest serves.
        self.sh("python", "-m", "api.ckernel", ok=(0, 1))
        server_log = (self.work / "gunicorn.log").open("wb")
        cmd = ["gunicorn", "-c", "api/gunicorn.conf.py", "--bind", f"127.0.0.1:{self.port}", "api.main:app"]
        print(f"    $ {' '.join(cmd)}", flush=True)
        self.procs.append(
            subprocess.Popen(
                cmd,
                cwd=self.repo,
                env=env,
                stdout=server_log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        t0 = time.monotonic()
        while True:
            with contextlib.suppress(OSError, urllib.error.URLError):
                if self.http("GET", "/readyz") is not None:
                    break
            if self.procs[-1].poll() is not None or time.monotonic() - t0 > 30:
                raise DemoFailed(f"the service did not become ready; see {self.work / 'gunicorn.log'}")
            time.sleep(0.1)
        ready = time.monotonic() - t0
        model = self.http("GET", "/v1/model")
        self.artefacts["prediction log"] = str(log)
        return (
            f"ready after {ready:.1f}s on 127.0.0.1:{self.port}, serving model version "
            f"{model['version']} (scorer: {model['scorer']})"
        )

    def step_traffic(self) -> str:
        rows = self.july = _july_rows(self.repo, limit=8000 if self.fast else None)
        t0 = time.monotonic()
        for i in range(0, len(rows), 100):
            self.http("POST", "/v1/predict", {"flights": rows[i : i + 100]})
        for row in rows[:200]:
            self.http("POST", "/v1/predict", {"flights": [row]})
        took = time.monotonic() - t0
        metrics = self.http("GET", "/metrics")
        shown = [
            line
            for line in metrics.splitlines()
            if line.startswith(
                (
                    "flightdelay_http_requests_total",
                    "flightdelay_model_info",
                    "flightdelay_prediction_score_count",
                )
            )
        ]
        for line in shown[:8]:
            print(f"      {line}")
        time.sleep(1.0)  # the prediction log is written off the request path
        logged = sum(1 for _ in (self.work / "predictions.jsonl").open())
        return f"replayed {len(rows):,} July flights in {took:.1f}s; prediction log has {logged:,} lines"

    def step_drift(self) -> str:
        out = self.work / "drift"
        proc = self.sh(
            "flightdelay",
            "drift",
            "check",
            "--log",
            str(self.work / "predictions.jsonl"),
            "--out",
            str(out),
            "--history",
            str(self.work / "drift-history.json"),
            ok=(0, 10, 11),
        )
        summary = json.loads((out / "summary.json").read_text())
        self.artefacts["drift HTML report"] = str(out / "report.html")
        self.artefacts["drift issue body"] = str(out / "issue.md")
        verdict = {0: "no drift", 10: "drift", 11: "not enough data"}[proc.returncode]
        drifted = ", ".join(summary.get("drifted_features", [])[:6])
        return f"{verdict} (exit {proc.returncode}); drifted: {drifted or 'none'}"

    def step_retrain(self) -> str:
        self.sh(
            "flightdelay",
            "retrain",
            "prepare",
            "--months",
            "2013-07",
            "--evidence",
            str(self.work / "drift" / "summary.json"),
        )
        branch = self.sh("git", "rev-parse", "--abbrev-ref", "HEAD", quiet=True).stdout.strip()
        self._pr_pipeline("retrain")
        verdict = json.loads((self.work / "gate-retrain.json").read_text())
        cand, champ = verdict["candidate"], verdict["champion"]
        month = ", ".join(cand["holdout_months"])
        compared = (
            f"on {month} (neither trained on it) the retrained candidate scores ROC AUC "
            f"{cand['roc_auc']:.4f} vs the stale champion v{champ['version']} "
            f"{champ['metrics']['roc_auc']:.4f} ({cand['roc_auc'] - champ['metrics']['roc_auc']:+.4f})"
        )
        released = self._merge_and_release(branch, 2)
        version = self._reload_under_load()
        return f"{compared}; {released}; reload → /v1/model shows {version}"

    def _reload_under_load(self) -> str:
        failures, sent = 0, 0
        stop = threading.Event()
        row = self.july[0]  # the traffic step already read July

        def hammer() -> None:
            nonlocal failures, sent
            while not stop.is_set():
                try:
                    self.http("POST", "/v1/predict", {"flights": [row]})
                except (OSError, urllib.error.URLError):
                    failures += 1
                sent += 1

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        self.http(
            "POST",
            "/admin/reload",
            {"model_dir": str(self.repo / "build/model")},
            headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        deadline = time.monotonic() + 15
        version = ""
        while time.monotonic() < deadline:
            versions = {self.http("GET", "/v1/model")["version"] for _ in range(6)}
            if len(versions) == 1 and "2" in next(iter(versions)):
                version = next(iter(versions))
                break
            time.sleep(0.2)
        time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join()
        if not version:
            raise DemoFailed("the service did not switch to release 2 within 15 s of the reload")
        if failures:
            raise DemoFailed(f"{failures} of {sent} requests failed during the reload")
        return f"version {version} ({sent:,} requests during the reload, 0 failed)"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _july_rows(repo: Path, limit: int | None) -> list[dict[str, Any]]:
    """Real July 2013 flights as API requests (input columns only)."""
    import tempfile

    import pandas as pd

    from flightdelay import features, source
    from flightdelay.params import load_params
    from flightdelay.prepare import prepare_month

    with tempfile.TemporaryDirectory() as tmp:
        source.materialize("2013-07", Path(tmp))
        df, _ = prepare_month("2013-07", Path(tmp), load_params(repo / "params.yaml"))
    df = df.loc[~df["is_duplicate"], list(features.INPUT_COLUMNS)]
    if limit:
        df = df.sample(n=min(limit, len(df)), random_state=7)
    df = df.astype(object).where(pd.notna(df), None)
    return list(df.to_dict("records"))


STEPS: list[tuple[str, str, Callable[[Demo], str]]] = [
    ("1", "setup: clone, restore data, reproduce main", Demo.step_setup),
    ("2", "open a PR: change a param, dvc repro, gate, report", Demo.step_open_pr),
    ("3", "merge: release v1, bump staging, render", Demo.step_merge),
    ("4", "serve the released bundle with gunicorn", Demo.step_serve),
    ("5", "replay July flights as traffic", Demo.step_traffic),
    ("6", "scheduled drift check on the prediction log", Demo.step_drift),
    ("7", "retrain with July → PR → release v2 → reload", Demo.step_retrain),
]


@contextlib.contextmanager
def _cleanup(demo: Demo) -> Iterator[None]:
    def on_signal(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, on_signal)
    try:
        yield
    finally:
        demo.stop_processes()
        signal.signal(signal.SIGTERM, old)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default=str(ROOT / ".demo"), help="scratch directory (default .demo/)")
    ap.add_argument("--fast", action="store_true", help="reduced configuration (2 months, small model)")
    args = ap.parse_args(argv)
    work = Path(args.work).resolve()
    if work.exists():
        print(f"demo: a previous run is in {work}; starting clean", flush=True)
        shutil.rmtree(work)
    work.mkdir(parents=True)
    demo = Demo(work=work, fast=args.fast)
    t_all = time.monotonic()
    with _cleanup(demo):
        for number, title, fn in STEPS:
            print(f"\n[{number}/8] {title}", flush=True)
            t0 = time.monotonic()
            try:
                result = fn(demo)
            except (DemoFailed, OSError, urllib.error.URLError, KeyError, ValueError) as e:
                print(f"\ndemo: step {number} ({title}) failed:\n{e}", file=sys.stderr)
                return 1
            took = time.monotonic() - t0
            demo.timings.append((f"{number} {title}", took, result))
            print(f"  ✓ {result}  ({took:.1f}s)", flush=True)
    _summary(demo, time.monotonic() - t_all)
    return 0


def _summary(demo: Demo, total: float) -> None:
    print("\n[8/8] summary")
    for name, took, result in demo.timings:
        print(f"  {took:6.1f}s  {name}\n          {result}")
    print(f"  {total:6.1f}s  total\n\nartefacts:")
    demo.artefacts["model cards"] = str(demo.repo / "models/cards")
    demo.artefacts["MLflow UI"] = (
        f"mlflow ui --backend-store-uri {demo.env['MLFLOW_TRACKING_URI']} "
        f"(artifacts under {demo.repo / 'mlruns'})"
    )
    for name, where in demo.artefacts.items():
        print(f"  {name:<40} {where}")
    (demo.work / "summary.json").write_text(
        json.dumps(
            {
                "timings": [{"step": n, "seconds": round(t, 1), "result": r} for n, t, r in demo.timings],
                "total_seconds": round(total, 1),
                "artefacts": demo.artefacts,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    sys.exit(main())
