"""POST /api/bootstrap: an invoice that, once paid, provisions a Bitcoin full node."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit

from timmy.api import HttpApi, base_url, created, make_handler, response_doc
from timmy.bootstrap.models import BootstrapCreated
from timmy.bootstrap.service import create_job
from timmy.observability import metrics

app = HttpApi()


@app.post(
    "/api/bootstrap",
    summary="Order a Bitcoin full node: returns the invoice to pay",
    tags=["bootstrap"],
    responses={
        201: response_doc("Job created, awaiting payment", BootstrapCreated),
        502: response_doc(
            "lightning_bad_response: the Lightning backend answered nonsense; nothing changed"
        ),
        503: response_doc("Lightning backend or workflow unavailable; nothing was created"),
    },
)
def create_bootstrap() -> Response[BootstrapCreated]:
    job = create_job(base_url=base_url(app))
    metrics.add_metric(name="BootstrapsOrdered", unit=MetricUnit.Count, value=1)
    return created(job)


handler = make_handler(app)
