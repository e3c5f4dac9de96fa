"""GET /api/healthz"""

from __future__ import annotations

from dataclasses import asdict
from typing import Literal

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel, Field

from timmy import health
from timmy.api import HttpApi, make_handler, response_doc

app = HttpApi()


class Health(BaseModel):
    status: Literal["ok", "degraded"] = Field(
        description="degraded (HTTP 503) when the database or the Lightning backend is down"
    )
    database: Literal["up", "down"]
    lightning: Literal["up", "down"] = Field(
        description="the Lightning backend answered a probe bounded by"
        " HEALTH_LIGHTNING_TIMEOUT_SECONDS"
    )
    lightning_mode: str
    ai_mode: str
    ai_configured: bool = Field(description="the AI provider has what it needs (its API key)")
    price_feed: Literal["fixed", "live", "fallback"]
    price_feed_age_seconds: float | None = Field(
        description="seconds since a BTC price feed last answered; null when fixed or never"
    )
    provisioner_mode: str
    version: str


@app.get(
    "/api/healthz",
    summary="Service health",
    tags=["health"],
    responses={
        200: response_doc("Every dependency the service needs to take payments is up", Health),
        503: response_doc("Degraded: the database or the Lightning backend is unreachable", Health),
    },
)
def healthz() -> Response[Health]:
    report = health.report()
    body = Health.model_validate(asdict(report))
    status = 200 if report.status is health.Status.OK else 503
    return Response(status, "application/json", body, headers={"Cache-Control": "no-store"})


handler = make_handler(app)
