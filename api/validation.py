"""Request bodies → validated flights: the row limit and the shape of large bodies first (so no
body costs more than its bytes allow; api/middleware.py bounds the bytes), then the lean batch
path (api/batch.py), then pydantic's TypeAdapters, whose answers and errors are the API's."""

from __future__ import annotations

import contextlib
import gc
import logging
import re
from collections.abc import Iterator
from typing import Annotated, Any, NotRequired

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from api import ckernel
from api.batch import Flights, LeanBatch
from api.schemas import (
    FIELDS,
    Flight,
    FlightBatch,
    InvocationsRequest,
    ReloadRequest,
    ValidFlight,
    calendar_ok,
    check_calendar,
)

# Below this size no body holds enough values or keys to make parsing or pydantic's errors costly.
_SHAPE_CHECK_BYTES = 65_536


class RowLimitError(ValueError):
    """A body with more rows than MAX_BATCH_ROWS (found before any row was validated)."""

    def __init__(self, rows: int, limit: int, loc: tuple[str, ...]) -> None:
        super().__init__(f"{rows} rows, more than {limit}")
        self.rows, self.limit, self.loc = rows, limit, loc


class BodyShapeError(ValueError):
    """A large body that cannot be valid, found by counting bytes before pydantic parses it."""


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


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
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


def row_limit(e: ValidationError, max_rows: int | None, loc: tuple[str, ...]) -> RowLimitError | None:
    """The row-limit refusal when pydantic stopped at the length of the rows list."""
    if max_rows is None:
        return None
    for err in e.errors(include_url=False, include_input=False)[:3]:
        if err["type"] == "too_long" and tuple(err["loc"]) == loc:
            rows = int((err.get("ctx") or {}).get("actual_length", max_rows + 1))
            return RowLimitError(rows, max_rows, loc)
    return None


# A batch body is `{"flights": [...]}` and nothing else, so its first key is "flights"; an
# /invocations body most often starts with its format's key.
_BATCH_BODY = re.compile(rb'\s*\{\s*"flights"\s*:')
_INVOCATIONS_BODY = re.compile(rb'\s*\{\s*"(dataframe_split|dataframe_records)"\s*:')


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


class Adapters:
    """TypeAdapters built once per app (building them checks the schemas); the row-limited ones
    once per limit."""

    def __init__(self) -> None:
        self._single: TypeAdapter[Flight] = TypeAdapter(ValidFlight)
        self.flights: TypeAdapter[list[Flight]] = TypeAdapter(list[ValidFlight])
        self.reload: TypeAdapter[ReloadRequest] = TypeAdapter(ReloadRequest)
        self.invocations: TypeAdapter[Any] = TypeAdapter(InvocationsRequest)
        self._limited: dict[int | None, dict[str, TypeAdapter[Any]]] = {}
        rows_c = ckernel.load_rows()
        if rows_c is None:
            logging.getLogger("flightdelay.api").info(
                "the C batch check is not built (%s); checking batches in Python. "
                "Build it with `make kernel` (the serving image has it).",
                ckernel.rows_library_path().name,
            )
        numbers = None if rows_c is None else rows_c.fr_numbers
        self.lean = LeanBatch(self._single.core_schema, check_calendar, calendar_ok, numbers)

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
                with gc_paused():
                    return self._for(max_rows)["flights"].validate_json(body)["flights"]  # type: ignore[no-any-return]
            except ValidationError as e:
                raise row_limit(e, max_rows, ("flights",)) or e from None
        return [self._single.validate_json(body)]

    def predict_batch(self, body: bytes, max_rows: int | None = None) -> Flights:
        """`predict_flights`, with a batch body validated on the lean path when it accepts it."""
        check_shape(body, max_rows)
        if _BATCH_BODY.match(body):
            with gc_paused():
                flights = self.lean.parse(body, max_rows)
            if flights is not None:
                return flights
        return Flights(self.predict_flights(body, max_rows))

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
            with gc_paused():
                return self._for(max_rows)[key].validate_json(body)
        except ValidationError as e:
            loc = ("dataframe_split", "data") if key == "dataframe_split" else (key,)
            raise row_limit(e, max_rows, loc) or e from None
