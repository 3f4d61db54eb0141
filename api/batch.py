"""The lean path for a batch body: parsed once, each field checked over all rows at once.

`{"flights": [...]}` is parsed by orjson and checked column by column (one type pass and one
range comparison per field over the whole batch, not one pydantic model per flight); the numeric
fields land in one float64 matrix that the encoder reads without touching the rows again.

It only ever says yes: a body it cannot prove valid (any error, or a shape it does not handle,
such as rows with different sets of fields) returns None, and the caller validates it with
pydantic as before. So the answer to a bad body, its status, message and field paths, is
pydantic's by construction. The rules are read from the schema pydantic runs (its core schema),
not written again here; a field kind or validator this module does not know turns the lean path
off for every body (`LeanBatch.enabled`), and tests/api/test_batch.py checks on the current schema
that it stays on and never accepts what pydantic refuses.
"""

from __future__ import annotations

import array
import itertools
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from api import ckernel

_NUMBER_KEYS = frozenset({"type", "ge", "le", "strict", "allow_inf_nan", "metadata"})
_NUMBER_TYPES = frozenset({int, float, type(None)})  # bool is not int here: type() is exact
_SEEN = 10_000  # strings remembered as matching a field's pattern
_LAYOUTS = 32  # distinct sets of fields whose getters are kept
_CALENDAR = ("year", "month", "day", "sched_dep_time", "sched_arr_time")
CalendarCheck = Callable[[list[int], list[int], list[int], list[int], list[int]], bool]
# api/rows.c fr_numbers(rows, names, integer fields, &lo, &hi, &nullable, &out) -> 1 when all valid
NumbersCheck = Callable[[list[Any], tuple[str, ...], int, int, int, int, int], int]


@dataclass(frozen=True)
class Flights:
    """Validated flights: the parsed rows (what the prediction log records) and, when the lean
    path validated them, their columns: `numeric` (float64 arrays, NaN for null or absent), `text`
    (the string fields' values, lists of str), and the float64 `matrix` (rows x `columns`, C order)
    whose columns `numeric` holds for the fields the rows carry."""

    rows: Sequence[Mapping[str, Any]]
    numeric: Mapping[str, np.ndarray] | None = None
    text: Mapping[str, Sequence[str]] | None = None
    matrix: np.ndarray | None = None
    columns: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(frozen=True)
class _Number:
    name: str
    required: bool
    integer: bool
    nullable: bool
    lo: float
    hi: float


@dataclass(frozen=True)
class _Text:
    name: str
    required: bool
    accepts: Callable[[set[Any]], bool]  # all of these distinct values are valid


@dataclass(frozen=True)
class _Layout:
    """How to check rows that all hold exactly one set of fields."""

    numbers: tuple[str, ...]  # the numeric fields they hold, in schema order
    get: Callable[[dict[str, Any]], tuple[Any, ...]]
    ints: tuple[int, ...]  # positions in `numbers` of the integer fields
    lo: np.ndarray
    hi: np.ndarray
    nullable: np.ndarray
    absent: tuple[str, ...]  # numeric fields they leave out (NaN columns for the encoder)
    texts: tuple[str, ...]
    calendar: tuple[int, ...]  # positions in `numbers` of the _CALENDAR fields, in that order
    bounds: tuple[int, int, int]  # addresses of lo, hi and nullable (bool is one byte), for the C check


def _rules(core: Mapping[str, Any], after: Callable[..., Any]) -> tuple[list[_Number], list[_Text]] | None:
    """Field rules from the core schema of a flight (a typed dict checked by `after` once its
    fields are); None when it holds anything else than what this module checks (then the lean
    path is off)."""
    if (
        core.get("type") != "function-after"
        or core["function"].get("function") is not after
        or core["schema"].get("type") != "typed-dict"
        or core["schema"].get("extra_behavior") != "forbid"
    ):
        return None
    numbers: list[_Number] = []
    texts: list[_Text] = []
    for name, spec in core["schema"]["fields"].items():
        schema, required = spec["schema"], bool(spec["required"])
        nullable = schema.get("type") == "nullable"
        if nullable:
            schema = schema["schema"]
        kind = schema.get("type")
        if kind in ("int", "float") and set(schema) <= _NUMBER_KEYS:
            # no bound: the largest finite float, so NaN (a null) and ±inf still fail the check
            lo = float(schema.get("ge", -np.finfo(np.float64).max))
            hi = float(schema.get("le", np.finfo(np.float64).max))
            if kind == "int" and max(abs(lo), abs(hi)) > 2**53:
                return None  # the float64 matrix would round such integers
            numbers.append(_Number(name, required, kind == "int", nullable, lo, hi))
        elif kind == "literal" and not nullable and set(schema) <= {"type", "expected", "metadata"}:
            expected = schema["expected"]
            if not all(type(v) is str for v in expected):
                return None
            texts.append(_Text(name, required, frozenset(expected).issuperset))
        elif kind == "str" and not nullable and set(schema) <= {"type", "pattern", "strict", "metadata"}:
            texts.append(_Text(name, required, _Matches(schema.get("pattern", ".*"))))
        else:
            return None
    if not set(_CALENDAR) <= {n.name for n in numbers if n.required and n.integer}:
        return None
    return numbers, texts


class _Matches:
    """All of a set of values are strings that match `pattern` (ASCII only: there Python's and
    pydantic's Rust regular expressions agree); values seen to match are remembered (bounded)."""

    def __init__(self, pattern: str) -> None:
        self.pattern = re.compile(pattern)
        self.seen: set[str] = set()

    def __call__(self, values: set[Any]) -> bool:
        if values <= self.seen:
            return True
        ok = all(type(v) is str and v.isascii() and self.pattern.fullmatch(v) for v in values)
        if ok and len(self.seen) < _SEEN:
            self.seen |= values
        return ok


class LeanBatch:
    """Validates batch bodies column-wise; `parse` returns None for any body it does not accept.

    `core_schema` is the flight's (pydantic's `TypeAdapter(...).core_schema`), `check_calendar` the
    validator it runs after the fields, and `calendar_ok` the same check over whole columns.
    `check_numbers`, when given, is api/rows.c's `fr_numbers` (api/ckernel.py `load_rows`): the numeric
    fields' types and ranges checked in one C pass instead of four Python ones (the same answers,
    tested); without it they are checked here."""

    def __init__(
        self,
        core_schema: Mapping[str, Any],
        check_calendar: Callable[..., Any],
        calendar_ok: CalendarCheck,
        check_numbers: NumbersCheck | None = None,
    ) -> None:
        rules = _rules(core_schema, check_calendar)
        self._calendar_ok = calendar_ok
        self._numbers_c = check_numbers
        self.enabled = rules is not None
        numbers, texts = rules or ([], [])
        self._numbers = {n.name: n for n in numbers}
        self._texts = {t.name: t for t in texts}
        required = [r.name for r in numbers if r.required] + [t.name for t in texts if t.required]
        self._required = frozenset(required)
        self._known = frozenset((*self._numbers, *self._texts))
        self._layouts: dict[frozenset[str], _Layout | None] = {}

    def parse(self, body: bytes, max_rows: int | None) -> Flights | None:
        if not self.enabled:
            return None
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        if type(parsed) is not dict or len(parsed) != 1 or type(parsed.get("flights")) is not list:
            return None
        rows: list[Any] = parsed["flights"]
        if not rows or (max_rows is not None and len(rows) > max_rows):
            return None
        if set(map(type, rows)) != {dict} or len(set(map(len, rows))) != 1:
            return None
        layout = self._layout(frozenset(rows[0]))
        if layout is None:
            return None
        try:
            return self._check(rows, layout)
        except (KeyError, TypeError):  # a row without a field of the first one; unhashable values
            return None

    def _layout(self, fields: frozenset[str]) -> _Layout | None:
        if fields in self._layouts:
            return self._layouts[fields]
        layout = None
        if fields <= self._known and self._required <= fields:
            present = [self._numbers[c] for c in self._numbers if c in fields]
            present.sort(key=lambda r: not r.integer)  # integers first
            names = tuple(r.name for r in present)
            texts = tuple(t for t in self._texts if t in fields)
            lo = np.array([r.lo for r in present], dtype=np.float64)
            hi = np.array([r.hi for r in present], dtype=np.float64)
            nullable = np.array([r.nullable for r in present], dtype=bool)
            layout = _Layout(
                numbers=names,
                get=_getter(names),
                ints=tuple(i for i, r in enumerate(present) if r.integer),
                lo=lo,
                hi=hi,
                nullable=nullable,
                absent=tuple(c for c in self._numbers if c not in fields),
                texts=texts,
                calendar=tuple(names.index(c) for c in _CALENDAR),
                bounds=(ckernel.address(lo), ckernel.address(hi), ckernel.address(nullable)),
            )
        if len(self._layouts) < _LAYOUTS:
            self._layouts[fields] = layout
        return layout

    def _check(self, rows: list[dict[str, Any]], layout: _Layout) -> Flights | None:
        """Every row holds exactly the first row's fields: all have as many, and the getter raises
        KeyError for a row without one of them. A numeric field holds a JSON number or null (one
        type pass over all of them), an integer field a JSON integer (read as machine integers,
        which refuses floats and nulls), then one range comparison over the whole matrix."""
        n = len(rows)
        text: dict[str, Sequence[str]] = {}
        for name in layout.texts:
            values = list(map(operator.itemgetter(name), rows))
            if not self._texts[name].accepts(set(values)):
                return None
            text[name] = values
        if self._numbers_c is not None:
            return self._check_c(self._numbers_c, rows, layout, text)
        k = len(layout.numbers)
        flat = list(itertools.chain.from_iterable(map(layout.get, rows)))
        if not _NUMBER_TYPES.issuperset(map(type, flat)):
            return None
        ints = {}
        try:
            for j in layout.ints:
                column = flat[j::k]
                array.array("q", column)  # TypeError for a float or null: strict integers
                ints[layout.numbers[j]] = column
        except (TypeError, OverflowError):
            return None
        matrix = np.array(flat, dtype=np.float64).reshape(n, k)  # null → NaN
        inside = (matrix >= layout.lo) & (matrix <= layout.hi)  # NaN is outside
        if not (inside | (np.isnan(matrix) & layout.nullable)).all():
            return None
        if not self._calendar_ok(*(ints[c] for c in _CALENDAR)):  # fields in range: as pydantic
            return None
        return self._flights(rows, layout, matrix, text)

    def _check_c(
        self, numbers: NumbersCheck, rows: list[Any], layout: _Layout, text: dict[str, Sequence[str]]
    ) -> Flights | None:
        """`_check`'s numeric part in api/rows.c: the same rules in one pass, integers first."""
        matrix = np.empty((len(rows), len(layout.numbers)), dtype=np.float64)
        if not numbers(rows, layout.numbers, len(layout.ints), *layout.bounds, ckernel.address(matrix)):
            return None
        calendar = [matrix[:, j].astype(np.int64).tolist() for j in layout.calendar]
        if not self._calendar_ok(*calendar):
            return None
        return self._flights(rows, layout, matrix, text)

    @staticmethod
    def _flights(
        rows: list[dict[str, Any]], layout: _Layout, matrix: np.ndarray, text: dict[str, Sequence[str]]
    ) -> Flights:
        numeric = {c: matrix[:, j] for j, c in enumerate(layout.numbers)}
        if layout.absent:
            numeric.update(dict.fromkeys(layout.absent, np.full(len(rows), np.nan)))
        return Flights(rows, numeric, text, matrix, layout.numbers)


def _getter(names: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """A getter that always returns a tuple (itemgetter of one name returns the bare value)."""
    if len(names) == 1:
        get = operator.itemgetter(names[0])
        return lambda row: (get(row),)
    return operator.itemgetter(*names)
