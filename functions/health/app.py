"""GET /api/healthz"""

from __future__ import annotations

from typing import Literal

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from pydantic import BaseModel

from timmy import health
from timmy.api import install_error_handlers, make_handler

app = APIGatewayHttpResolver(enable_validation=True)
install_error_handlers(app)


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: Literal["up", "down"]
    lightning_mode: str
    ai_mode: str
    provisioner_mode: str
    version: str


@app.get("/api/healthz", summary="Service health", tags=["health"])
def healthz() -> Health:
    return Health.model_validate(health.report())


handler = make_handler(app)
