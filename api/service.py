"""The per-worker service object: settings, model holder, metrics, prediction log and scoring."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import numpy as np
import orjson
from fastapi import Request

from api.batch import Flights
from api.metrics import Metrics, observe
from api.predlog import PredictionLog
from api.scoring import LoadedModel
from api.settings import Settings
from api.state import ModelHolder, reason_of
from api.validation import Adapters
from flightdelay.core.errors import ModelError

log = logging.getLogger("flightdelay.api")


class Service:
    def __init__(self, settings: Settings) -> None:
        # Imported here, not per worker: under gunicorn's preload the master pays for it once and
        # a replacement worker forks ready to load the model in milliseconds.
        import xgboost  # noqa: F401

        self.settings = settings
        self.metrics = Metrics()
        self.adapters = Adapters()
        self.holder = ModelHolder(
            settings.model_control_file,
            # the answer must come before the request timeout turns it into a 504
            ack_timeout=min(settings.reload_timeout_seconds, 0.8 * settings.request_timeout_seconds),
        )
        self.predlog = PredictionLog(
            settings.prediction_log,
            settings.prediction_log_sample_rate,
            settings.prediction_log_queue_bytes,
            on_drop=self.metrics.predlog_drop,
        )
        self._watcher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        m = await self.holder.start(self.settings.model_dir)
        self.metrics.set_model(m.info_labels(), None)
        self.predlog.start()
        if self.settings.model_control_file is not None:
            self._watcher = asyncio.create_task(self._watch(), name="model-control-watch")
        log.info("model %s loaded from %s (generation %d)", m.version, m.bundle.path, m.generation)

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
        self.holder.stop()
        await asyncio.to_thread(self.predlog.stop)

    def score(self, route: str, request_id: str, flights: Flights) -> tuple[LoadedModel, np.ndarray]:
        model = self.holder.current  # one snapshot for the whole request
        scores = model.predict(flights)
        observe(self.metrics.batch_rows_of(route), len(flights))
        self.metrics.observe_scores(scores)
        self.predlog.record(request_id, model.version, model.bundle.threshold, flights.rows, scores)
        return model, scores

    def predict_body(self, request_id: str, flights: Flights) -> bytes:
        model, scores = self.score("/v1/predict", request_id, flights)
        return prediction_body(request_id, model.version, model.bundle.threshold, scores)

    async def reload(self, model_dir: Path) -> tuple[LoadedModel, LoadedModel | None]:
        try:
            new, old = await self.holder.reload(model_dir)
        except ModelError as e:
            self.metrics.reloads.labels(result="failure").inc()
            log.error(
                "model reload to %s refused, %s keeps serving: %s",
                model_dir,
                self.holder.current.version,
                e.message,
            )
            raise
        self._swapped(new, old)
        return new, old

    def _swapped(self, new: LoadedModel, old: LoadedModel | None) -> None:
        self.metrics.reloads.labels(result="success").inc()
        self.metrics.set_model(new.info_labels(), old.info_labels() if old else None)
        log.info(
            "model %s now served (generation %d, was %s)",
            new.version,
            new.generation,
            old.version if old else None,
        )

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.settings.reload_poll_seconds)
            try:
                swapped = await self.holder.sync()
            except Exception as e:  # the watcher must outlive any error, or this worker splits off
                self.metrics.reloads.labels(result="failure").inc()
                log.error(
                    "model reload from the control file failed, keeping %s: %s",
                    self.holder.current.version,
                    reason_of(e),
                )
                continue
            if swapped is not None:
                self._swapped(*swapped)


def prediction_body(request_id: str, model_version: str, threshold: float, scores: np.ndarray) -> bytes:
    """The JSON bytes of a /v1/predict answer (`PredictResponse`)."""
    return orjson.dumps(
        {
            "request_id": request_id,
            "model_version": model_version,
            "threshold": threshold,
            "predictions": [{"probability": p, "decision": p >= threshold} for p in scores.tolist()],
        }
    )


def service_of(request: Request) -> Service:
    """The worker's service, stored on the app by the factory."""
    svc: Service = request.app.state.service
    return svc


async def get_service(request: Request) -> Service:
    """Dependency form of `service_of` for the routes off the hot path."""
    return service_of(request)
