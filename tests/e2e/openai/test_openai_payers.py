"""Who pays over ``/v1``: racing completions never overspend an account, a session macaroon
pays from the session, the free tier serves a Nostr-bound account."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import httpx
import identities
import openai
from concurrency import outcomes
from paid_sessions import paid_session

from timmy import freetier
from timmy.data.accounts import LedgerReason, ledger_mismatches
from timmy.data.identities import TrustTier
from timmy.db.connection import db, transaction
from timmy.sessions import auth

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.e2e.openai.conftest import Account, Sdk

MESSAGES: list[Any] = [{"role": "user", "content": "Count to three."}]


def test_twenty_parallel_completions_on_a_balance_for_five_serve_exactly_five(
    sdk: Sdk, accounts: Callable[..., Account], free_model: None
) -> None:
    # Given an account whose balance holds exactly five completions (1 sat each)
    account = accounts(5)
    clients = [sdk.client(account.token, max_retries=0) for _ in range(20)]
    for client in clients:  # connect first: the race belongs in the handlers and the database
        assert client.models.list().data

    def one(client: openai.OpenAI) -> Callable[[], int]:
        def call() -> int:
            try:
                client.chat.completions.create(model="stub", messages=MESSAGES, max_tokens=16)
            except openai.APIStatusError as error:
                return error.status_code
            return 200

        return call

    results = outcomes([one(client) for client in clients])
    assert Counter(results) == {200: 5, 402: 15}
    assert account.balance() == 0
    ledger = account.ledger()
    assert sum(amount for _, amount in ledger) == 0
    assert Counter(reason for reason, _ in ledger) == {
        LedgerReason.TOPUP: 1,
        LedgerReason.CHAT_HOLD: 5,
    }
    rows = account.requests()
    assert [row["charged_sats"] for row in rows] == [1] * 5
    with transaction() as tx:
        assert ledger_mismatches(tx) == []


def test_a_session_macaroon_pays_from_the_session(
    sdk: Sdk, free_model: None, clean_db: None
) -> None:
    session_id = paid_session(50)
    expires_at = int(
        db().scalar(
            "SELECT extract(epoch FROM lifetime_ends_at)::bigint FROM sessions WHERE id = :id",
            id=session_id,
        )
    )
    macaroon = auth.mint(session_id, expires_at)
    raw = sdk.client(macaroon).chat.completions.with_raw_response.create(
        model="stub", messages=MESSAGES
    )
    assert raw.headers["x-timmy-cost-sats"] == "1"
    assert raw.headers["x-timmy-balance-sats"] == "49"
    row = db().one(
        "SELECT state, charged_sats, model FROM session_requests WHERE session_id = :id",
        id=session_id,
    )
    assert row == {"state": "complete", "charged_sats": 1, "model": "stub"}


def test_a_tampered_session_macaroon_is_401_and_charges_nothing(
    sdk: Sdk, free_model: None, clean_db: None
) -> None:
    session_id = paid_session(50)
    macaroon = auth.mint(session_id, 4_000_000_000)
    tampered = macaroon[:-6] + ("AAAAAA" if not macaroon.endswith("AAAAAA") else "BBBBBB")
    answer = httpx.post(
        f"{sdk.base_url}/v1/chat/completions",
        json={"model": "stub", "messages": MESSAGES},
        headers={"Authorization": f"Bearer {tampered}"},
    )
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "invalid_macaroon"
    assert db().scalar("SELECT balance_sats FROM sessions WHERE id = :id", id=session_id) == 50


def test_an_unpaid_session_is_402_not_409(sdk: Sdk, clean_db: None) -> None:
    import uuid

    from timmy import payments
    from timmy.data import sessions as session_data
    from timmy.sessions.service import PURPOSE_DEPOSIT

    session_id = str(uuid.uuid4())
    created = payments.request_invoice(100, "test deposit")
    with transaction() as tx:
        payments.record_invoice(tx, created, purpose=PURPOSE_DEPOSIT, owner_id=session_id)
        session_data.insert(
            tx,
            session_id=session_id,
            deposit_sats=100,
            deposit_payment_hash=created.payment_hash,
            nostr_pubkey=None,
        )
    answer = httpx.post(
        f"{sdk.base_url}/v1/chat/completions",
        json={"model": "stub", "messages": MESSAGES},
        headers={"Authorization": f"Bearer {auth.mint(session_id, 4_000_000_000)}"},
    )
    assert answer.status_code == 402
    assert answer.json()["error"]["code"] == "session_not_paid"


def test_the_free_tier_pays_for_a_trusted_nostr_bound_account(
    sdk: Sdk, accounts: Callable[..., Account], free_model: None
) -> None:
    freetier.seed_pool()
    db().execute("UPDATE generosity_pool SET balance_sats = 1000")
    pubkey = identities.make_identity(TrustTier.ELITE)
    account = accounts(0, nostr_pubkey=pubkey)
    raw = sdk.client(account.token).chat.completions.with_raw_response.create(
        model="stub", messages=MESSAGES
    )
    assert raw.headers["x-timmy-cost-sats"] == "0"
    assert raw.headers["x-timmy-balance-sats"] == "0"
    [row] = account.requests()
    assert (row["free_tier"], row["absorbed_sats"], row["charged_sats"]) == ("free", 1, 0)
    assert int(db().scalar("SELECT balance_sats FROM generosity_pool")) == 999
    assert db().scalar("SELECT count(*) FROM free_tier_grants WHERE pubkey = :pk", pk=pubkey) == 1


def test_a_partial_grant_splits_the_cost_between_pool_and_balance(
    sdk: Sdk, accounts: Callable[..., Account], sat_per_token: None
) -> None:
    freetier.seed_pool()
    db().execute("UPDATE generosity_pool SET balance_sats = 1000")
    budget = freetier.pool_status().daily_budgets[TrustTier.ESTABLISHED]
    pubkey = identities.make_identity(TrustTier.ESTABLISHED)
    account = accounts(1_000, nostr_pubkey=pubkey)
    long_question = [{"role": "user", "content": "Explain this. " * 20}]
    raw = sdk.client(account.token).chat.completions.with_raw_response.create(
        model="stub", messages=long_question, max_tokens=200
    )
    usage = raw.parse().usage
    assert usage is not None
    cost = usage.total_tokens  # one sat per token, more than the day's budget
    assert cost > budget
    charged = cost - budget
    assert raw.headers["x-timmy-cost-sats"] == str(charged)
    assert account.balance() == 1_000 - charged
    [row] = account.requests()
    assert (row["free_tier"], row["pool_reserved_sats"], row["absorbed_sats"]) == (
        "partial",
        budget,
        budget,
    )
    credited = freetier.credit_amount(charged)
    assert int(db().scalar("SELECT balance_sats FROM generosity_pool")) == 1000 - budget + credited
