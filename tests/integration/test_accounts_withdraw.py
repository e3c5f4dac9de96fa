"""Withdrawals from prepaid accounts through the one payout path, on real PostgreSQL: the
invoice's own amount plus a fee reserve is debited with its ledger row, the real fee charged,
failures credited back, unknown outcomes left to the reconciler, and the ledger always equal to
the balance, also under many parallel withdrawals."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta

import pytest
from concurrency import outcomes
from fake_phoenixd import pay_payouts_through
from nostr_keys import NostrKey
from test_payouts import customer_invoice, fake_pay

from timmy.accounts import service
from timmy.accounts.withdrawals import withdraw
from timmy.data import accounts as data
from timmy.data.accounts import LedgerReason
from timmy.db.connection import db, reset_connection, transaction
from timmy.errors import TimmyError
from timmy.identity import issue_token
from timmy.lightning.backends import reset as reset_backend
from timmy.lightning.dev_payer import pay_own_invoice
from timmy.lightning.types import PaymentState
from timmy.payouts import reconcile_pending_payouts
from timmy.payouts.service import fee_reserve, max_payout

BASE = "http://localhost:3000"


@pytest.fixture(autouse=True)
def _db(clean_db: None) -> None:
    """Every test starts from empty tables."""


def funded_account(sats: int, *, nostr_token: str | None = None) -> str:
    """A new account's token, its top-up of ``sats`` paid (and so credited)."""
    challenge = service.start_topup(sats, token=None, nostr_token=nostr_token, base_url=BASE)
    assert challenge.token is not None
    pay_own_invoice(challenge.payment_hash)
    return challenge.token


def account_id(token: str) -> str:
    return service.authenticate(token).id


def balance(token: str) -> int:
    return service.authenticate(token).balance_sats


def ledger(token: str) -> list[tuple[int, LedgerReason]]:
    return [(e.amount_sats, e.reason) for e in _entries(token)]


def _entries(token: str) -> list[data.LedgerEntry]:
    owner = account_id(token)
    with transaction() as tx:
        return data.ledger(tx, owner)


def assert_ledger_exact() -> None:
    with transaction() as tx:
        assert data.ledger_mismatches(tx) == []


def paid_out() -> list[int]:
    rows = db().all("SELECT amount_sats FROM stub_lightning_payments ORDER BY id")
    return [int(row["amount_sats"]) for row in rows]


def refusal(call: functools.partial[object]) -> tuple[int, str]:
    with pytest.raises(TimmyError) as caught:
        call()
    return caught.value.status, caught.value.code


# ------------------------------------------------------------------------------- outcomes


def test_a_paid_withdrawal_charges_the_real_fee_and_returns_the_rest_of_the_reserve(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAYOUT_FEE_RESERVE_MIN_SATS", "5")
    token = funded_account(1_000)
    fake_pay(monkeypatch, PaymentState.PAID, fee_sats=3)
    invoice = customer_invoice(200)

    answer = withdraw(token, invoice)

    assert answer.model_dump() == {
        "status": "paid",
        "payment_hash": answer.payment_hash,
        "amount_sats": 200,
        "fee_sats": 3,
        "balance_sats": 797,
    }
    assert ledger(token) == [
        (1_000, LedgerReason.TOPUP),
        (-205, LedgerReason.WITHDRAWAL),
        (2, LedgerReason.WITHDRAWAL_FEE_RETURN),
    ]
    references = {e.reference for e in _entries(token)[1:]}
    assert references == {answer.payment_hash}
    view = service.get_account(token)
    assert (view.balance_sats, view.withdrawable_sats) == (797, max_payout(797))
    assert [(p.status, p.amount_sats, p.fee_sats) for p in view.payouts] == [("paid", 200, 3)]
    assert_ledger_exact()


def test_a_definitely_failed_withdrawal_is_credited_back_with_its_own_ledger_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = funded_account(1_000)
    fake_pay(monkeypatch, PaymentState.FAILED)

    answer = withdraw(token, customer_invoice(200))

    assert (answer.status, answer.fee_sats, answer.balance_sats) == ("failed", 0, 1_000)
    assert ledger(token) == [
        (1_000, LedgerReason.TOPUP),
        (-202, LedgerReason.WITHDRAWAL),
        (202, LedgerReason.WITHDRAWAL_FAILED),
    ]
    assert_ledger_exact()


def test_an_unknown_outcome_holds_the_sats_until_the_reconciler_settles_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    paid_later, never_sent = funded_account(1_000), funded_account(1_000)
    with monkeypatch.context() as patch:
        fake_pay(patch, PaymentState.PENDING)
        first = withdraw(paid_later, customer_invoice(200))
        second = withdraw(never_sent, customer_invoice(300))
    assert (first.status, first.fee_sats, first.balance_sats) == ("pending", 2, 798)
    assert (second.status, second.balance_sats) == ("pending", 697)
    assert service.get_account(paid_later).payouts[0].status == "pending"
    # The node paid the first after all; it never heard of the second.
    from timmy.lightning.backends import backend

    backend().pay(db().scalar("SELECT bolt11 FROM payouts WHERE amount_sats = 200"))

    report = reconcile_pending_payouts(datetime.now(UTC) + timedelta(hours=1))

    assert (report.paid, report.failed) == (1, 1)
    assert balance(paid_later) == 800  # the stub charges no fee: the whole reserve returned
    assert balance(never_sent) == 1_000
    assert [r for _, r in ledger(never_sent)][-1] == LedgerReason.WITHDRAWAL_FAILED
    assert_ledger_exact()


# ------------------------------------------------------------------ the peer's holes


def test_the_invoices_own_amount_is_debited_never_a_different_client_number() -> None:
    # The peer debited the amount_sats the client sent but paid the invoice's own amount.
    token = funded_account(1_000)
    invoice = customer_invoice(300)

    assert refusal(functools.partial(withdraw, token, invoice, 10)) == (400, "amount_mismatch")
    assert balance(token) == 1_000
    assert paid_out() == []

    answer = withdraw(token, invoice, 300)
    assert (answer.amount_sats, answer.balance_sats) == (300, 700)
    assert paid_out() == [300]


def test_phoenixd_http_200_with_a_reason_is_a_failed_withdrawal_credited_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The peer reported this answer as a paid payout and kept the balance debited.
    token = funded_account(1_000)
    node = pay_payouts_through(monkeypatch)
    node.pay_outcome = "failed"

    answer = withdraw(token, node.customer_invoice(100))

    assert (answer.status, answer.balance_sats) == ("failed", 1_000)
    assert_ledger_exact()


def test_phoenixd_routing_fee_is_charged_to_the_account(monkeypatch: pytest.MonkeyPatch) -> None:
    # The peer never charged routing fees.
    token = funded_account(1_000)
    node = pay_payouts_through(monkeypatch)

    answer = withdraw(token, node.customer_invoice(100))

    assert (answer.status, answer.fee_sats, answer.balance_sats) == ("paid", 2, 898)
    assert ledger(token)[1:] == [(-102, LedgerReason.WITHDRAWAL)]  # the whole reserve was used
    assert_ledger_exact()


def test_a_used_invoice_stays_used_after_a_restart() -> None:
    # The peer kept used payment hashes in memory with a TTL: a restart forgot them.
    token = funded_account(1_000)
    invoice = customer_invoice(100)
    assert withdraw(token, invoice).status == "paid"

    reset_connection()
    reset_backend()  # as a fresh container: no cached node, no connection, nothing in memory

    assert refusal(functools.partial(withdraw, token, invoice)) == (409, "invoice_already_used")
    assert balance(token) == 1_000 - 100
    assert paid_out() == [100]


def test_another_accounts_token_cannot_withdraw_and_a_forged_one_is_invalid_token() -> None:
    rich, poor = funded_account(1_000), funded_account(1)
    assert refusal(functools.partial(withdraw, poor, customer_invoice(500))) == (
        402,
        "insufficient_balance",
    )
    forged = "tmy_" + "A" * 43
    assert refusal(functools.partial(withdraw, forged, customer_invoice(5))) == (
        401,
        "invalid_token",
    )
    assert (balance(rich), balance(poor)) == (1_000, 1)
    assert int(db().scalar("SELECT count(*) FROM payouts")) == 0


# -------------------------------------------------------------------------- concurrency


def test_twenty_parallel_withdrawals_against_a_balance_for_five_pay_exactly_five() -> None:
    amount = 100
    token = funded_account(5 * (amount + fee_reserve(amount)))

    results = outcomes([lambda: withdraw(token, customer_invoice(amount)) for _ in range(20)])

    paid = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(paid) == 5
    assert all(r.status == "paid" for r in paid)
    assert len(refused) == 15
    assert all(isinstance(r, TimmyError) and r.status == 402 for r in refused)
    assert all(isinstance(r, TimmyError) and r.code == "insufficient_balance" for r in refused)
    assert paid_out() == [amount] * 5
    # The stub charges no fee, so each reserve came back: 5 x 2 sats remain.
    assert balance(token) == 5 * fee_reserve(amount)
    reasons = [r for _, r in ledger(token)]
    assert reasons.count(LedgerReason.WITHDRAWAL) == 5
    assert reasons.count(LedgerReason.WITHDRAWAL_FEE_RETURN) == 5
    assert sum(a for a, _ in ledger(token)) == balance(token)
    assert_ledger_exact()


def test_concurrent_topups_and_withdrawals_of_many_accounts_keep_every_ledger_exact() -> None:
    tokens = [funded_account(300) for _ in range(4)]

    def refill(token: str) -> object:
        challenge = service.start_topup(7, token=token, nostr_token=None, base_url=BASE)
        return pay_own_invoice(challenge.payment_hash)

    calls = []
    for n in range(24):
        token = tokens[n % 4]
        if n % 3:
            calls.append(functools.partial(withdraw, token, customer_invoice(40)))
        else:
            calls.append(functools.partial(refill, token))
    outcomes(calls)

    assert_ledger_exact()
    for token in tokens:
        assert balance(token) >= 0
        assert sum(a for a, _ in ledger(token)) == balance(token)


# ------------------------------------------------------------------------------ Nostr


def test_a_topup_with_a_nostr_token_binds_the_new_account_to_that_identity() -> None:
    key = NostrKey()
    nostr_token, _ = issue_token(key.pubkey_hex)

    token = funded_account(50, nostr_token=nostr_token)

    view = service.get_account(token)
    assert view.nostr_pubkey == key.pubkey_hex
    assert view.trust_tier == "new"
    assert view.balance_sats == 50
    # A refill with the account's token keeps the binding; a Nostr token cannot rebind it.
    other, _ = issue_token(NostrKey().pubkey_hex)
    service.start_topup(5, token=token, nostr_token=other, base_url=BASE)
    assert service.get_account(token).nostr_pubkey == key.pubkey_hex
