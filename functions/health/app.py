"""GET /api/healthz"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from timmy import health
from timmy.api import HttpApi, make_handler

app = HttpApi()


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
