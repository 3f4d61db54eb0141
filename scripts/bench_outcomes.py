"""Benchmark: `monitor outcomes` for one month of predictions (~29k) and for 10× the rows.

Real July 2013 flights from the embedded source, scored by the workspace bundle, written as the
API's prediction log; the outcomes are July's raw partition. Each size starts from an empty
joined store and is timed end to end: read the log and the outcomes, join, store, every figure
with its interval per day and per week, write the JSON and the Prometheus text. Prints wall and
CPU seconds, and the 10×/1× ratio (the target is judged on CPU seconds: ≤ 5 s, ≤ linear).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_drift import SCALE, growth_verdict  # the same targets and verdict as the drift check

from flightdelay.core.params import load_params
from flightdelay.lifecycle.drift import check, feedback
from flightdelay.pipeline import source
from flightdelay.pipeline.prepare import prepare_month
from tests.lifecycle.drift.logs import write_prediction_log

MONTH = "2013-07"


def main() -> int:
    p = load_params("params.yaml")
    if not Path(p.paths.bundle).is_dir():
        sys.exit("bench-outcomes: run `make repro` first (needs the bundle)")
    from flightdelay.core import bundle

    version = bundle.load(p.paths.bundle).version
    with tempfile.TemporaryDirectory(prefix="bench-outcomes-") as tmp:
        tmpd = Path(tmp)
        source.materialize(MONTH, tmpd / "raw")
        month, _ = prepare_month(MONTH, tmpd / "raw", p)
        month = month.loc[~month["is_duplicate"]].reset_index(drop=True)
        scores = check.score_with_bundle(month, Path(p.paths.bundle))
        small, big = tmpd / "month.jsonl", tmpd / "ten.jsonl"
        write_prediction_log(small, month, scores, model_version=version)
        for k in range(SCALE):  # the same flights predicted again: 10× the rows to join
            write_prediction_log(big, month, scores, model_version=version, request_prefix=f"x{k}-", mode="a")
        outcomes = str(tmpd / "raw" / MONTH / "flights.csv")

        def timed(log: Path, name: str) -> tuple[float, float, dict[str, object]]:
            w0, c0 = time.perf_counter(), time.process_time()
            out = feedback.run(
                p,
                log,
                [outcomes],
                replay=True,
                out_dir=tmpd / name,
                store_path=tmpd / name / "joined.parquet",
                env={},
            )
            return time.perf_counter() - w0, time.process_time() - c0, out

        timed(small, "warm")  # the first run pays lazy imports
        rows = []
        for label, log in (("1×", small), (f"{SCALE}×", big)):
            wall, cpu, out = timed(log, label)
            rows.append((label, int(out["join"]["store_rows"]), wall, cpu, feedback.headline(out)))  # type: ignore[index]

    print(f"{'size':<6}{'joined':>10}{'wall s':>9}{'cpu s':>8}  result")
    for label, joined, wall, cpu, head in rows:
        print(f"{label:<6}{joined:>10,}{wall:>9.2f}{cpu:>8.2f}  {head}")
    ok = growth_verdict(wall=(rows[0][2], rows[1][2]), cpu=(rows[0][3], rows[1][3]))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
