"""Request schemas of the HTTP API (strict; separate from the model's internal types) and the
`Adapters` that validate bodies against them (response bodies: api/responses.py).

A flight is a `TypedDict`, so validated input is already the plain dict that
`flightdelay.core.features.encode_records` takes: no per-row object conversion on the hot path. A batch
body takes the lean path of api/batch.py first, which accepts only what these schemas accept.
Bodies are validated with `validate_json` in strict mode: a JSON integer is accepted for a float
field, but `true`, `"12"` or `NaN` are not (`NaN` and `Infinity` are refused as not finite, before
any range check).

Numeric ranges are the physical ranges the `validate` stage enforces on training data
(`params.yaml` → `validate.ranges`; a test keeps both in step). Unseen categories: `origin` and
`carrier` must be ones the pipeline accepts (enumerations); a `dest` airport that the model has not
seen often enough in training is scored with the model's learned default for a missing value.
"""

from __future__ import annotations

import calendar
import datetime as dt
import itertools
import operator
from typing import Annotated, Any, Literal, NotRequired

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
)
from typing_extensions import TypedDict

Carrier = Literal[
    "9E", "AA", "AS", "B6", "DL", "EV", "F9", "FL", "HA", "MQ", "OO", "UA", "US", "VX", "WN", "YV"
]
Origin = Literal["EWR", "JFK", "LGA"]


def _rng(lo: float, hi: float, doc: str) -> Any:
    return Field(ge=lo, le=hi, description=doc)


def _in(lo: float, hi: float, doc: str | None = None) -> Any:
    """A float range; NaN and ±Infinity (which the JSON parser accepts) are refused as not finite."""
    return Field(ge=lo, le=hi, allow_inf_nan=False, description=doc)


def _doc(doc: str) -> Any:
    return Field(description=doc)


EXAMPLE_FLIGHT: dict[str, Any] = {
    "year": 2013,
    "month": 6,
    "day": 14,
    "sched_dep_time": 1730,
    "sched_arr_time": 2015,
    "carrier": "B6",
    "origin": "JFK",
    "dest": "BOS",
    "distance": 187,
    "temp": 78.1,
    "dewp": 60.1,
    "humid": 53.6,
    "wind_dir": 200,
    "wind_speed": 12.7,
    "wind_gust": None,
    "precip": 0.0,
    "pressure": 1012.3,
    "visib": 10,
    "aircraft_leg": 2,
    "aircraft_gap_min": 195,
    "origin_hour_departures": 24,
    "origin_day_departures": 330,
    "precip_6h": 0.0,
}


class Flight(TypedDict):
    __pydantic_config__ = ConfigDict(  # type: ignore[misc]
        strict=True,
        extra="forbid",
        title="Flight",
        json_schema_extra={"examples": [EXAMPLE_FLIGHT]},
    )

    year: Annotated[int, _rng(2000, 2100, "scheduled year")]
    month: Annotated[int, _rng(1, 12, "scheduled month")]
    day: Annotated[int, _rng(1, 31, "scheduled day of month")]
    sched_dep_time: Annotated[int, _rng(0, 2359, "scheduled departure, local HHMM")]
    sched_arr_time: Annotated[int, _rng(0, 2400, "scheduled arrival, local HHMM")]
    carrier: Annotated[Carrier, Field(description="two-letter carrier code")]
    # Not a model input: with carrier, origin and scheduled departure it names the flight, so the
    # logged prediction can be joined with the flight's outcome later (`flightdelay monitor outcomes`).
    flight: NotRequired[Annotated[int, _rng(1, 9999, "flight number (names the flight for live quality)")]]
    origin: Annotated[Origin, Field(description="New York airport of departure")]
    dest: Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="FAA code; unseen: as missing")]
    distance: Annotated[float, _in(1, 6000, "miles")]
    # Weather: the origin's reading one hour before the scheduled departure (known in advance; the
    # pipeline joins the same, params.yaml prepare.weather_lead_hours), a number in range, or
    # null/absent (scored as missing). The range sits on the number inside the nullable, not on
    # the nullable: same errors and schema, ~40% faster validation.
    temp: NotRequired[Annotated[Annotated[float, _in(-30, 120)] | None, _doc("°F at origin, 1 h before")]]
    dewp: NotRequired[Annotated[Annotated[float, _in(-40, 90)] | None, _doc("dew point °F")]]
    humid: NotRequired[Annotated[Annotated[float, _in(0, 100)] | None, _doc("relative humidity %")]]
    wind_dir: NotRequired[Annotated[Annotated[float, _in(0, 360)] | None, _doc("degrees")]]
    wind_speed: NotRequired[Annotated[Annotated[float, _in(0, 100)] | None, _doc("mph")]]
    wind_gust: NotRequired[Annotated[Annotated[float, _in(0, 150)] | None, _doc("mph")]]
    precip: NotRequired[Annotated[Annotated[float, _in(0, 5)] | None, _doc("inches")]]
    pressure: NotRequired[Annotated[Annotated[float, _in(950, 1060)] | None, _doc("sea level pressure, hPa")]]
    visib: NotRequired[Annotated[Annotated[float, _in(0, 10)] | None, _doc("miles")]]
    # From the day's schedule (scheduled times of all flights, not outcomes), as `prepare`
    # computes them (flightdelay.core.features.SCHEDULE). Optional: absent or null is scored as
    # missing, like an unseen destination.
    aircraft_leg: NotRequired[
        Annotated[Annotated[float, _in(1, 20)] | None, _doc("the aircraft's departure of the day, 1 = first")]
    ]
    aircraft_gap_min: NotRequired[
        Annotated[
            Annotated[float, _in(0, 1440)] | None,
            _doc("minutes since the aircraft's previous scheduled departure that day; null for its first"),
        ]
    ]
    origin_hour_departures: NotRequired[
        Annotated[Annotated[float, _in(1, 300)] | None, _doc("flights scheduled out of the origin that hour")]
    ]
    origin_day_departures: NotRequired[
        Annotated[Annotated[float, _in(1, 3000)] | None, _doc("flights scheduled out of the origin that day")]
    ]
    # Precipitation at the origin summed over the hourly readings of the 6 hours ending
    # with the one the weather fields carry (features.PRECIP_HISTORY). Optional: absent or null
    # counts as none recorded (0), as `prepare` counts an hour without a reading.
    precip_6h: NotRequired[
        Annotated[Annotated[float, _in(0, 30)] | None, _doc("inches at origin, 6 h to the reading")]
    ]


_MONTH_DAYS = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def check_calendar(f: Flight) -> Flight:
    """Runs per flight after the field checks (so month is 1..12 and day 1..31): table lookups on
    the common path, `datetime.date` only to word the error."""
    year, month, day = f["year"], f["month"], f["day"]
    if day > _MONTH_DAYS[month] or (month == 2 and day == 29 and not calendar.isleap(year)):
        try:
            dt.date(year, month, day)
        except ValueError as e:
            raise ValueError(f"year/month/day is not a calendar date: {e}") from None
    if f["sched_dep_time"] % 100 >= 60 or f["sched_arr_time"] % 100 >= 60:
        for name in ("sched_dep_time", "sched_arr_time"):
            if f[name] % 100 >= 60:
                raise ValueError(f"{name} {f[name]} is not HHMM: minutes must be below 60")
    return f


def calendar_ok(year: list[int], month: list[int], day: list[int], dep: list[int], arr: list[int]) -> bool:
    """`check_calendar` over whole columns (integers already in their field ranges), in C-level
    loops: True when it passes every row."""
    n = len(day)
    if any(map(operator.gt, day, map(_MONTH_DAYS.__getitem__, month))):
        return False
    if (2, 29) in set(zip(month, day, strict=True)) and any(
        m == 2 and d == 29 and not calendar.isleap(y) for y, m, d in zip(year, month, day, strict=True)
    ):
        return False
    return bool(max(map(operator.mod, dep + arr, itertools.repeat(100, 2 * n))) < 60)


ValidFlight = Annotated[Flight, AfterValidator(check_calendar)]


class FlightBatch(TypedDict):
    __pydantic_config__ = ConfigDict(  # type: ignore[misc]
        strict=True,
        extra="forbid",
        title="FlightBatch",
        json_schema_extra={"examples": [{"flights": [EXAMPLE_FLIGHT]}]},
    )

    flights: Annotated[list[ValidFlight], Field(min_length=1, description="≤ MAX_BATCH_ROWS")]


def _single_or_batch(v: Any) -> str:
    return "batch" if isinstance(v, dict) and "flights" in v else "single"


PredictRequest = Annotated[
    Annotated[ValidFlight, Tag("single")] | Annotated[FlightBatch, Tag("batch")],
    Discriminator(_single_or_batch),
]


class DataframeSplit(TypedDict):
    __pydantic_config__ = ConfigDict(strict=True, extra="forbid")  # type: ignore[misc]

    columns: list[str]
    data: list[list[Any]]
    index: NotRequired[list[Any]]


class InvocationsSplit(TypedDict):
    __pydantic_config__ = ConfigDict(strict=True, extra="forbid")  # type: ignore[misc]

    dataframe_split: DataframeSplit
    params: NotRequired[dict[str, Any]]


class InvocationsRecords(TypedDict):
    __pydantic_config__ = ConfigDict(strict=True, extra="forbid")  # type: ignore[misc]

    dataframe_records: list[ValidFlight]
    params: NotRequired[dict[str, Any]]


def _mlflow_format(v: Any) -> str | None:
    if isinstance(v, dict):
        if "dataframe_records" in v:
            return "records"
        if "dataframe_split" in v:
            return "split"
    return None


InvocationsRequest = Annotated[
    Annotated[InvocationsSplit, Tag("split")] | Annotated[InvocationsRecords, Tag("records")],
    Discriminator(
        _mlflow_format,
        custom_error_type="mlflow_format",
        custom_error_message="expected an object with `dataframe_split` or "
        "`dataframe_records` (the MLflow scoring formats this model accepts)",
    ),
]


class ReloadRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    model_dir: str | None = Field(None, description="bundle directory; default: MODEL_DIR")


FIELDS = len(Flight.__annotations__)
