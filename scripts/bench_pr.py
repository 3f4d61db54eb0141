"""Benchmark: the pull-request path as pr.yml runs it, from `make data` to the gate verdict.

Two pull requests against this repository's HEAD (params.yaml as committed): (a) a `train` param
change (learning_rate) and (b) the month after the window added (`flightdelay data add`, window
end moved). Each is timed step by step in a fresh clone, twice:

- cold: an empty .dvc/cache (a PR without main's cache: every stage runs), and the gate decides
  afresh (its reusable verdict deleted), as the report and the gate each scored before;
- cached: main's .dvc/cache copied in first (outputs and run cache, as pr.yml restores it), so
  `dvc repro` restores unchanged stages and the gate reuses the report's verdict.

The PR commits are made beforehand in an author's clone (params, data, and the dvc.lock its own
`dvc repro` wrote, so `lock check` has what a real PR has); main's cache comes from a clone where
HEAD was reproduced; main's bundle is the champion. Clones run this environment's commands
(PATH) with their own source (PYTHONPATH), so no environment is built inside the timing.

    python scripts/bench_pr.py                  (make bench-pr; raw figures in .bench/pr.json)
    python scripts/bench_pr.py --only-param-change      (the param change alone: half the time)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TARGET_CACHED_S = 45.0  # a `train` param change, `make data` to gate verdict, with main's cache
TARGET_SPEEDUP = 2.0  # … and this many times faster than without it
MUST_RESTORE = ("prepare", "validate", "featurize")  # for a `train` param change
TOTAL_STEPS = ("data", "repro", "backtest", "report", "gate")  # `make data` … gate verdict
GATE_FAILED = 6  # a verdict that says "do not ship" is still a verdict
# DVC 3 (dvc/stage/cache.py, dvc/stage/run.py):
RESTORED = re.compile(r"Stage '([\w.@:-]+)' is cached - skipping run, checking out outputs")
RAN = re.compile(r"Running stage '([\w.@:-]+)'")
# A stage whose only output is git-tracked (validate) is already in the clone: once its deps are
# restored it has nothing to check out, and DVC says it did not change.
UNCHANGED = re.compile(r"Stage '([\w.@:-]+)' didn't change, skipping")


@dataclass
class Run:
    case: str  # "param change" | "new month"
    cache: str  # "cold" | "main's cache"
    seconds: dict[str, float] = field(default_factory=dict)
    cache_copy_s: float = 0.0
    ran: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    restored_lines: list[str] = field(default_factory=list)
    repro_log: str = ""  # dvc repro's output, kept in .bench/pr.json
    gate_reused: bool = False
    verdict: str = ""
    lock_check: str = ""

    @property
    def total(self) -> float:
        return sum(self.seconds[s] for s in TOTAL_STEPS)


def env_for(repo: Path) -> dict[str, str]:
    """This environment's tools first, the clone's own source, nothing pointing elsewhere."""
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "DVC_REMOTE_URL")}
    return env | {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "PYTHONPATH": str(repo / "src"),
        "DVC_NO_ANALYTICS": "1",
        "FLIGHTDELAY_TRACKING": "off",  # as pr.yml: a pull request's training is not logged
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
    }


def sh(
    cmd: list[str], repo: Path, ok: tuple[int, ...] | None = (0,)
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Seconds and the finished process; a return code outside `ok` (None: any) ends the benchmark."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=repo, env=env_for(repo), capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    if ok is not None and proc.returncode not in ok:
        sys.exit(
            f"bench-pr: `{' '.join(cmd)}` failed in {repo} ({proc.returncode}):\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return seconds, proc


def say(msg: str) -> None:
    print(f"bench-pr: {msg}", file=sys.stderr, flush=True)


def clone(src: Path, dest: Path) -> Path:
    subprocess.run(["git", "clone", "--quiet", str(src), str(dest)], check=True)
    return dest


def replace_once(path: Path, pattern: str, repl: str) -> None:
    text, n = re.subn(pattern, repl, path.read_text(), count=2, flags=re.MULTILINE)
    if n != 1:
        sys.exit(f"bench-pr: expected one match of {pattern!r} in {path}, found {n}")
    path.write_text(text)


def next_month(month: str) -> str:
    year, m = (int(x) for x in month.split("-"))
    return f"{year + m // 12}-{m % 12 + 1:02d}"


def author_pr(main: Path, dest: Path, case: str) -> str:
    """The PR's commit as its author would push it: the change and the dvc.lock it reproduces."""
    repo = clone(main, dest)
    shutil.copytree(main / ".dvc" / "cache", repo / ".dvc" / "cache")  # speeds the author's repro only
    params = yaml.safe_load((repo / "params.yaml").read_text())
    if case == "param change":
        lr = float(params["train"]["learning_rate"])
        # two spaces: the `train` section's key, not `tune.space.learning_rate` below it
        replace_once(repo / "params.yaml", r"^(  learning_rate:[ \t]*)\S+", rf"\g<1>{round(lr * 0.8, 6)}")
        what = f"train.learning_rate {lr} → {round(lr * 0.8, 6)}"
    else:
        end = str(params["data"]["window"]["end"])
        month = next_month(end)
        sh(["flightdelay", "data", "add", month], repo)
        replace_once(repo / "params.yaml", rf'^(\s+end:\s*)"?{end}"?', rf'\g<1>"{month}"')
        what = f"{month} added, data.window.end {end} → {month}"
    sh(["flightdelay", "data", "restore"], repo)
    sh(["dvc", "repro", "--quiet"], repo)
    sh(["git", "add", "-A"], repo)
    sh(["git", "commit", "--quiet", "-m", f"PR: {what}"], repo)
    return what


def time_path(pr: Path, dest: Path, run: Run, *, base: str, champion: Path, main_cache: Path | None) -> Run:
    repo = clone(pr, dest)
    if main_cache is not None:  # what actions/cache/restore does in pr.yml, before `make data`
        t0 = time.perf_counter()
        shutil.copytree(main_cache, repo / ".dvc" / "cache")
        run.cache_copy_s = time.perf_counter() - t0
    candidate = ["--base", base, "--champion-bundle", str(champion)]
    run.seconds["data"], _ = sh(["flightdelay", "data", "restore"], repo)
    run.seconds["repro"], repro = sh(["dvc", "repro"], repo)
    log = repro.stdout + repro.stderr
    run.repro_log = log[-20000:]
    run.ran = RAN.findall(log)
    run.restored = RESTORED.findall(log)
    run.unchanged = UNCHANGED.findall(log)
    run.restored_lines = [m.group(0) for m in (*RESTORED.finditer(log), *UNCHANGED.finditer(log))]
    # pr.yml's "backtest (re-run when the PR changes its report)": the gate decides on it
    unchanged = sh(["git", "diff", "--quiet", base, "HEAD", "--", "reports/backtest.json"], repo, ok=None)[1]
    if unchanged.returncode == 0:
        run.seconds["backtest"] = 0.0
    else:
        run.seconds["backtest"], _ = sh(["dvc", "repro", "--force", "--single-item", "backtest"], repo)
    run.seconds["report"], _ = sh(["flightdelay", "report", "pr", *candidate], repo)
    if main_cache is None:  # today's path: the gate re-scores what the report scored
        (repo / "reports" / "pr" / "gate.json").unlink()
    run.seconds["gate"], gate = sh(["flightdelay", "gate", *candidate], repo, ok=(0, GATE_FAILED))
    run.gate_reused = "reused, nothing re-scored" in gate.stdout + gate.stderr
    run.verdict = "pass" if gate.returncode == 0 else "fail (candidate must not ship)"
    run.seconds["lock-check"], lock = sh(["flightdelay", "lock", "check"], repo, ok=None)
    run.lock_check = "ok" if lock.returncode == 0 else f"FAILED: {(lock.stdout + lock.stderr).strip()[-300:]}"
    steps = ", ".join(f"{k} {v:.1f}" for k, v in run.seconds.items())
    say(
        f"{run.case}, {run.cache}: {run.total:.1f} s to the verdict ({steps} s); "
        f"ran {run.ran}; restored {run.restored}; unchanged {run.unchanged}"
    )
    return run


def report(runs: list[Run], changes: dict[str, str]) -> bool:
    steps = (*TOTAL_STEPS, "lock-check")
    print("\nPR path as pr.yml runs it, seconds (shared 2-core machine: compare within one run)")
    for case, what in changes.items():
        print(f"  {case}: {what}")
    head = f"{'case':<30}" + "".join(f"{s:>11}" for s in steps) + f"{'total':>9}{'cache copy':>12}"
    print(f"\n{head}\n" + "-" * len(head))
    for r in runs:
        cells = "".join(f"{r.seconds[s]:>11.1f}" for s in steps)
        copy = f"{r.cache_copy_s:>12.1f}" if r.cache != "cold" else f"{'–':>12}"
        print(f"{r.case + ', ' + r.cache:<30}{cells}{r.total:>9.1f}{copy}")
    print("total = data + repro + backtest + report + gate (`make data` to the verdict); lock check and")
    print("the cache copy (actions/cache/restore in CI) are shown apart.\n")
    for r in runs:
        gate = "reused the report's verdict" if r.gate_reused else "re-scored"
        print(
            f"{r.case}, {r.cache}: ran {', '.join(r.ran) or 'nothing'}; restored from the run cache "
            f"{', '.join(r.restored) or 'nothing'}; unchanged {', '.join(r.unchanged) or 'nothing'}; "
            f"gate {gate}; "
            f"verdict {r.verdict}; lock check {r.lock_check}"
        )
    by = {(r.case, r.cache): r for r in runs}
    print()
    for case in changes:
        cold, cached = by[(case, "cold")], by[(case, "main's cache")]
        ratio = cold.total / cached.total
        print(f"{case}: cold {cold.total:.1f} s / with main's cache {cached.total:.1f} s = {ratio:.2f}×")
    param = by[("param change", "main's cache")]
    print("\nDVC's own lines for the param change with main's cache:")
    for line in param.restored_lines:
        print(f"  {line}")
    skipped = {*param.restored, *param.unchanged}
    restored = all(s in skipped and s not in param.ran for s in MUST_RESTORE)
    speedup = by[("param change", "cold")].total / param.total
    targets = [
        (
            param.total <= TARGET_CACHED_S,
            "param change, make data → verdict, main's cache",
            f"≤ {TARGET_CACHED_S:.0f} s",
            f"{param.total:.1f} s",
        ),
        (
            speedup >= TARGET_SPEEDUP,
            "param change, cold / main's cache",
            f"≥ {TARGET_SPEEDUP:.0f}×",
            f"{speedup:.2f}×",
        ),
        (
            restored,
            f"param change: {'/'.join(MUST_RESTORE)} not run",
            "all three",
            ", ".join(s for s in MUST_RESTORE if s in skipped) or "none",
        ),
    ]
    print("\ntargets:")
    for ok, text, target, got in targets:
        print(f"  {'met   ' if ok else 'MISSED'} {text:<50} target {target:<10} got {got}")
    return restored


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--only-param-change",
        action="store_true",
        help="time the param change alone (its targets; the new month is not run)",
    )
    args = ap.parse_args(argv)
    cases = ("param change",) if args.only_param_change else ("param change", "new month")
    base = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    runs: list[Run] = []
    changes: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="bench-pr-") as tmp:
        work = Path(tmp)
        say(f"main: cloning {base[:12]} and reproducing it (main's CI fills its DVC cache) …")
        main_repo = clone(ROOT, work / "main")
        sh(["flightdelay", "data", "restore"], main_repo)
        sh(["dvc", "repro", "--quiet"], main_repo)
        champion = work / "champion"  # main's model as the released champion (the release asset)
        shutil.copytree(main_repo / "models" / "bundle", champion)
        for case in cases:
            say(f"{case}: the author's commit (untimed) …")
            pr = work / f"author-{case.replace(' ', '-')}"
            changes[case] = author_pr(main_repo, pr, case)
            for cache in ("cold", "main's cache"):
                say(f"{case}, {cache}: timing data, repro, backtest, report, gate, lock check …")
                runs.append(
                    time_path(
                        pr,
                        work / f"{case}-{cache}".replace(" ", "-").replace("'", ""),
                        Run(case, cache),
                        base=base,
                        champion=champion,
                        main_cache=main_repo / ".dvc" / "cache" if cache != "cold" else None,
                    )
                )
    ok = report(runs, changes)
    out = ROOT / ".bench" / "pr.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {"base": base, "changes": changes, "runs": [asdict(r) | {"total": r.total} for r in runs]},
            indent=2,
        )
        + "\n"
    )
    print(f"\nraw figures: {out.relative_to(ROOT)}")
    if not ok:
        print(
            "bench-pr: the param change re-ran a stage that main's run cache should have restored",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
