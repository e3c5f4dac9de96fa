"""POST /api/bootstrap: an invoice that, once paid, provisions a Bitcoin full node."""

from __future__ import annotations

from timmy.api import HttpApi, base_url, make_handler
from timmy.bootstrap.models import BootstrapCreated
from timmy.bootstrap.service import create_job

app = HttpApi()


@app.post(
    "/api/bootstrap",
    summary="Order a Bitcoin full node: returns the invoice to pay",
    tags=["bootstrap"],
    status_code=201,
    responses={
        201: {
            "description": "Job created, awaiting payment",
            "content": {"application/json": {"model": BootstrapCreated}},
        },
        503: {"description": "Lightning backend or workflow unavailable; nothing was created"},
    },
)
def create_bootstrap() -> BootstrapCreated:
    return create_job(base_url=base_url(app))


handler = make_handler(app)
