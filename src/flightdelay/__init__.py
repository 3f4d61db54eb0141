"""flightdelay: predicts disrupted New York flights, from a DVC pipeline to a GitOps deployment."""

import os

# XGBoost's OpenMP threads spin between parallel regions by default. On a runner whose cores are
# shared (CI, two test workers, a DVC stage beside a backtest) the spinning threads take the CPU
# from the ones with work: a 2-thread fit measured 94-123 s wall at load 4-6 against 15-19 s when
# idle threads sleep. libgomp reads this once, when XGBoost is first imported, so it is set here,
# before any of the package's modules can import it; a value the caller set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
