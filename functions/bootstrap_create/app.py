"""POST /api/bootstrap: an invoice that, once paid, provisions a Bitcoin full node."""

from __future__ import annotations

from timmy.api import HttpApi, base_url, error_doc, make_handler, ok_doc
from timmy.bootstrap.models import BootstrapCreated
from timmy.bootstrap.service import create_job

app = HttpApi()


@app.post(
    "/api/bootstrap",
    summary="Order a Bitcoin full node: returns the invoice to pay",
    tags=["bootstrap"],
    status_code=201,
    responses={
        201: ok_doc("Job created, awaiting payment", BootstrapCreated),
        502: error_doc(
            "lightning_bad_response: the Lightning backend answered nonsense; nothing changed"
        ),
        503: error_doc("Lightning backend or workflow unavailable; nothing was created"),
    },
)
def create_bootstrap() -> BootstrapCreated:
    return create_job(base_url=base_url(app))


handler = make_handler(app)
