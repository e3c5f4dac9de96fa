"""The account ledger in PostgreSQL: append-only, never negative, always summing to the balance."""

from __future__ import annotations

import hashlib
import uuid

import pytest
from pg8000.exceptions import DatabaseError
from test_sessions_ledger import race

from timmy.data import accounts as data
from timmy.data.accounts import LedgerReason
from timmy.db.connection import db, transaction


def new_account() -> str:
    account_id = str(uuid.uuid4())
    with transaction() as tx:
        data.insert(
            tx,
            account_id=account_id,
            token_sha256=hashlib.sha256(account_id.encode()).hexdigest(),
            nostr_pubkey=None,
        )
    return account_id


def test_a_credit_and_a_debit_move_the_balance_with_their_ledger_rows(clean_db: None) -> None:
    account_id = new_account()
    with transaction() as tx:
        assert data.credit(tx, account_id, 10, reason=LedgerReason.TOPUP, reference="h1") == 10
        assert data.debit(tx, account_id, 4, reason=LedgerReason.WITHDRAWAL, reference="p1") == 6
        assert data.debit(tx, account_id, 7, reason=LedgerReason.WITHDRAWAL, reference="p2") is None
        entries = data.ledger(tx, account_id)
        account = data.get(tx, account_id)
    assert [(e.amount_sats, e.reason) for e in entries] == [
        (10, LedgerReason.TOPUP),
        (-4, LedgerReason.WITHDRAWAL),
    ]
    assert account is not None
    assert account.balance_sats == 6


def test_the_same_topup_credits_once(clean_db: None) -> None:
    account_id = new_account()
    with transaction() as tx:
        assert data.credit(tx, account_id, 5, reason=LedgerReason.TOPUP, reference="h") == 5
        assert data.credit(tx, account_id, 5, reason=LedgerReason.TOPUP, reference="h") is None
        assert data.get(tx, account_id).balance_sats == 5  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "statement", ["UPDATE account_ledger SET amount_sats = 99", "DELETE FROM account_ledger"]
)
def test_the_ledger_is_append_only(clean_db: None, statement: str) -> None:
    account_id = new_account()
    with transaction() as tx:
        data.credit(tx, account_id, 5, reason=LedgerReason.TOPUP, reference="h")
    with pytest.raises(DatabaseError, match="append-only"):
        db().execute(statement)
    with transaction() as tx:
        assert [e.amount_sats for e in data.ledger(tx, account_id)] == [5]


def test_the_database_refuses_a_negative_balance(clean_db: None) -> None:
    account_id = new_account()
    with pytest.raises(DatabaseError, match="balance_sats"):
        db().execute("UPDATE accounts SET balance_sats = -1 WHERE id = :id", id=account_id)


def test_concurrent_credits_and_debits_keep_the_ledger_equal_to_every_balance(
    clean_db: None,
) -> None:
    accounts = [new_account() for _ in range(3)]
    with transaction() as tx:
        for account_id in accounts:
            data.credit(tx, account_id, 20, reason=LedgerReason.TOPUP, reference=account_id)
    counter = iter(range(10_000))

    def work() -> int | None:
        n = next(counter)
        account_id = accounts[n % 3]
        with transaction() as tx:
            if n % 2:
                return data.debit(
                    tx, account_id, 3, reason=LedgerReason.WITHDRAWAL, reference=f"p{n}"
                )
            return data.credit(
                tx, account_id, 1, reason=LedgerReason.WITHDRAWAL_FAILED, reference=f"p{n}"
            )

    race(work, 24)
    with transaction() as tx:
        assert data.ledger_mismatches(tx) == []
        assert all(data.get(tx, a).balance_sats >= 0 for a in accounts)  # type: ignore[union-attr]
