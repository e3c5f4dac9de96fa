"""POST /api/sessions/{session_id}/withdraw: pay a BOLT11 invoice out of the session's balance."""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, Field, StrictInt

from timmy.api import HttpApi, header, make_handler, response_doc
from timmy.observability import metrics
from timmy.payouts.views import PayoutAnswer
from timmy.sessions.withdrawals import withdraw

app = HttpApi()


class SessionWithdrawBody(BaseModel):
    invoice: str = Field(description="A BOLT11 invoice of yours, with an amount")
    amount_sats: StrictInt | None = Field(
        default=None, description="If given, the invoice's amount must equal it"
    )


@app.post(
    "/api/sessions/<session_id>/withdraw",
    summary="Withdraw from a session's balance",
    description=(
        "Needs `Authorization: Bearer <macaroon>`; an expired session's macaroon still"
        " withdraws (its balance stays the caller's). The invoice's amount plus a routing-fee"
        " reserve is held from the balance and the invoice paid: `status` paid (the real fee is"
        " charged, at most the reserve, the rest returned), pending (the node's answer is not"
        " known yet; a scheduled reconciler settles it) or failed (definitely not paid;"
        " everything was returned). Each invoice pays out once, across every payout."
        " `withdrawable_sats` on the session is the largest amount the balance can withdraw."
    ),
    tags=["sessions"],
    responses={
        200: response_doc("The payout's outcome and the balance after it", PayoutAnswer),
        400: response_doc(
            "invalid_invoice, amount_required, amount_mismatch, wrong_network, invoice_expired"
            " or own_invoice; nothing was debited"
        ),
        401: response_doc("Macaroon missing (missing_macaroon), undecodable or forged"),
        402: response_doc(
            "Deposit not paid (session_not_paid), or the balance cannot cover the amount plus"
            " its fee reserve (insufficient_balance); nothing was debited"
        ),
        403: response_doc("The macaroon belongs to another session (macaroon_wrong_session)"),
        404: response_doc("No session has this id (malformed ids included)"),
        409: response_doc("The invoice was used for a payout before (invoice_already_used)"),
    },
)
def session_withdraw(session_id: str, body: SessionWithdrawBody) -> PayoutAnswer:
    payout = withdraw(session_id, header(app, "authorization"), body.invoice, body.amount_sats)
    metrics.add_metric(name=f"Withdrawals{payout.status.title()}", unit=MetricUnit.Count, value=1)
    if payout.status == "paid":
        metrics.add_metric(name="WithdrawnSats", unit=MetricUnit.Count, value=payout.amount_sats)
    return payout


handler = make_handler(app)
