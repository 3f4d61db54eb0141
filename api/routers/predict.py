"""POST /v1/predict: one flight or a batch → probability, decision, model version, request id."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from api.errors import JSON, ApiError, from_row_limit, from_validation
from api.openapi import ERROR_RESPONSES, json_body
from api.responses import PredictResponse
from api.routing import RawRoute
from api.service import service_of
from api.validation import BodyShapeError, RowLimitError

router = APIRouter(tags=["predict"], route_class=RawRoute)


@router.post(
    "/v1/predict",
    summary="Probability that scheduled flights are disrupted",
    description='Body: one flight object, or `{"flights": [...]}` with up to MAX_BATCH_ROWS '
    "flights. Weather fields may be null or absent (scored as missing). A `dest` the model has "
    "not learned is scored as missing too. Predictions keep the order of the input.",
    response_model=None,
    responses={200: {"model": PredictResponse}, **ERROR_RESPONSES},
    openapi_extra=json_body("PredictRequest"),
)
async def predict(request: Request) -> Response:
    svc = service_of(request)  # no dependency injection on the hot path: it costs ~0.1 ms
    body = await request.body()
    try:
        flights = svc.adapters.predict_batch(body, svc.settings.max_batch_rows)
    except ValidationError as e:
        raise from_validation(e, body=body) from None
    except RowLimitError as e:
        raise from_row_limit(e, "flights", "split the batch") from None
    except BodyShapeError as e:
        raise ApiError(422, "validation", str(e)) from None
    return Response(svc.predict_body(request.scope["request_id"], flights), media_type=JSON)
