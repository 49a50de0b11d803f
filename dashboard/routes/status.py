"""Operations: liveness, readiness and Prometheus metrics; no key needed."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from dashboard.broker import BrokerDownError
from dashboard.deps import Context
from dashboard.schemas import ErrorBody
from storage.errors import StoreDownError

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    """The process or the store is fine."""

    status: str


@router.get("/healthz", response_model=Health, summary="Process is up")
def healthz() -> Health:
    """Answers as long as the process serves requests."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    responses={
        503: {"model": ErrorBody, "description": "the store or the MQTT broker does not answer"}
    },
    summary="Store and broker are reachable",
)
def readyz(context: Context) -> Health:
    """200 when the store answers queries and the broker accepts a session, 503 otherwise."""
    if not context.reader.ready():
        raise StoreDownError("the store does not answer")
    problem = context.broker.problem()
    if problem is not None:
        raise BrokerDownError(f"the MQTT broker is not reachable: {problem}")
    return Health(status="ready")


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
    summary="Prometheus metrics",
)
def metrics(context: Context) -> Response:
    """Request counts and latencies by route, export rows, rate-limited requests."""
    return Response(generate_latest(context.metrics.registry), media_type=CONTENT_TYPE_LATEST)
