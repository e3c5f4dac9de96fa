"""What a payout is paid from: the pluggable source interface and the registry of sources.

A source is debited in the transaction that writes the payout, and credited back in the one
that settles it, so its balance and the payout can never disagree. A new way of paying out
(prepaid accounts, marketplace collect) is a new source registered here; the payout path
itself does not change.
"""

from __future__ import annotations

import functools
import importlib
from enum import StrEnum
from typing import Protocol

from timmy.db.connection import Db
from timmy.payouts.errors import UnknownPayoutSource


class CreditReason(StrEnum):
    """Why a payout gives sats back to its source (a source with a ledger records it)."""

    FEE_RETURN = "fee_return"  # paid: the unused part of the routing-fee reserve
    FAILED = "failed"  # definitely not paid: everything that was taken


class PayoutSource(Protocol):
    kind: str
    # True: the source is debited amount + fee reserve and bears the routing fee (up to the
    # reserve). False: the payee gets exactly the amount and Timmy bears the fee.
    bears_fee: bool

    def debit(
        self, tx: Db, source_id: str, *, amount_sats: int, debit_sats: int, payment_hash: str
    ) -> int:
        """Take ``debit_sats`` for the payout of ``amount_sats`` to ``payment_hash``; the
        balance left.

        Locks what it debits. Raises the source's own refusal (insufficient balance, nothing
        refundable, …); the transaction then rolls back and nothing was taken.
        """
        ...

    def credit(
        self, tx: Db, source_id: str, sats: int, *, reason: CreditReason, payment_hash: str
    ) -> int:
        """Give ``sats`` back for the payout to ``payment_hash``; the balance after."""
        ...

    def balance(self, tx: Db, source_id: str) -> int: ...


# Kind → "module:attribute", resolved lazily so that a handler imports only what it uses; the
# reconciler settles payouts of every kind through this.
SOURCES: dict[str, str] = {
    "job_refund": "timmy.jobs.refunds:JOB_REFUND",
    "session_withdrawal": "timmy.sessions.withdrawals:SESSION_WITHDRAWAL",
    "account_withdrawal": "timmy.accounts.withdrawals:ACCOUNT_WITHDRAWAL",
}


@functools.cache
def source_of(kind: str) -> PayoutSource:
    target = SOURCES.get(kind)
    if target is None:
        raise UnknownPayoutSource(f"No payout source is registered for {kind!r}.")
    module_name, _, attribute = target.partition(":")
    source: PayoutSource = getattr(importlib.import_module(module_name), attribute)
    return source
