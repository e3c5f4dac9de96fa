"""Withdrawing a session's balance: the session as a payout source.

The balance stays the caller's after the session expires (idle or at the end of its
lifetime): it can no longer be spent on requests, but it can always be withdrawn, with the
session's macaroon, expired or not. A top-up paid after the session expired is credited and
withdrawable in the same way (its invoice expires no later than the session, so that only
happens when the payment raced the expiry).

Fees: the session bears the routing fee. The amount plus the fee reserve is held from the
balance; once paid, the real fee (at most the reserve) is charged and the rest returns. The
most a balance can withdraw is ``withdrawable_sats`` on GET /api/sessions/{id}.
"""

from __future__ import annotations

from typing import Final

from timmy.data import sessions as data
from timmy.db.connection import Db
from timmy.payouts import service as payouts
from timmy.payouts.errors import InsufficientBalance
from timmy.payouts.sources import CreditReason
from timmy.payouts.views import PayoutAnswer
from timmy.sessions import auth
from timmy.sessions.errors import SessionNotPaid
from timmy.sessions.service import load, parse_session_id
from timmy.sessions.settings import session_settings

KIND: Final = "session_withdrawal"


class SessionBalanceSource:
    kind = KIND
    bears_fee = True

    def debit(
        self, tx: Db, source_id: str, *, amount_sats: int, debit_sats: int, payment_hash: str
    ) -> int:
        left = data.debit_for_payout(tx, source_id, amount_sats=debit_sats)
        if left is None:
            raise InsufficientBalance(
                f"The balance cannot cover {amount_sats} sats plus a routing-fee reserve of"
                f" {debit_sats - amount_sats} sats; see withdrawable_sats on the session."
            )
        return left

    def credit(
        self, tx: Db, source_id: str, sats: int, *, reason: CreditReason, payment_hash: str
    ) -> int:
        return data.give_back(tx, source_id, amount_sats=sats)

    def balance(self, tx: Db, source_id: str) -> int:
        return data.balance(tx, source_id)


SESSION_WITHDRAWAL: Final = SessionBalanceSource()


def withdraw(
    raw_session_id: str, authorization: str | None, bolt11: str, amount_sats: int | None = None
) -> PayoutAnswer:
    """Pay ``bolt11`` out of the session's balance (see :mod:`timmy.payouts.service`).

    Refusals, none of which changes anything: unknown session 404; missing, invalid or
    foreign macaroon 401/403 (an expired one is accepted: the balance is still the caller's);
    unpaid deposit 402 ``session_not_paid``; the invoice's checks 400/409; a balance short of
    the amount plus its fee reserve 402 ``insufficient_balance``.
    """
    session_id = parse_session_id(raw_session_id)
    row = load(session_id, session_settings())
    auth.authorize(authorization, session_id, allow_expired=True)
    if not row.paid:
        raise SessionNotPaid("This session's deposit has not been paid yet.")
    return payouts.pay_out(SESSION_WITHDRAWAL, session_id, bolt11, amount_sats=amount_sats).answer
