"""Benchmark: one drift check for a month (~29k rows) vs the reference, and for 10× both sizes.

Runs in-process on the workspace's reference (`dvc repro` first) and real July 2013 flights from
the embedded source, scored by the workspace bundle. Prints wall and CPU seconds per size, the
10×/1× ratio (the target is judged on CPU seconds), the prediction-log parse time, and
Evidently's one-off import time.

Then the large-log part: `drift check --log` on the month's prediction log repeated 1×, 10× and
100×, each in a fresh process (its own peak RSS): the log is read in batches and sampled in two
passes (drift/logread.py), so time grows with the lines and peak memory stays flat.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pandas as pd
from bench_logs import month_lines

from flightdelay.core.params import load_params
from flightdelay.lifecycle.drift import check, sources
from flightdelay.pipeline import source
from flightdelay.pipeline.prepare import prepare_month

MONTH = "2013-07"
TARGET_S = 5.0  # one month
SCALE = 10
LOG_SCALES = (1, 10, 100)


def timed_check(
    p: object, reference: pd.DataFrame, current: pd.DataFrame, out: Path
) -> tuple[float, float, str]:
    cur = sources.Current(frame=current, source="file", description="bench", rows_read=len(current))
    w0, c0 = time.perf_counter(), time.process_time()
    res = check.run_check(p, cur, out_dir=out, history=out / "history.json", reference=reference)  # type: ignore[arg-type]
    return time.perf_counter() - w0, time.process_time() - c0, str(res.summary.status)


def growth_verdict(
    wall: tuple[float, float],
    cpu: tuple[float, float],
    *,
    scale: int = SCALE,
    peak_mb: tuple[float, float] | None = None,
) -> bool:
    """Print the scale× / 1× ratios and whether one month stays within TARGET_S CPU seconds and
    both time and (when given) peak memory grow at most linearly. CPU seconds decide for time: on
    a shared machine wall time measures the neighbours too."""
    ratio_wall, ratio_cpu = wall[1] / wall[0], cpu[1] / cpu[0]
    memory = f", peak memory {peak_mb[1] / peak_mb[0]:.2f}" if peak_mb else ""
    print(
        f"{scale}× / 1× ratio: wall {ratio_wall:.2f}, cpu {ratio_cpu:.2f}{memory} (linear would be {scale})"
    )
    ok = cpu[0] <= TARGET_S and ratio_cpu <= scale and (peak_mb is None or peak_mb[1] / peak_mb[0] <= scale)
    print(
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
        f"target ≤ {TARGET_S:.0f} CPU s per month, {'time and memory' if peak_mb else 'time'} "
        f"grow ≤ linear: {'met' if ok else 'MISSED'}"
    )
    return ok


def main() -> int:
    p = load_params("params.yaml")
    if not Path(p.paths.reference).is_file() or not Path(p.paths.bundle).is_dir():
        sys.exit("bench-drift: run `make repro` first (needs the reference and the bundle)")
    t0 = time.perf_counter()
    import evidently.presets  # noqa: F401 (one-off import cost, reported separately)

    import_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory(prefix="bench-drift-") as tmp:
        tmpd = Path(tmp)
        source.materialize(MONTH, tmpd / "raw")
        month, _ = prepare_month(MONTH, tmpd / "raw", p.prepare)
        month = month.loc[~month["is_duplicate"]].reset_index(drop=True)
        month = month.assign(score=check.score_with_bundle(month, Path(p.paths.bundle)))
        month = month.drop(columns=["disrupted"])  # as from the prediction log: no outcomes
        reference = check.load_reference(p)
        big_month = pd.concat([month] * SCALE, ignore_index=True)
        big_reference = pd.concat([reference] * SCALE, ignore_index=True)

        log = tmpd / "p.jsonl"
        log.write_bytes(month_lines(month, month["score"].to_numpy()))
        w0 = time.perf_counter()
        sources.read_prediction_log(log)
        log_s = time.perf_counter() - w0

        timed_check(p, reference, month, tmpd / "warm")  # first run pays lazy imports
        rows = []
        for label, ref, cur in (("1×", reference, month), (f"{SCALE}×", big_reference, big_month)):
            wall, cpu, status = timed_check(p, ref, cur, tmpd / label)
            rows.append((label, len(ref), len(cur), wall, cpu, status))

        log_rows = large_logs(log, tmpd, len(month))

    print(f"Evidently import (once per process): {import_s:.1f} s")
    print(f"prediction log parse, {len(month):,} lines: {log_s:.2f} s (linear in lines)")
    print(f"{'size':<6}{'reference':>11}{'current':>10}{'wall s':>9}{'cpu s':>8}  verdict")
    for label, nref, ncur, wall, cpu, status in rows:
        print(f"{label:<6}{nref:>11,}{ncur:>10,}{wall:>9.2f}{cpu:>8.2f}  {status}")
    ok = growth_verdict(wall=(rows[0][3], rows[1][3]), cpu=(rows[0][4], rows[1][4]))
    print(log_table(log_rows))
    ok &= all(r["wall_s"] / log_rows[0]["wall_s"] <= r["scale"] * 1.25 for r in log_rows)
    ok &= all(r["peak_mb"] <= log_rows[0]["peak_mb"] * r["scale"] for r in log_rows)
    return 0 if ok else 1


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("/proc/self/status has no VmHWM (Linux only)")


def check_log(log: Path, out: Path) -> dict[str, Any]:
    """`drift check --log` as the CLI runs it, in this (fresh) process."""
    p = load_params("params.yaml")
    t0 = time.perf_counter()
    cur = sources.read_prediction_log(log, max_rows=p.drift.max_rows, seed=p.drift.seed)
    read_s = time.perf_counter() - t0
    res = check.run_check(p, cur, out_dir=out, history=out / "history.json")
    return {
        "lines": cur.rows_read,
        "read_s": read_s,
        "wall_s": time.perf_counter() - t0,
        "peak_mb": peak_rss_mb(),
        "status": str(res.summary.status),
    }


def large_logs(log: Path, tmpd: Path, month_rows: int) -> list[dict[str, Any]]:
    """The month's log repeated n times, checked in a fresh process each."""
    rows = []
    for n in LOG_SCALES:
        big = tmpd / f"log-{n}x.jsonl"
        with big.open("wb") as out:
            for _ in range(n):
                with log.open("rb") as src:
                    shutil.copyfileobj(src, out)
        print(f"bench-drift: drift check on {n}× a month's log ({n * month_rows:,} lines) …", file=sys.stderr)
        cmd = [sys.executable, __file__, "--log-one", str(big), str(tmpd / f"out-{n}x")]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            sys.exit(f"bench-drift: the check on {big.name} failed:\n{proc.stderr[-2000:]}")
        rows.append({"scale": n, **json.loads(proc.stdout.strip().splitlines()[-1])})
        big.unlink()
    return rows


def log_table(rows: list[dict[str, Any]]) -> str:
    base = rows[0]
    lines = [
        "\ndrift check --log on a large prediction log (fresh process each; peak RSS of the process):",
        f"{'log':<6}{'lines':>12}{'read s':>9}{'total s':>9}{'peak MB':>9}{'time ×':>8}"
        f"{'memory ×':>10}  verdict",
    ]
    for r in rows:
        lines.append(
            f"{str(r['scale']) + '×':<6}{r['lines']:>12,}{r['read_s']:>9.1f}{r['wall_s']:>9.1f}"
            f"{r['peak_mb']:>9.0f}{r['wall_s'] / base['wall_s']:>8.1f}"
            f"{r['peak_mb'] / base['peak_mb']:>10.2f}  {r['status']}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--log-one"]:
        print(json.dumps(check_log(Path(sys.argv[2]), Path(sys.argv[3]))))
        raise SystemExit(0)
    raise SystemExit(main())
