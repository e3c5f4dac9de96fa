"""Withdrawing from a prepaid account: the account as a payout source.

The account bears the routing fee: the invoice's own amount (never a number the client sends
that differs from it) plus the fee reserve is debited with its ledger row in the transaction
that writes the payout; once paid, the real fee (at most the reserve) is charged and the rest
returns as a ``withdrawal_fee_return`` row; a definitely failed payout returns everything as a
``withdrawal_failed`` row; an unknown outcome stays pending until the reconciler asks the node.
Every ledger row's reference is the payout's payment hash.
"""

from __future__ import annotations

from typing import Final

from timmy.accounts.service import WITHDRAWAL_KIND, authenticate
from timmy.data import accounts as data
from timmy.data.accounts import LedgerReason
from timmy.db.connection import Db
from timmy.payouts import service as payouts
from timmy.payouts.errors import InsufficientBalance
from timmy.payouts.sources import CreditReason
from timmy.payouts.views import PayoutAnswer

KIND: Final = WITHDRAWAL_KIND

_LEDGER_REASON: Final = {
    CreditReason.FEE_RETURN: LedgerReason.WITHDRAWAL_FEE_RETURN,
    CreditReason.FAILED: LedgerReason.WITHDRAWAL_FAILED,
}


class AccountBalanceSource:
    kind = KIND
    bears_fee = True

    def debit(
        self, tx: Db, source_id: str, *, amount_sats: int, debit_sats: int, payment_hash: str
    ) -> int:
        left = data.debit(
            tx, source_id, debit_sats, reason=LedgerReason.WITHDRAWAL, reference=payment_hash
        )
        if left is None:
            raise InsufficientBalance(
                f"The balance cannot cover {amount_sats} sats plus a routing-fee reserve of"
                f" {debit_sats - amount_sats} sats."
            )
        return left

    def credit(
        self, tx: Db, source_id: str, sats: int, *, reason: CreditReason, payment_hash: str
    ) -> int:
        balance = data.credit(
            tx, source_id, sats, reason=_LEDGER_REASON[reason], reference=payment_hash
        )
        assert balance is not None  # only top-up credits are deduplicated
        return balance

    def balance(self, tx: Db, source_id: str) -> int:
        account = data.get(tx, source_id)
        return 0 if account is None else account.balance_sats


ACCOUNT_WITHDRAWAL: Final = AccountBalanceSource()


def withdraw(token: str, bolt11: str, amount_sats: int | None = None) -> PayoutAnswer:
    """Pay ``bolt11`` out of the token's account (see :mod:`timmy.payouts.service`).

    Refusals, none of which changes anything: an unknown token 401; the invoice's checks
    400/409; a balance short of the amount plus its fee reserve 402 ``insufficient_balance``.
    """
    account = authenticate(token)
    return payouts.pay_out(ACCOUNT_WITHDRAWAL, account.id, bolt11, amount_sats=amount_sats).answer
