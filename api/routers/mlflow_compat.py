"""POST /invocations: MLflow's scoring protocol (dataframe_split, dataframe_records).

Existing MLflow clients keep working: the body is what `mlflow models serve` takes, the answer is
`{"predictions": [...]}` with the disruption probability of each row.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from api.batch import Flights
from api.errors import JSON, ApiError, from_row_limit, from_validation
from api.openapi import ERROR_RESPONSES, json_body
from api.responses import InvocationsResponse
from api.routing import RawRoute
from api.schemas import FIELDS
from api.service import Service, service_of
from api.validation import BodyShapeError, RowLimitError

router = APIRouter(tags=["mlflow"], route_class=RawRoute)


def _split_records(split: dict[str, Any], svc: Service) -> list[dict[str, Any]]:
    columns = split["columns"]
    rows = split["data"]  # at most MAX_BATCH_ROWS: the schema checked the length first
    if len(set(columns)) > FIELDS:  # every row would list an error per surplus column
        raise ApiError(
            422,
            "validation",
            f"body.dataframe_split.columns: {len(set(columns))} distinct columns, more than the "
            f"{FIELDS} fields of a flight; send the documented columns only",
        )
    for i, row in enumerate(rows):
        if len(row) != len(columns):
            raise ApiError(
                422,
                "validation",
                f"body.dataframe_split.data.{i}: {len(row)} values for {len(columns)} columns",
                [
                    {
                        "loc": ["body", "dataframe_split", "data", i],
                        "msg": "row length differs from columns",
                        "type": "row_length",
                    }
                ],
            )
    records = [dict(zip(columns, row, strict=True)) for row in rows]
    try:  # re-validated as JSON so the strict JSON rules (int accepted as float) apply
        flights: list[dict[str, Any]] = svc.adapters.flights.validate_json(orjson.dumps(records))  # type: ignore[assignment]
    except ValidationError as e:
        raise from_validation(e, ("body", "dataframe_split", "data")) from None
    return flights


@router.post(
    "/invocations",
    summary="MLflow scoring protocol",
    description='`{"dataframe_split": {"columns": [...], "data": [[...]]}}` or '
    '`{"dataframe_records": [{...}]}` with the flight fields of /v1/predict.',
    response_model=None,
    responses={200: {"model": InvocationsResponse}, **ERROR_RESPONSES},
    openapi_extra=json_body("InvocationsRequest"),
)
async def invocations(request: Request) -> Response:
    svc = service_of(request)  # no dependency injection on the hot path: it costs ~0.1 ms
    body = await request.body()
    try:
        parsed: Any = svc.adapters.invocations_request(body, svc.settings.max_batch_rows)
    except ValidationError as e:
        raise from_validation(e, body=body) from None
    except RowLimitError as e:
        raise from_row_limit(e, "rows", "split the request") from None
    except BodyShapeError as e:
        raise ApiError(422, "validation", str(e)) from None
    if "dataframe_records" in parsed:
        flights = parsed["dataframe_records"]
    else:
        flights = _split_records(parsed["dataframe_split"], svc)
    if not flights:
        raise ApiError(422, "validation", "no rows to score")
    _, scores = svc.score("/invocations", request.scope["request_id"], Flights(flights))
    return Response(orjson.dumps({"predictions": scores.tolist()}), media_type=JSON)
