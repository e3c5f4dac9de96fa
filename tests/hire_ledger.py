"""Test helpers for AI for Hire: funded accounts made in the database, and the conservation
sum (balances + escrows + fees paid) that no transition may change."""

from __future__ import annotations

import uuid

from timmy.accounts import tokens
from timmy.data import accounts
from timmy.data import hire as hire_data
from timmy.data.accounts import Account, LedgerReason
from timmy.db.connection import transaction

FEES = (LedgerReason.HIRE_TASK_FEE.value, LedgerReason.HIRE_QUOTE_FEE.value)


def funded_account(sats: int) -> tuple[Account, str]:
    """A new account credited ``sats`` (a top-up ledger row) and its token."""
    token = tokens.new_token()
    account_id = str(uuid.uuid4())
    with transaction() as tx:
        accounts.insert(
            tx, account_id=account_id, token_sha256=tokens.token_hash(token), nostr_pubkey=None
        )
        if sats:
            accounts.credit(
                tx, account_id, sats, reason=LedgerReason.TOPUP, reference=uuid.uuid4().hex
            )
        account = accounts.get(tx, account_id)
    assert account is not None
    return account, token


def balance(account_id: str) -> int:
    with transaction() as tx:
        account = accounts.get(tx, account_id)
    assert account is not None
    return account.balance_sats


def conserved_total() -> int:
    """Every balance + every escrow + every fee paid: only a top-up changes it. Checks the
    ledgers agree with their balances on the way."""
    with transaction() as tx:
        assert accounts.ledger_mismatches(tx) == []
        assert hire_data.escrow_ledger_mismatches(tx) == []
        balances = int(tx.scalar("SELECT COALESCE(sum(balance_sats), 0) FROM accounts"))
        fees = -int(
            tx.scalar(
                "SELECT COALESCE(sum(amount_sats), 0) FROM account_ledger WHERE reason IN (:a, :b)",
                a=FEES[0],
                b=FEES[1],
            )
        )
        return balances + hire_data.escrow_total(tx) + fees
