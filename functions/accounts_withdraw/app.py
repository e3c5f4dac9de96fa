"""POST /api/v1/account/withdraw and the peer's POST /api/v1/ai-for-hire/collect: pay a BOLT11
invoice out of the token's account."""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, Field, StrictInt

from timmy.accounts import tokens
from timmy.accounts.withdrawals import withdraw
from timmy.api import HttpApi, header, make_handler, response_doc
from timmy.observability import metrics
from timmy.payouts.views import PayoutAnswer

app = HttpApi()


class AccountWithdrawBody(BaseModel):
    invoice: str = Field(description="A BOLT11 invoice of yours, with an amount")
    amount_sats: StrictInt | None = Field(
        default=None,
        description="If given, the invoice's amount must equal it; the invoice's own amount is"
        " what is debited and paid",
    )


_DESCRIPTION = (
    "Needs the account's token (`X-Token` or `Authorization: Bearer`). The invoice's own amount"
    " plus a routing-fee reserve is debited from the balance and the invoice paid: `status`"
    " paid (the real fee is charged, at most the reserve, the rest returned), pending (the"
    " node's answer is not known yet; a scheduled reconciler settles it) or failed (definitely"
    " not paid; everything was returned). Each invoice pays out once, across every payout."
    " `withdrawable_sats` on the account is the largest amount the balance can withdraw."
)
_RESPONSES = {
    200: response_doc("The payout's outcome and the balance after it", PayoutAnswer),
    400: response_doc(
        "invalid_invoice, amount_required, amount_mismatch, wrong_network, invoice_expired"
        " or own_invoice; nothing was debited"
    ),
    401: response_doc("missing_token; invalid_token: the token names no account"),
    402: response_doc(
        "The balance cannot cover the amount plus its fee reserve (insufficient_balance);"
        " nothing was debited"
    ),
    409: response_doc("The invoice was used for a payout before (invoice_already_used)"),
}


def _withdraw(body: AccountWithdrawBody) -> PayoutAnswer:
    token = tokens.required(header(app, "x-token"), header(app, "authorization"))
    payout = withdraw(token, body.invoice, body.amount_sats)
    metrics.add_metric(
        name=f"AccountWithdrawals{payout.status.title()}", unit=MetricUnit.Count, value=1
    )
    if payout.status == "paid":
        metrics.add_metric(name="WithdrawnSats", unit=MetricUnit.Count, value=payout.amount_sats)
    return payout


@app.post(
    "/api/v1/account/withdraw",
    summary="Withdraw from the prepaid account",
    description=_DESCRIPTION,
    tags=["accounts"],
    responses=_RESPONSES,
)
def account_withdraw(body: AccountWithdrawBody) -> PayoutAnswer:
    return _withdraw(body)


@app.post(
    "/api/v1/ai-for-hire/collect",
    summary="Withdraw from the prepaid account (the peer's path)",
    description=_DESCRIPTION,
    tags=["accounts"],
    responses=_RESPONSES,
)
def hire_collect(body: AccountWithdrawBody) -> PayoutAnswer:
    return _withdraw(body)


handler = make_handler(app)
