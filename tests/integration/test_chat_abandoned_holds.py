"""A completion whose Lambda died between hold and settlement strands nothing: the
reconciler's chat-holds pass releases the account's or the L402 credential's hold (and the
pool's part), once."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import identities
import pytest

from timmy import freetier, reconcile
from timmy.accounts import tokens
from timmy.chat.payers import AccountPayer, HoldRecord, L402Payer
from timmy.data import accounts as account_data
from timmy.data import l402 as l402_data
from timmy.data.accounts import LedgerReason, ledger_mismatches
from timmy.data.identities import TrustTier
from timmy.data.l402 import L402LedgerReason
from timmy.data.pool import Serve
from timmy.db.connection import db, transaction


def account(balance: int, pubkey: str | None = None) -> str:
    account_id = str(uuid.uuid4())
    with transaction() as tx:
        account_data.insert(
            tx,
            account_id=account_id,
            token_sha256=tokens.token_hash(tokens.new_token()),
            nostr_pubkey=pubkey,
        )
        account_data.credit(
            tx,
            account_id,
            balance,
            reason=LedgerReason.TOPUP,
            reference=hashlib.sha256(account_id.encode()).hexdigest(),
        )
    return account_id


def dead_completion(
    account_id: str, pubkey: str | None, *, hold: int, pool: int, age_seconds: int
) -> str:
    """A completion that took its holds and whose Lambda never came back."""
    return held_completion(
        AccountPayer(account_id=account_id, nostr_pubkey=pubkey),
        hold=hold,
        pool=pool,
        age_seconds=age_seconds,
    )


def held_completion(
    payer: AccountPayer | L402Payer, *, hold: int, pool: int, age_seconds: int
) -> str:
    request_id = str(uuid.uuid4())
    with transaction() as tx:
        payer.lock(tx)
        if pool:
            assert payer.nostr_pubkey is not None
            assert freetier.reserve_partial_grant(pool, payer.nostr_pubkey, tx=tx) == pool
        payer.take(
            tx,
            HoldRecord(
                request_id=request_id,
                model="stub",
                btc_price_usd=Decimal(100_000),
                input_tokens=10,
                output_tokens=10,
                max_cost_sats=hold + pool,
                reserved_sats=hold,
                free_tier=Serve.PARTIAL if pool else Serve.GATE,
                pool_reserved_sats=pool,
            ),
            base_url="http://127.0.0.1:3000",
        )
        tx.execute(
            "UPDATE account_chat_requests SET created_at = now() - CAST(:age AS integer)"
            " * interval '1 second' WHERE id = :id",
            age=age_seconds,
            id=request_id,
        )
    return request_id


def balance(account_id: str) -> int:
    return int(db().scalar("SELECT balance_sats FROM accounts WHERE id = :id", id=account_id))


def test_the_reconciler_releases_a_dead_completions_hold_once(clean_db: None) -> None:
    freetier.seed_pool()
    db().execute("UPDATE generosity_pool SET balance_sats = 1000")
    pubkey = identities.make_identity(TrustTier.TRUSTED)
    account_id = account(100, pubkey)
    dead = dead_completion(account_id, pubkey, hold=30, pool=5, age_seconds=1200)
    fresh = dead_completion(account_id, None, hold=10, pool=0, age_seconds=0)
    assert balance(account_id) == 60
    assert int(db().scalar("SELECT balance_sats FROM generosity_pool")) == 995

    first = reconcile.run()
    second = reconcile.run()

    assert (first.ended["chat_holds"], second.ended["chat_holds"]) == (1, 0)
    assert balance(account_id) == 90  # the running one keeps its hold
    assert int(db().scalar("SELECT balance_sats FROM generosity_pool")) == 1000
    states = dict(
        (row["id"], (row["state"], row["error_code"]))
        for row in db().all("SELECT id::text AS id, state, error_code FROM account_chat_requests")
    )
    assert states == {dead: ("failed", "abandoned"), fresh: ("reserved", None)}
    with transaction() as tx:
        assert ledger_mismatches(tx) == []


def funded_credential(balance_sats: int) -> str:
    """An L402 token whose invoice was paid (funded through the on-paid handler's SQL)."""
    token_id = uuid.uuid4().hex * 2
    payment_hash = hashlib.sha256(token_id.encode()).hexdigest()
    with transaction() as tx:
        tx.execute(
            "INSERT INTO invoices (payment_hash, purpose, owner_id, amount_sats, payment_request,"
            " expires_at) VALUES (:h, 'l402', :owner, :amount, 'lnbcrt1sample',"
            " now() + interval '10 minutes')",
            h=payment_hash,
            owner=token_id,
            amount=balance_sats,
        )
        l402_data.insert(
            tx,
            token_id=token_id,
            payment_hash=payment_hash,
            root_key=bytes(32),
            route_id="chat_completions",
            capability="chat",
            account_id=None,
            amount_sats=balance_sats,
            valid_until=datetime.now(UTC) + timedelta(days=1),
        )
        assert l402_data.fund(tx, token_id, balance_sats, payment_hash=payment_hash) == balance_sats
        assert l402_data.fund(tx, token_id, balance_sats, payment_hash=payment_hash) is None
    return token_id


def test_the_reconciler_releases_a_dead_l402_completions_hold_once(clean_db: None) -> None:
    token_id = funded_credential(50)
    held_completion(L402Payer(token_id=token_id), hold=30, pool=0, age_seconds=3600)
    with transaction() as tx:
        assert l402_data.balance(tx, token_id) == 20

    first = reconcile.run()
    second = reconcile.run()

    assert (first.ended["chat_holds"], second.ended["chat_holds"]) == (1, 0)
    with transaction() as tx:
        assert l402_data.balance(tx, token_id) == 50
        assert [(e.reason, e.amount_sats) for e in l402_data.ledger(tx, token_id)] == [
            (L402LedgerReason.FUNDED, 50),
            (L402LedgerReason.CHAT_HOLD, -30),
            (L402LedgerReason.CHAT_RELEASE, 30),
        ]
        assert l402_data.ledger_mismatches(tx) == []
    assert db().scalar("SELECT state FROM account_chat_requests") == "failed"


def test_a_credential_never_goes_below_zero(clean_db: None) -> None:
    token_id = funded_credential(5)
    with transaction() as tx:
        assert (
            l402_data.debit(tx, token_id, 6, reason=L402LedgerReason.CHAT_HOLD, reference="x")
            is None
        )
    with pytest.raises(Exception, match="l402_tokens_balance_sats_check"), transaction() as tx:
        tx.execute("UPDATE l402_tokens SET balance_sats = -1 WHERE token_id = :id", id=token_id)
