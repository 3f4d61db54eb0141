"""Request and response schemas of the HTTP API (strict; separate from the model's internal types).

A flight is a `TypedDict`, so validated input is already the plain dict that
`flightdelay.core.features.encode_records` takes: no per-row object conversion on the hot path.
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
import contextlib
import datetime as dt
import gc
import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal, NotRequired

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
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


_MONTH_DAYS = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _check_calendar(f: Flight) -> Flight:
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


ValidFlight = Annotated[Flight, AfterValidator(_check_calendar)]


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


class Prediction(BaseModel):
    probability: float = Field(description="P(arrives ≥15 min late, or cancelled or diverted)")
    decision: bool = Field(description="probability ≥ the model's operating threshold")


class PredictResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "request_id": "8f14e45fceea167a",
                    "model_version": "3",
                    "threshold": 0.31,
                    "predictions": [{"probability": 0.27, "decision": False}],
                }
            ]
        }
    )

    request_id: str
    model_version: str
    threshold: float
    predictions: list[Prediction]


class InvocationsResponse(BaseModel):
    predictions: list[float] = Field(description="disruption probability per row")


class ErrorBody(BaseModel):
    error: str = Field(description="machine-readable kind, e.g. validation, malformed_json")
    message: str
    request_id: str | None = None
    detail: list[dict[str, Any]] | None = Field(None, description="field errors with `loc` paths")


class ModelInfo(BaseModel):
    version: str
    model_name: str | None
    model_md5: str
    threshold: float
    training_window: dict[str, Any] | None
    generation: int = Field(description="reload counter shared by all workers")
    loaded_at: str
    model_dir: str
    scorer: str = Field(
        description='what scores the trees: "compiled" (the C kernel), "numpy" (the fallback when the '
        'kernel is not built, for small batches) or "xgboost"'
    )
    metadata: dict[str, Any]


class ReloadRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    model_dir: str | None = Field(None, description="bundle directory; default: MODEL_DIR")


class ReloadResponse(BaseModel):
    version: str
    previous_version: str
    generation: int
    model_dir: str


# A batch body is `{"flights": [...]}` and nothing else, so its first key is "flights"; an
# /invocations body most often starts with its format's key.
_BATCH_BODY = re.compile(rb'\s*\{\s*"flights"\s*:')
_INVOCATIONS_BODY = re.compile(rb'\s*\{\s*"(dataframe_split|dataframe_records)"\s*:')
FIELDS = len(Flight.__annotations__)
# Below this size no body holds enough values or keys to make parsing or pydantic's errors costly.
_SHAPE_CHECK_BYTES = 65_536


class RowLimitError(ValueError):
    """A body with more rows than MAX_BATCH_ROWS (found before any row was validated)."""

    def __init__(self, rows: int, limit: int, loc: tuple[str, ...]) -> None:
        super().__init__(f"{rows} rows, more than {limit}")
        self.rows, self.limit, self.loc = rows, limit, loc


class BodyShapeError(ValueError):
    """A large body that cannot be valid, found by counting bytes before pydantic parses it."""


def _typed_dict(name: str, fields: dict[str, Any], config: ConfigDict) -> Any:
    make: Any = TypedDict  # built at run time: the limit is a setting
    cls = make(name, fields)
    cls.__pydantic_config__ = config
    return cls


def _row_limited(max_rows: int | None) -> tuple[Any, Any, Any]:
    """The batch body and the two /invocations bodies with the row limit as the lists' `max_length`.

    pydantic checks an array's length before it validates an element, so a body of 350,000 rows
    is refused at the cost of parsing it (linear in its bytes, which MAX_BODY_BYTES bounds), not
    of validating and collecting errors for every row.
    """
    rows = Annotated[list[ValidFlight], Field(min_length=1, max_length=max_rows)]
    batch = _typed_dict("FlightBatch", {"flights": rows}, FlightBatch.__pydantic_config__)  # type: ignore[attr-defined]
    strict = ConfigDict(strict=True, extra="forbid")
    data = Annotated[list[list[Any]], Field(max_length=max_rows)]
    split = _typed_dict(
        "DataframeSplit", {"columns": list[str], "data": data, "index": NotRequired[list[Any]]}, strict
    )
    params = NotRequired[dict[str, Any]]
    by_split = _typed_dict("InvocationsSplit", {"dataframe_split": split, "params": params}, strict)
    records = Annotated[list[ValidFlight], Field(max_length=max_rows)]
    by_records = _typed_dict("InvocationsRecords", {"dataframe_records": records, "params": params}, strict)
    return batch, by_split, by_records


def check_shape(body: bytes, max_rows: int | None) -> None:
    """Refuse a large body that no valid request has the shape of, before pydantic parses it.

    Parsing costs per value (~1 µs each for 350,000 `{}`, most of it allocation), and pydantic
    lists an error per surplus key (~10 µs each). Three byte counts (C, ≈ 0.1 ms per MB) bound
    both: a valid body has at most one object per flight plus the outer one (`{`), at most
    FIELDS values per flight (`,` separates them), and at most FIELDS keys per object (`:`).
    Strings cannot hide a match: in a valid body they are field names and short codes."""
    if len(body) < _SHAPE_CHECK_BYTES:
        return
    objects = body.count(b"{")
    if max_rows is not None:
        if objects > max_rows + 1:
            raise BodyShapeError(
                f"the body holds {objects - 1} objects in its outer one, more than "
                f"MAX_BATCH_ROWS={max_rows} flights (a flight holds no object); split the batch"
            )
        if body.count(b",") > FIELDS * (max_rows + 2):
            raise BodyShapeError(
                f"the body holds more values than MAX_BATCH_ROWS={max_rows} flights of {FIELDS} "
                "fields; split the batch"
            )
    if body.count(b":") > FIELDS * objects + 1:
        raise BodyShapeError(
            f"the body holds more fields than its {objects} object(s) may have ({FIELDS} per "
            "flight, and no others); send flights with the documented fields only"
        )


class Adapters:
    """TypeAdapters built once per app (building them checks the schemas); the row-limited ones
    once per limit."""

    def __init__(self) -> None:
        self._single: TypeAdapter[Flight] = TypeAdapter(ValidFlight)
        self.flights: TypeAdapter[list[Flight]] = TypeAdapter(list[ValidFlight])
        self.reload: TypeAdapter[ReloadRequest] = TypeAdapter(ReloadRequest)
        self.invocations: TypeAdapter[Any] = TypeAdapter(InvocationsRequest)
        self._limited: dict[int | None, dict[str, TypeAdapter[Any]]] = {}

    def _for(self, max_rows: int | None) -> dict[str, TypeAdapter[Any]]:
        adapters = self._limited.get(max_rows)
        if adapters is None:
            batch, split, records = _row_limited(max_rows)
            adapters = self._limited[max_rows] = {
                "flights": TypeAdapter(batch),
                "dataframe_split": TypeAdapter(split),
                "dataframe_records": TypeAdapter(records),
            }
        return adapters

    def predict_flights(self, body: bytes, max_rows: int | None = None) -> list[Flight]:
        """The flights of a `PredictRequest` body, with that union's result and errors, but the
        body goes straight from JSON to the one matching type: the union's discriminator needs
        the parsed object first, which makes a 1,000-row batch ~1.6× slower to validate.

        A batch of more than `max_rows` flights raises `RowLimitError` before any flight is
        validated; a large body that cannot be valid raises `BodyShapeError` before pydantic."""
        check_shape(body, max_rows)
        if _BATCH_BODY.match(body):
            try:
                with _gc_paused():
                    return self._for(max_rows)["flights"].validate_json(body)["flights"]  # type: ignore[no-any-return]
            except ValidationError as e:
                raise _row_limit(e, max_rows, ("flights",)) or e from None
        return [self._single.validate_json(body)]

    def invocations_request(self, body: bytes, max_rows: int | None = None) -> Any:
        """An /invocations body (`dataframe_split` or `dataframe_records`), row limit first.

        Like `predict_flights`, a body whose first key names its format skips the union: its
        callable discriminator turns the whole parsed body into Python objects first, seconds
        for a body of 350,000 empty rows. Other bodies go through the documented union."""
        check_shape(body, max_rows)
        fmt = _INVOCATIONS_BODY.match(body)
        if fmt is None:
            return self.invocations.validate_json(body)
        key = fmt.group(1).decode()
        try:
            with _gc_paused():
                return self._for(max_rows)[key].validate_json(body)
        except ValidationError as e:
            loc = ("dataframe_split", "data") if key == "dataframe_split" else (key,)
            raise _row_limit(e, max_rows, loc) or e from None


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while pydantic builds a body's objects: they hold no cycles
    (reference counting frees them), and the collections that their number triggers scan the
    whole heap, several times the cost of the validation for a body of many small rows."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _row_limit(e: ValidationError, max_rows: int | None, loc: tuple[str, ...]) -> RowLimitError | None:
    """The row-limit refusal when pydantic stopped at the length of the rows list."""
    if max_rows is None:
        return None
    for err in e.errors(include_url=False, include_input=False)[:3]:
        if err["type"] == "too_long" and tuple(err["loc"]) == loc:
            rows = int((err.get("ctx") or {}).get("actual_length", max_rows + 1))
            return RowLimitError(rows, max_rows, loc)
    return None
