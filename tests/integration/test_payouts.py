"""The one payout path on real PostgreSQL and the stub node: invoice checks, the unique
payment hash across sources, settlement of every outcome, the reconciler, and concurrency."""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from concurrency import outcomes
from paid_sessions import paid_session

from timmy import payments
from timmy.data import payouts as payout_rows
from timmy.data.invoices import PaymentPurpose
from timmy.db.connection import db, transaction
from timmy.errors import TimmyError
from timmy.jobs import service as jobs
from timmy.lightning.backends import backend
from timmy.lightning.bolt11 import decode_invoice, encode_invoice
from timmy.lightning.errors import LightningUnavailable
from timmy.lightning.lnbits import LNbitsBackend
from timmy.lightning.stub import StubBackend
from timmy.lightning.types import PaymentResult, PaymentState
from timmy.payouts import reconcile_pending_payouts
from timmy.payouts import service as payout_service
from timmy.payouts.service import fee_reserve, max_payout, pay_out
from timmy.sessions.withdrawals import SESSION_WITHDRAWAL

CUSTOMER_KEY = bytes.fromhex("22" * 32)


@pytest.fixture(autouse=True)
def _db(clean_db: None) -> None:
    """Every test starts from empty tables."""


def customer_invoice(amount_sats: int, *, network: str = "bcrt", expiry: int = 3600) -> str:
    return encode_invoice(
        payment_hash=hashlib.sha256(os.urandom(32)).digest(),
        amount_sats=amount_sats,
        description="payout",
        expiry=expiry,
        signing_key=CUSTOMER_KEY,
        network=network,
    )


def ended_job(refundable_sats: int) -> str:
    """A failed job whose caller is owed ``refundable_sats`` (its eval fee, paid)."""
    job_id = str(uuid.uuid4())
    created = payments.request_invoice(refundable_sats, "eval fee")
    with transaction() as tx:
        payments.record_invoice(tx, created, purpose=PaymentPurpose.JOB, owner_id=job_id)
        tx.execute(
            "INSERT INTO jobs (id, request, eval_fee_sats, eval_payment_hash, eval_paid_sats,"
            " state, refundable_sats, error_code, error_message)"
            " VALUES (:id, 'x', :fee, :h, :fee, 'failed', :fee, 'ai_failed', 'it failed')",
            id=job_id,
            fee=refundable_sats,
            h=created.payment_hash,
        )
    return job_id


def withdraw(session_id: str, bolt11: str, amount_sats: int | None = None) -> Any:
    return pay_out(SESSION_WITHDRAWAL, session_id, bolt11, amount_sats=amount_sats)


def balance(session_id: str) -> int:
    return int(db().scalar("SELECT balance_sats FROM sessions WHERE id = :id", id=session_id))


def paid_out() -> list[dict[str, Any]]:
    return db().all("SELECT payment_hash, amount_sats FROM stub_lightning_payments ORDER BY id")


def code_of(call: Callable[[], object]) -> tuple[int, str]:
    with pytest.raises(TimmyError) as caught:
        call()
    return caught.value.status, caught.value.code


def age_payouts(seconds: int = 3600) -> None:
    db().execute(
        "UPDATE payouts SET created_at = created_at - make_interval(secs => :s)", s=seconds
    )


# ------------------------------------------------------------------ the same invoice, once


def test_two_jobs_cannot_be_refunded_to_one_invoice() -> None:
    # Issue 10, item 4: the old code refunded both jobs to it, 20 sats on a 10-sat invoice.
    first, second = ended_job(10), ended_job(10)
    invoice = customer_invoice(10)

    assert jobs.refund_job(first, invoice).refunded is True

    assert code_of(lambda: jobs.refund_job(second, invoice)) == (409, "invoice_already_used")
    assert [row["amount_sats"] for row in paid_out()] == [10]
    # The second job's refund is still claimable, with an invoice of its own
    assert jobs.get_job(second).refund is None
    assert jobs.refund_job(second, customer_invoice(10)).refunded is True


def test_an_invoice_used_by_a_refund_cannot_be_paid_by_a_withdrawal() -> None:
    job_id, session_id = ended_job(10), paid_session(1_000)
    invoice = customer_invoice(10)
    jobs.refund_job(job_id, invoice)

    assert code_of(lambda: withdraw(session_id, invoice)) == (409, "invoice_already_used")
    assert balance(session_id) == 1_000


def test_concurrent_payouts_of_one_invoice_from_many_sessions_pay_it_once() -> None:
    sources = [paid_session(1_000) for _ in range(12)]
    invoice = customer_invoice(100)

    results = outcomes([lambda s=s: withdraw(s, invoice) for s in sources])

    paid = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(paid) == 1
    assert all(isinstance(r, TimmyError) and r.code == "invoice_already_used" for r in refused)
    assert [row["amount_sats"] for row in paid_out()] == [100]
    assert sorted(balance(s) for s in sources) == [900] + [1_000] * 11


# ----------------------------------------------------------------------- invoice checks


def amountless_invoice() -> str:
    from bolt11 import Bolt11, Tags, encode

    tags = Tags.from_dict(
        {"payment_hash": os.urandom(32).hex(), "payment_secret": "11" * 32, "description": "tip"}
    )
    return str(encode(Bolt11(currency="bcrt", date=int(time.time()), tags=tags), "22" * 32))


def expired_invoice() -> str:
    return encode_invoice(
        payment_hash=os.urandom(32),
        amount_sats=100,
        description="old",
        expiry=60,
        signing_key=CUSTOMER_KEY,
        timestamp=int(time.time()) - 3600,
    )


def own_invoice() -> str:
    created = payments.request_invoice(100, "one of ours")
    with transaction() as tx:
        payments.record_invoice(tx, created, purpose=PaymentPurpose.SESSION_TOPUP, owner_id="x")
    return created.payment_request


@pytest.mark.parametrize(
    ("make_invoice", "amount_sats", "code"),
    [
        (lambda: "lnbcrt1garbage", None, "invalid_invoice"),
        (amountless_invoice, None, "amount_required"),
        (lambda: customer_invoice(100), 99, "amount_mismatch"),
        (lambda: customer_invoice(100, network="bc"), None, "wrong_network"),
        (expired_invoice, None, "invoice_expired"),
        (own_invoice, None, "own_invoice"),
    ],
    ids=["invalid", "amountless", "mismatch", "wrong_network", "expired", "own"],
)
def test_an_invoice_a_payout_must_not_pay_is_refused_and_changes_nothing(
    make_invoice: Callable[[], str], amount_sats: int | None, code: str
) -> None:
    session_id = paid_session(1_000)
    invoice = make_invoice()

    assert code_of(lambda: withdraw(session_id, invoice, amount_sats)) == (400, code)

    assert balance(session_id) == 1_000
    assert int(db().scalar("SELECT count(*) FROM payouts")) == 0
    assert paid_out() == []


def test_a_withdrawal_beyond_the_balance_and_its_reserve_is_402() -> None:
    session_id = paid_session(100)
    too_much = max_payout(100) + 1

    assert code_of(lambda: withdraw(session_id, customer_invoice(too_much))) == (
        402,
        "insufficient_balance",
    )
    assert balance(session_id) == 100
    assert int(db().scalar("SELECT count(*) FROM payouts")) == 0


def test_max_payout_is_the_largest_amount_that_fits_with_its_reserve() -> None:
    for balance_sats in (0, 1, 2, 3, 100, 101, 102, 1_000, 12_345):
        best = max_payout(balance_sats)
        assert best == 0 or best + fee_reserve(best) <= balance_sats
        assert (best + 1) + fee_reserve(best + 1) > balance_sats


# ------------------------------------------------------------------------- the stub node


def test_the_stub_node_pays_a_payment_hash_once_and_only_on_its_network() -> None:
    stub = backend()
    assert isinstance(stub, StubBackend)
    invoice = customer_invoice(10)

    assert stub.pay(invoice).state == PaymentState.PAID
    assert stub.pay(invoice).state == PaymentState.FAILED  # like a real node: not twice
    assert stub.pay(customer_invoice(10, network="bc")).state == PaymentState.FAILED
    assert [row["amount_sats"] for row in paid_out()] == [10]
    assert stub.check_payment(decode_invoice(invoice).payment_hash).state == PaymentState.PAID
    assert stub.check_payment("ab" * 32).state == PaymentState.UNKNOWN


# --------------------------------------------------------------------------- settlement


def fake_pay(
    monkeypatch: pytest.MonkeyPatch, state: PaymentState, *, fee_sats: int | None = None
) -> None:
    real_pay = StubBackend.pay

    def pay(self: StubBackend, bolt11: str) -> PaymentResult:
        if state == PaymentState.PAID:
            real_pay(self, bolt11)
        return PaymentResult(decode_invoice(bolt11).payment_hash, state, fee_sats=fee_sats)

    monkeypatch.setattr(StubBackend, "pay", pay)


def test_a_paid_withdrawal_charges_the_real_fee_and_returns_the_unused_reserve(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAYOUT_FEE_RESERVE_MIN_SATS", "5")
    session_id = paid_session(1_000)
    fake_pay(monkeypatch, PaymentState.PAID, fee_sats=3)

    answer = withdraw(session_id, customer_invoice(200)).answer

    assert answer.model_dump() == {
        "status": "paid",
        "payment_hash": answer.payment_hash,
        "amount_sats": 200,
        "fee_sats": 3,
        "balance_sats": 797,
    }
    assert balance(session_id) == 797


def test_a_fee_above_the_reserve_is_borne_by_timmy_not_the_balance(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session_id = paid_session(1_000)
    fake_pay(monkeypatch, PaymentState.PAID, fee_sats=50)  # the reserve is 2

    answer = withdraw(session_id, customer_invoice(200)).answer

    assert (answer.fee_sats, answer.balance_sats) == (2, 798)
    row = db().one("SELECT fee_sats, fee_charged_sats FROM payouts")
    assert row == {"fee_sats": 50, "fee_charged_sats": 2}


def test_a_definitely_failed_withdrawal_is_credited_back_in_full(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session_id = paid_session(1_000)
    fake_pay(monkeypatch, PaymentState.FAILED)

    answer = withdraw(session_id, customer_invoice(200)).answer

    assert (answer.status, answer.fee_sats, answer.balance_sats) == ("failed", 0, 1_000)
    assert balance(session_id) == 1_000


def test_the_invoice_of_a_failed_payout_is_not_paid_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A node refuses to retry a failed payment hash: the caller sends a new invoice.
    session_id = paid_session(1_000)
    invoice = customer_invoice(200)
    with monkeypatch.context() as patch:
        fake_pay(patch, PaymentState.FAILED)
        assert withdraw(session_id, invoice).answer.status == "failed"

    assert code_of(lambda: withdraw(session_id, invoice)) == (409, "invoice_already_used")
    assert withdraw(session_id, customer_invoice(200)).answer.status == "paid"
    assert balance(session_id) == 800


def test_one_payout_that_cannot_be_settled_does_not_stop_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session_id = paid_session(1_000)
    with monkeypatch.context() as patch:
        fake_pay(patch, PaymentState.PENDING)
        withdraw(session_id, customer_invoice(200))
    db().execute(
        "INSERT INTO payouts (id, payment_hash, bolt11, source_kind, source_id, amount_sats,"
        " fee_reserve_sats, source_debit_sats, created_at)"
        " VALUES (:id, :h, 'lnbcrt1x', 'unregistered', 'x', 5, 0, 5, now() - interval '1 day')",
        id=str(uuid.uuid4()),
        h="cd" * 32,
    )

    report = reconcile_pending_payouts(datetime.now(UTC) + timedelta(hours=1))

    assert report.errors == ["cd" * 32]
    assert report.failed == 1  # the session's payout, never sent, credited back
    assert balance(session_id) == 1_000


def test_an_unknown_outcome_stays_pending_until_the_reconciler_settles_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    paid_later, never_sent = paid_session(1_000), paid_session(1_000)
    fake_pay(monkeypatch, PaymentState.PENDING)
    first = withdraw(paid_later, customer_invoice(200)).answer
    second = withdraw(never_sent, customer_invoice(300)).answer
    monkeypatch.undo()

    # Pending: the amount and its reserve stay held (it may have been paid)
    assert (first.status, first.fee_sats, first.balance_sats) == ("pending", 2, 798)
    assert (second.status, second.balance_sats) == ("pending", 697)
    # The node paid the first one after all; it never heard of the second
    backend().pay(db().scalar("SELECT bolt11 FROM payouts WHERE amount_sats = 200"))

    # A run before they are old enough asks nothing
    assert reconcile_pending_payouts(datetime.now(UTC)).checked == 0
    report = reconcile_pending_payouts(datetime.now(UTC) + timedelta(hours=1))

    assert (report.checked, report.paid, report.failed, report.pending) == (2, 1, 1, 0)
    assert balance(paid_later) == 800  # the stub's fee is 0: the whole reserve returned
    assert balance(never_sent) == 1_000  # credited back in full
    # Settled once: another run changes nothing
    again = reconcile_pending_payouts(datetime.now(UTC) + timedelta(hours=2))
    assert again.checked == 0
    assert (balance(paid_later), balance(never_sent)) == (800, 1_000)


def test_the_scheduled_reconciler_settles_an_unknown_payout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from timmy import reconcile

    session_id = paid_session(1_000)
    fake_pay(monkeypatch, PaymentState.PENDING)
    assert withdraw(session_id, customer_invoice(250)).answer.status == "pending"
    monkeypatch.undo()

    # The node never heard of it: the run that sees it old enough credits it back, once
    report = reconcile.run(datetime.now(UTC) + timedelta(hours=1))

    assert (report.ended["payouts"], report.errors["payouts"]) == (1, 0)
    assert balance(session_id) == 1_000
    again = reconcile.run(datetime.now(UTC) + timedelta(hours=2))
    assert again.ended["payouts"] == 0
    assert balance(session_id) == 1_000


def test_a_payout_still_in_flight_or_unanswered_stays_pending(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session_id = paid_session(1_000)
    fake_pay(monkeypatch, PaymentState.PENDING)
    withdraw(session_id, customer_invoice(200))
    age_payouts()

    def in_flight(self: StubBackend, payment_hash: str) -> PaymentResult:
        return PaymentResult(payment_hash, PaymentState.PENDING)

    def down(self: StubBackend, payment_hash: str) -> PaymentResult:
        raise LightningUnavailable("the node is down")

    monkeypatch.setattr(StubBackend, "check_payment", in_flight)
    assert reconcile_pending_payouts(datetime.now(UTC)).pending == 1
    monkeypatch.setattr(StubBackend, "check_payment", down)
    report = reconcile_pending_payouts(datetime.now(UTC))
    assert len(report.errors) == 1

    assert balance(session_id) == 798
    with transaction() as tx:
        (payout,) = payout_rows.pending_before(tx, datetime.now(UTC), limit=10)
    assert payout.amount_sats == 200


def test_an_unexpected_error_while_paying_leaves_the_payout_pending(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session_id = paid_session(1_000)

    def crash(self: StubBackend, bolt11: str) -> PaymentResult:
        raise RuntimeError("bug after the payment may have gone out")

    monkeypatch.setattr(StubBackend, "pay", crash)

    assert withdraw(session_id, customer_invoice(100)).answer.status == "pending"
    assert balance(session_id) == 898


# ------------------------------------------------------- LNbits, with its faults injected


class LNbitsWallet:
    """The two LNbits calls a payout makes, in LNbits' shapes, with a fault to inject.

    ``fault``: None (pays, fee 1,500 msat), "refused" (no connection: nothing reaches LNbits),
    "timeout" (LNbits pays, the answer is lost), "500" (LNbits fails before recording it).
    """

    def __init__(self) -> None:
        self.payments: dict[str, dict[str, Any]] = {}
        self.fault: str | None = None

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            payment = self.payments.get(request.url.path.rsplit("/", 1)[1])
            if payment is None:
                return httpx.Response(404, json={"detail": "Payment does not exist."})
            paid = payment["status"] == "success"
            return httpx.Response(
                200, json={"paid": paid, "status": payment["status"], "details": payment}
            )
        if self.fault == "refused":
            raise httpx.ConnectError("connection refused")
        if self.fault == "500":
            return httpx.Response(500, json={"detail": "Internal Server Error"})
        bolt11 = json.loads(request.content)["bolt11"]
        decoded = decode_invoice(bolt11)
        payment = {
            "payment_hash": decoded.payment_hash,
            "checking_id": decoded.payment_hash,
            "amount": -(decoded.amount_msat or 0),
            "fee": -1_500,
            "status": "success",
            "bolt11": bolt11,
            "preimage": None,
        }
        self.payments[decoded.payment_hash] = payment
        if self.fault == "timeout":
            raise httpx.ReadTimeout("the answer never came")
        return httpx.Response(201, json=payment)


@pytest.fixture
def lnbits(monkeypatch: pytest.MonkeyPatch) -> LNbitsWallet:
    wallet = LNbitsWallet()
    client = httpx.Client(transport=httpx.MockTransport(wallet.handler))
    node = LNbitsBackend("https://lnbits.example", "inv", "adm", client=client, network="bcrt")
    monkeypatch.setattr(payout_service, "backend", lambda: node)
    return wallet


def test_lnbits_paid_charges_its_fee_rounded_up(lnbits: LNbitsWallet) -> None:
    session_id = paid_session(1_000)

    answer = withdraw(session_id, customer_invoice(100)).answer

    assert (answer.status, answer.fee_sats, answer.balance_sats) == ("paid", 2, 898)


def test_lnbits_connection_refused_is_a_definite_failure_credited_back(
    lnbits: LNbitsWallet,
) -> None:
    # Issue 10, 3(a): the old code kept such a refund pending forever.
    session_id, job_id = paid_session(1_000), ended_job(10)
    lnbits.fault = "refused"

    answer = withdraw(session_id, customer_invoice(100)).answer
    refund = code_of(lambda: jobs.refund_job(job_id, customer_invoice(10)))

    assert (answer.status, answer.balance_sats) == ("failed", 1_000)
    assert refund == (502, "payment_failed")
    lnbits.fault = None
    assert jobs.refund_job(job_id, customer_invoice(10)).refunded is True


def test_lnbits_timeout_after_sending_stays_pending_then_reconciles_as_paid(
    lnbits: LNbitsWallet,
) -> None:
    session_id = paid_session(1_000)
    lnbits.fault = "timeout"

    answer = withdraw(session_id, customer_invoice(100)).answer

    assert (answer.status, answer.balance_sats) == ("pending", 898)
    report = reconcile_pending_payouts(datetime.now(UTC) + timedelta(hours=1))
    assert (report.paid, report.failed) == (1, 0)
    assert balance(session_id) == 898  # fee 2 of the 2-sat reserve: nothing to return


def test_lnbits_500_stays_pending_then_reconciles_as_never_sent(lnbits: LNbitsWallet) -> None:
    session_id = paid_session(1_000)
    lnbits.fault = "500"

    answer = withdraw(session_id, customer_invoice(100)).answer

    assert (answer.status, answer.balance_sats) == ("pending", 898)
    report = reconcile_pending_payouts(datetime.now(UTC) + timedelta(hours=1))
    assert (report.paid, report.failed) == (0, 1)
    assert balance(session_id) == 1_000


# -------------------------------------------------------------------------- concurrency


def test_twenty_parallel_withdrawals_never_overdraw_the_balance() -> None:
    # 1,000 sats cover nine withdrawals of 100 (each holding a 2-sat reserve), not ten.
    session_id = paid_session(1_000)

    results = outcomes([lambda: withdraw(session_id, customer_invoice(100)) for _ in range(20)])

    paid = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(paid) == 9
    assert all(r.answer.status == "paid" for r in paid)
    assert all(isinstance(r, TimmyError) and r.code == "insufficient_balance" for r in refused)
    assert balance(session_id) == 100
    assert sum(row["amount_sats"] for row in paid_out()) == 900
    assert int(db().scalar("SELECT count(*) FROM payouts WHERE state = 'paid'")) == 9


def test_parallel_reconciler_runs_credit_a_failed_payout_back_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session_id = paid_session(1_000)
    with monkeypatch.context() as patch:
        fake_pay(patch, PaymentState.PENDING)  # never reaches the node
        withdraw(session_id, customer_invoice(200))
    later = datetime.now(UTC) + timedelta(hours=1)

    reports = outcomes([lambda: reconcile_pending_payouts(later) for _ in range(10)])

    assert not [r for r in reports if isinstance(r, Exception)], reports
    assert sum(r.failed for r in reports) == 1
    assert balance(session_id) == 1_000
