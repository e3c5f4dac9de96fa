"""Top-ups of prepaid accounts: bound to their account, credited exactly once, and a preimage
alone never claims one."""

from __future__ import annotations

import pytest
from test_sessions_ledger import race

from timmy.accounts import service, tokens
from timmy.accounts.errors import (
    InvalidPayment,
    InvalidToken,
    MissingToken,
    PaymentPending,
    TopupOutOfRange,
    WrongAccount,
)
from timmy.accounts.views import AccountTopupChallenge
from timmy.data import accounts as data
from timmy.data import invoices
from timmy.db.connection import db, transaction
from timmy.lightning.backends import backend
from timmy.lightning.dev_payer import pay_own_invoice
from timmy.payments import Confirmation, confirm_payment

BASE = "http://localhost:3000"


def topup(amount: int, token: str | None = None) -> AccountTopupChallenge:
    return service.start_topup(amount, token=token, nostr_token=None, base_url=BASE)


def paid_preimage(payment_hash: str) -> str:
    pay_own_invoice(payment_hash)
    with transaction() as tx:
        invoice = invoices.get(tx, payment_hash)
    assert invoice is not None
    assert invoice.preimage is not None
    return invoice.preimage


def test_a_new_account_tops_up_claims_once_and_sees_its_balance(clean_db: None) -> None:
    challenge = topup(50)
    assert challenge.token is not None
    assert challenge.token.startswith("tmy_")
    assert len(challenge.token) == 47
    assert challenge.claim_url == f"{BASE}/api/v1/topup/claim"
    preimage = paid_preimage(challenge.payment_hash)
    first = service.claim(preimage, challenge.token)
    # pay_own_invoice already flipped it, so the credit happened there, exactly once.
    assert first.balance_sats == 50
    replay = service.claim(preimage, challenge.token)
    assert replay.credited_sats == 0
    assert replay.balance_sats == 50
    assert service.get_account(challenge.token).balance_sats == 50
    with transaction() as tx:
        assert [e.amount_sats for e in data.ledger(tx, challenge.account_id)] == [50]


def test_a_refill_with_the_token_credits_the_same_account(clean_db: None) -> None:
    first = topup(10)
    assert first.token is not None
    paid_preimage(first.payment_hash)
    refill = topup(5, first.token)
    assert refill.token is None
    assert refill.account_id == first.account_id
    assert service.get_account(first.token).pending_topups[0].payment_hash == refill.payment_hash
    paid_preimage(refill.payment_hash)
    assert service.get_account(first.token).balance_sats == 15


def test_an_unpaid_topup_claim_is_payment_pending_and_credits_nothing(clean_db: None) -> None:
    challenge = topup(10)
    assert challenge.token is not None
    # The stub keeps the preimage of each invoice it issued; a payer would learn it on paying.
    preimage = db().scalar(
        "SELECT preimage FROM stub_lightning_invoices WHERE payment_hash = :h",
        h=challenge.payment_hash,
    )
    with pytest.raises(PaymentPending):
        service.claim(preimage, challenge.token)
    assert service.get_account(challenge.token).balance_sats == 0


def test_a_preimage_with_another_accounts_token_is_forbidden(clean_db: None) -> None:
    victim = topup(10)
    thief = topup(10)
    assert thief.token is not None
    preimage = paid_preimage(victim.payment_hash)
    with pytest.raises(WrongAccount):
        service.claim(preimage, thief.token)


@pytest.mark.parametrize("forged", ["tmy_" + "A" * 43, "tmy_short", "not-a-token"])
def test_a_forged_token_is_invalid_token(clean_db: None, forged: str) -> None:
    with pytest.raises(InvalidToken):
        service.authenticate(tokens.required(forged, None))
    with pytest.raises(InvalidToken):
        service.get_account(tokens.required(None, f"Bearer {forged}"))


def test_tokens_are_read_from_x_token_or_bearer() -> None:
    token = tokens.new_token()
    assert tokens.required(token, None) == token
    assert tokens.required(None, f"Bearer {token}") == token
    with pytest.raises(MissingToken):
        tokens.required(None, None)
    with pytest.raises(InvalidToken):
        tokens.required(None, f"Basic {token}")


@pytest.mark.parametrize("amount", [0, -5, 1_000_001])
def test_amounts_out_of_bounds_are_refused_and_create_nothing(clean_db: None, amount: int) -> None:
    with pytest.raises(TopupOutOfRange):
        topup(amount)
    with transaction() as tx:
        assert tx.scalar("SELECT count(*) FROM accounts") == 0


@pytest.mark.parametrize("preimage", ["zz", "00" * 31, "00" * 32])
def test_a_preimage_that_pays_no_topup_is_invalid_payment(clean_db: None, preimage: str) -> None:
    challenge = topup(10)
    assert challenge.token is not None
    with pytest.raises(InvalidPayment):
        service.claim(preimage, challenge.token)


def test_racing_confirmations_of_one_topup_credit_it_once(clean_db: None) -> None:
    challenge = topup(70)
    assert challenge.token is not None
    backend().mark_paid(challenge.payment_hash)  # type: ignore[attr-defined]
    outcomes = race(lambda: confirm_payment(challenge.payment_hash).outcome, 12)
    assert outcomes.count(Confirmation.PAID_NOW) == 1
    assert service.get_account(challenge.token).balance_sats == 70
    with transaction() as tx:
        assert [e.amount_sats for e in data.ledger(tx, challenge.account_id)] == [70]
        assert data.ledger_mismatches(tx) == []
