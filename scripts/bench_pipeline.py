"""Benchmark: cold `dvc repro` wall time and peak RSS for the 6-month window and the full year,
plus a no-op repro; each in a fresh temporary repository with the project's real pipeline."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline_repos import make_pipeline_repo, repo_env

TARGETS = {"6 months": 60.0, "full year": 120.0, "no-op": 3.0}
RSS_TARGET_MB = 2048.0
FULL_TRAIN = {"n_estimators": 300, "max_depth": 6}


# Runs the command in a fresh process and prints the peak RSS of its largest descendant, so each
# measurement has its own peak (RUSAGE_CHILDREN of this process would keep the maximum so far).
_WRAPPER = (
    "import resource, subprocess, sys; rc = subprocess.run(sys.argv[1:]).returncode; "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(rc)"
)


def timed(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and the peak RSS (MB) of the largest process the command ran."""
    env = {
        **os.environ,
        **repo_env(cwd),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *cmd], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    peak_kb = int(proc.stderr.strip().splitlines()[-1])
    return wall, peak_kb / 1024


def main() -> int:
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        for label, months in (
            ("6 months", [f"2013-{m:02d}" for m in range(1, 7)]),
            ("full year", [f"2013-{m:02d}" for m in range(1, 13)]),
        ):
            print(f"bench: preparing a repository with {len(months)} partitions …", file=sys.stderr)
            repo = make_pipeline_repo(Path(tmp) / label.replace(" ", "-"), months, FULL_TRAIN)
            print(f"bench: cold dvc repro ({label}) …", file=sys.stderr)
            wall, rss = timed(["dvc", "repro", "--quiet"], repo)
            rows.append((f"cold repro, {label}", wall, TARGETS[label], rss))
            if label == "6 months":
                wall, rss = timed(["dvc", "repro", "--quiet"], repo)
                rows.append(("no-op repro", wall, TARGETS["no-op"], rss))
    print(f"\n{'run':<24}{'wall s':>8}{'target s':>10}{'ratio':>8}{'peak RSS MB':>13}{'RSS target':>12}")
    ok = True
    for name, wall, target, rss in rows:
        ok &= wall <= target and rss <= RSS_TARGET_MB
        print(f"{name:<24}{wall:>8.1f}{target:>10.0f}{wall / target:>8.2f}{rss:>13.0f}{RSS_TARGET_MB:>12.0f}")
    print("\nall within target" if ok else "\nsome runs missed their target (ratio > 1)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
