"""Benchmark: `monitor outcomes` on 1×, 10× and 100× a month of prediction log, each in a fresh
process (its own peak RSS).

Real July 2013 flights from the embedded source (~29k), scored by the workspace bundle, written as
the API's prediction log; the outcomes are July's raw partition. Each run starts from an empty
joined store and is timed end to end: read the log in batches and join, store, every figure with
its interval per day and per week, write the JSON and the Prometheus text. Two kinds of growth:
- every line joins: the same flights predicted n times (the joined store grows with the log);
- one month joins, the rest awaits its outcome: the log holds n months of predictions, one of
  which has its outcomes (the store stays one month; memory should not grow with the log).
Prints lines, joined rows, wall and CPU seconds and peak RSS per run, and the verdict: time and
peak memory grow at most linearly (`bench_drift.growth_verdict`, CPU seconds decide for time).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_drift import LOG_SCALES, growth_verdict, peak_rss_mb  # the same targets and verdict
from bench_logs import month_lines, write_copies

from flightdelay.core.params import load_params
from flightdelay.lifecycle.drift import check, feedback
from flightdelay.pipeline import source
from flightdelay.pipeline.prepare import prepare_month

MONTH = "2013-07"
KINDS = {"joins": False, "awaits": True}  # kind of growth → the copies await their outcome


def main() -> int:
    p = load_params("params.yaml")
    if not Path(p.paths.bundle).is_dir():
        sys.exit("bench-outcomes: run `make repro` first (needs the bundle)")
    from flightdelay.core import bundle

    version = bundle.load(p.paths.bundle).version
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-outcomes-") as tmp:
        tmpd = Path(tmp)
        source.materialize(MONTH, tmpd / "raw")
        month, _ = prepare_month(MONTH, tmpd / "raw", p.prepare)
        month = month.loc[~month["is_duplicate"]].reset_index(drop=True)
        scores = check.score_with_bundle(month, Path(p.paths.bundle))
        block = month_lines(month, scores, model_version=version)
        outcomes = tmpd / "raw" / MONTH / "flights.csv"
        for kind, awaiting in KINDS.items():
            for n in LOG_SCALES if not awaiting else LOG_SCALES[1:]:  # 1× is the same log either way
                log = write_copies(tmpd / f"{kind}-{n}x.jsonl", block, n, awaiting=awaiting)
                print(f"bench-outcomes: monitor outcomes on {n}× a month's log ({kind}) …", file=sys.stderr)
                cmd = [
                    sys.executable,
                    __file__,
                    "--one",
                    str(log),
                    str(outcomes),
                    str(tmpd / f"out-{kind}-{n}"),
                ]
                proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
                if proc.returncode != 0:
                    sys.exit(f"bench-outcomes: the join of {log.name} failed:\n{proc.stderr[-2000:]}")
                runs.append({"kind": kind, "scale": n, **json.loads(proc.stdout.strip().splitlines()[-1])})
                log.unlink()
    return verdict(runs)


def join_once(log: Path, outcomes: Path, out: Path) -> dict[str, Any]:
    """`monitor outcomes --replay` as the CLI runs it, in this (fresh) process, from an empty store
    (the log's times are after July's departures, hence the replay)."""
    p = load_params("params.yaml")
    w0, c0 = time.perf_counter(), time.process_time()
    res = feedback.run(
        p, log, [str(outcomes)], replay=True, out_dir=out, store_path=out / "joined.parquet", env={}
    )
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    return {
        "lines": res.join.counts["log_lines"],
        "joined": res.join.store_rows,
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_mb": peak_rss_mb(),
        "headline": feedback.headline(res),
    }


def verdict(runs: list[dict[str, Any]]) -> int:
    base = runs[0]
    print(f"{'kind':<7}{'log':<6}{'lines':>12}{'joined':>12}{'wall s':>9}{'cpu s':>8}{'peak MB':>9}  result")
    for r in runs:
        print(
            f"{r['kind']:<7}{str(r['scale']) + '×':<6}{r['lines']:>12,}{r['joined']:>12,}{r['wall_s']:>9.1f}"
            f"{r['cpu_s']:>8.1f}{r['peak_mb']:>9.0f}  {r['headline']}"
        )
    ok = True
    for r in runs[1:]:
        print(f"\n{r['kind']}, {r['scale']}× vs 1×:")
        ok &= growth_verdict(
            wall=(base["wall_s"], r["wall_s"]),
            cpu=(base["cpu_s"], r["cpu_s"]),
            scale=r["scale"],
            peak_mb=(base["peak_mb"], r["peak_mb"]),
        )
    return 0 if ok else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        print(json.dumps(join_once(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))))
        raise SystemExit(0)
    raise SystemExit(main())
