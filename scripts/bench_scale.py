"""Benchmark: training on one year (2013, 1×) and on ten (2013 repeated with dates shifted by whole
years, 10×, ≈3.4 M rows), with `train.engine: local` and `dask` (a LocalCluster of --workers
worker processes, --memory-limit each). Prints wall time, peak RSS of every process (the driver,
and each Dask worker), and how both grow from 1× to 10× (cost per row).

The years are built in a temporary directory from the embedded source (never in data/); each
engine and size trains in a fresh process, so every peak is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd

from flightdelay.core import features
from flightdelay.core.model import fit_dask
from flightdelay.core.params import Params, load_params
from flightdelay.pipeline import source, train
from flightdelay.pipeline.prepare import prepare_month

COLUMNS = [*features.INPUT_COLUMNS, "disrupted"]


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("/proc/self/status has no VmHWM (Linux only)")


def build_years(tmp: Path, scales: list[int], p: Params) -> dict[int, Path]:
    """`tmp/<n>x/train.parquet/`: n copies of 2013, copy k with every date k years later, one file
    per copy (as a team's yearly exports would be); plus the feature spec of the 1× year."""
    raw = tmp / "raw"
    frames = []
    for month in source.AVAILABLE_MONTHS:
        source.materialize(month, raw)
        df, _ = prepare_month(month, raw, p.prepare)
        frames.append(df.loc[~df["is_duplicate"], COLUMNS])
    year = pd.concat(frames, ignore_index=True)
    spec = features.fit_spec(year, "disrupted", p.featurize.min_category_count)
    out = {}
    for n in scales:
        d = tmp / f"{n}x" / "train.parquet"
        d.mkdir(parents=True)
        for k in range(n):
            year.assign(year=year["year"] + k).to_parquet(d / f"year-{k:02d}.parquet", index=False)
        spec.save(d.parent / "feature_spec.json")
        out[n] = d.parent
    return out


def run_one(engine: str, features_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Train once in this process; the figures as a dict."""
    base = load_params(args.params)
    dask = base.train.dask.model_copy(
        update={"n_workers": args.workers, "memory_limit": args.memory_limit, "processes": True}
    )
    t = base.train.model_copy(update={"n_estimators": args.trees, "engine": engine, "dask": dask})
    p = base.model_copy(update={"train": t})
    spec = features.FeatureSpec.load(features_dir / "feature_spec.json")
    t0 = time.perf_counter()
    workers: list[float] = []
    if engine == "local":
        frame = pd.read_parquet(features_dir / "train.parquet", columns=COLUMNS)
        rows = len(frame)
        train.fit(train.config(p), frame, spec)
    else:
        import dask.dataframe as dd

        with train.dask_client(p.train.dask) as client:
            frame = dd.read_parquet(features_dir / "train.parquet", columns=COLUMNS)
            frame, _ = train.spread(client, frame, p.train.dask.partitions_per_worker)
            rows = int(frame.shape[0].compute())
            fit_dask(spec, p.train, frame, client)
            workers = sorted(client.run(peak_rss_mb).values())
    return {
        "engine": engine,
        "rows": rows,
        "wall_s": time.perf_counter() - t0,
        "driver_mb": peak_rss_mb(),
        "workers_mb": workers,
    }


def measure(engine: str, features_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--one", engine, str(features_dir)]
    cmd += ["--trees", str(args.trees), "--workers", str(args.workers), "--memory-limit", args.memory_limit]
    cmd += ["--params", str(args.params)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"bench-scale: {engine} on {features_dir.name} failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def table(results: list[dict[str, Any]], scales: list[int]) -> str:
    head = f"{'engine':<7}{'size':>5}{'rows':>12}{'wall s':>9}{'µs/row':>8}{'driver MB':>11}  workers MB"
    lines = [head]
    for r in results:
        workers = " + ".join(f"{m:.0f}" for m in r["workers_mb"]) or "—"
        lines.append(
            f"{r['engine']:<7}{str(r['scale']) + '×':>5}{r['rows']:>12,}{r['wall_s']:>9.1f}"
            f"{r['wall_s'] / r['rows'] * 1e6:>8.1f}{r['driver_mb']:>11.0f}  {workers}"
        )
    lo, hi = min(scales), max(scales)
    lines.append("")
    for engine in dict.fromkeys(r["engine"] for r in results):
        a = next(r for r in results if r["engine"] == engine and r["scale"] == lo)
        b = next(r for r in results if r["engine"] == engine and r["scale"] == hi)
        mem_a = a["driver_mb"] + sum(a["workers_mb"])
        mem_b = b["driver_mb"] + sum(b["workers_mb"])
        lines.append(
            f"{engine}: {lo}×→{hi}× rows ×{b['rows'] / a['rows']:.1f}, "
            f"wall ×{b['wall_s'] / a['wall_s']:.1f}, "
            f"cost per row ×{(b['wall_s'] / b['rows']) / (a['wall_s'] / a['rows']):.2f}, "
            f"memory of all its processes ×{mem_b / mem_a:.1f} "
            f"(largest process {max([a['driver_mb'], *a['workers_mb']]):.0f} → "
            f"{max([b['driver_mb'], *b['workers_mb']]):.0f} MB)"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--scales", type=int, nargs="+", default=[1, 10], help="years of data (default: 1 10)")
    ap.add_argument("--trees", type=int, default=100, help="n_estimators (default 100; other params.yaml)")
    ap.add_argument("--workers", type=int, default=2, help="LocalCluster workers (processes)")
    ap.add_argument("--memory-limit", default="3GiB", help="memory limit per Dask worker")
    ap.add_argument("--engines", nargs="+", default=["local", "dask"], choices=["local", "dask"])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--one", nargs=2, metavar=("ENGINE", "DIR"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one[0], Path(args.one[1]), args)))
        return 0
    if any(n < 1 for n in args.scales) or len(set(args.scales)) < 2:
        ap.error("--scales needs at least two different sizes of 1 or more, e.g. --scales 1 10")
    p = load_params(args.params)
    scales = sorted(set(args.scales))
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        print(f"bench-scale: building {', '.join(f'{n}×' for n in scales)} years in {tmp} …", file=sys.stderr)
        dirs = build_years(Path(tmp), scales, p)
        for n in scales:
            for engine in args.engines:
                print(f"bench-scale: {engine}, {n}× …", file=sys.stderr)
                results.append({**measure(engine, dirs[n], args), "scale": n})
    print(
        f"\nXGBoost {args.trees} trees, depth {p.train.max_depth}; dask: LocalCluster of {args.workers} "
        f"worker processes, {args.memory_limit} each, 1 thread each; local: n_jobs={p.train.n_jobs}. "
        f"Load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores."
    )
    print(table(results, scales))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
