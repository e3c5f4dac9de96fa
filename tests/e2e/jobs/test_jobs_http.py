"""Jobs over HTTP through the local stack: the real handlers, the real job state machine under
moto, the stub Lightning node paid through POST /api/dev/stub/pay, the stub AI."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from timmy.db.connection import db
from timmy.lightning.bolt11 import encode_invoice

if TYPE_CHECKING:
    from tests.e2e.jobs.conftest import JobsClient

CUSTOMER_KEY = bytes.fromhex("22" * 32)  # the caller's own node, not Timmy's stub node
# A request long enough that the estimate clearly exceeds the stub's real usage.
LONG_REQUEST = "Summarise the history of the Lightning Network, please. " * 40


def customer_invoice(amount_sats: int, *, expiry: int = 3600) -> str:
    """A BOLT11 invoice of the caller's own, for a refund."""
    return encode_invoice(
        payment_hash=hashlib.sha256(os.urandom(32)).digest(),
        amount_sats=amount_sats,
        description="refund",
        expiry=expiry,
        signing_key=CUSTOMER_KEY,
    )


def amountless_invoice() -> str:
    from bolt11 import Bolt11, Tags, encode

    tags = Tags.from_dict(
        {"payment_hash": os.urandom(32).hex(), "payment_secret": "11" * 32, "description": "tip"}
    )
    return str(encode(Bolt11(currency="bcrt", date=int(time.time()), tags=tags), "22" * 32))


def stored_rows() -> dict[str, int]:
    return {
        table: int(db().scalar(f"SELECT count(*) FROM {table}"))
        for table in ("jobs", "invoices", "nostr_identities")
    }


def refund_payments(bolt11: str) -> int:
    return int(
        db().scalar("SELECT count(*) FROM stub_lightning_payments WHERE bolt11 = :b", b=bolt11)
    )


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


# ----------------------------------------------------------------------------- happy path


def test_a_job_runs_eval_then_work_then_refunds_the_overpayment_once(jobs: JobsClient) -> None:
    # Given a new job
    created = jobs.create(LONG_REQUEST)
    assert created["state"] == "awaiting_eval_payment"
    assert created["trust_tier"] == "anonymous"
    assert uuid.UUID(created["job_id"])
    eval_invoice = created["eval_invoice"]
    assert eval_invoice["amount_sats"] == 10  # EVAL_FEE_SATS default
    assert eval_invoice["payment_request"].startswith("lnbcrt")
    job_id = created["job_id"]

    # When it is polled before payment, it shows the eval invoice and nothing refundable yet
    waiting = jobs.get(job_id)
    assert waiting["state"] == "awaiting_eval_payment"
    assert waiting["eval_invoice"] == eval_invoice
    assert waiting["refundable_sats"] is None

    # When the eval fee is paid, the request is evaluated and the work invoice appears
    jobs.pay(eval_invoice["payment_hash"])
    priced = jobs.wait_for_state(job_id, "awaiting_work_payment")
    costs = priced["costs"]
    assert costs["eval_paid_sats"] == 10
    assert costs["model"] == "stub"
    assert costs["btc_price_usd"] == 100_000  # the local stack's fixed price
    assert priced["work_invoice"]["amount_sats"] == costs["work_charge_sats"]
    assert costs["work_charge_sats"] == costs["work_estimate_sats"] > 0
    assert priced["eval_invoice"] is None

    # When the work invoice is paid, the work runs and is settled from real usage
    jobs.pay(priced["work_invoice"]["payment_hash"])
    done = jobs.wait_for_state(job_id, "complete")
    costs = done["costs"]
    assert done["result"].startswith("Stub result for a")
    assert costs["work_paid_sats"] == costs["work_charge_sats"]
    assert costs["used_tokens"]["output_tokens"] <= costs["estimated_tokens"]["output_tokens"]
    assert 0 < costs["actual_cost_sats"] < costs["work_paid_sats"]
    assert done["refundable_sats"] == costs["work_paid_sats"] - costs["actual_cost_sats"]
    assert done["refunded"] is False
    assert done["work_invoice"] is None

    # When the caller claims the refund with an invoice for exactly that amount
    invoice = customer_invoice(done["refundable_sats"])
    refunded = jobs.api.post(f"/api/jobs/{job_id}/refund", json={"invoice": invoice})

    # Then it is paid once, and a second claim is refused
    assert refunded.status_code == 200, refunded.text
    assert refunded.json()["refunded"] is True
    assert refunded.json()["refund"]["amount_sats"] == done["refundable_sats"]
    assert refunded.json()["trust_tier"] == "anonymous"
    assert refund_payments(invoice) == 1
    again = jobs.api.post(
        f"/api/jobs/{job_id}/refund", json={"invoice": customer_invoice(done["refundable_sats"])}
    )
    assert again.status_code == 409
    assert error_code(again) == "already_refunded"
    shown = jobs.get(job_id)
    assert shown["refunded"] is True
    assert shown["refund"]["state"] == "sent"


def test_a_rejected_request_ends_after_the_evaluation_with_nothing_refundable(
    jobs: JobsClient,
) -> None:
    job = jobs.run_to_work_invoice("Please do this [[reject]]")

    assert job["state"] == "rejected"
    assert "[[reject]]" in job["reason"]
    assert job["refundable_sats"] == 0
    assert job["costs"]["eval_paid_sats"] == 10
    assert job["costs"]["work_charge_sats"] is None
    refund = jobs.api.post(
        f"/api/jobs/{job['job_id']}/refund", json={"invoice": customer_invoice(10)}
    )
    assert refund.status_code == 409
    assert error_code(refund) == "nothing_refundable"


# ------------------------------------------------------------------------- expiry


def test_an_unpaid_eval_invoice_expires_the_job(jobs: JobsClient, short_payment_wait: int) -> None:
    created = jobs.create("Never paid for")

    expired = jobs.wait_for_state(created["job_id"], "expired", "complete", "failed")

    assert expired["state"] == "expired"
    assert expired["refundable_sats"] == 0
    payment_hash = created["eval_invoice"]["payment_hash"]
    state = db().scalar("SELECT state FROM invoices WHERE payment_hash = :h", h=payment_hash)
    assert state == "expired"
    # And a late payment changes nothing
    late = jobs.api.post(f"/api/dev/stub/pay/{payment_hash}")
    assert late.json()["paid"] is False
    assert jobs.get(created["job_id"])["state"] == "expired"


def test_an_unpaid_work_invoice_expires_the_job_and_keeps_the_eval_fee(
    jobs: JobsClient, short_payment_wait: int
) -> None:
    job = jobs.run_to_work_invoice("Evaluated, then abandoned")
    assert job["state"] == "awaiting_work_payment"

    expired = jobs.wait_for_state(job["job_id"], "expired", "complete", "failed")

    assert expired["state"] == "expired"
    assert expired["costs"]["eval_paid_sats"] == 10
    assert expired["costs"]["work_paid_sats"] == 0
    assert expired["refundable_sats"] == 0


# ------------------------------------------------------------------------- AI failures


def test_a_permanent_work_failure_fails_the_job_and_everything_paid_is_refundable(
    jobs: JobsClient,
) -> None:
    job = jobs.run_to_end("Break at work [[fail-work:permanent]]")

    assert job["state"] == "failed"
    assert job["error"]["code"] == "ai_failed"
    assert job["result"] is None
    paid = job["costs"]["eval_paid_sats"] + job["costs"]["work_paid_sats"]
    assert job["costs"]["work_paid_sats"] > 0
    assert job["refundable_sats"] == paid
    # And the whole amount can be claimed back
    invoice = customer_invoice(paid)
    refund = jobs.api.post(f"/api/jobs/{job['job_id']}/refund", json={"invoice": invoice})
    assert refund.status_code == 200, refund.text
    assert refund_payments(invoice) == 1


def test_a_retryable_work_failure_that_outlasts_the_retries_fails_the_job(
    jobs: JobsClient,
) -> None:
    job = jobs.run_to_end("Provider down at work [[fail-work:retryable]]")

    assert job["state"] == "failed"
    assert job["error"]["code"] == "ai_unavailable"
    assert job["refundable_sats"] == 10 + job["costs"]["work_paid_sats"]


def test_an_evaluation_failure_refunds_the_eval_fee(jobs: JobsClient) -> None:
    job = jobs.run_to_work_invoice("Cannot even be evaluated [[fail:permanent]]")

    assert job["state"] == "failed"
    assert job["costs"]["work_charge_sats"] is None
    assert job["refundable_sats"] == 10


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"request": ""}, "empty_request"),
        ({"request": " \n\t "}, "empty_request"),
        ({"request": "nul \x00 inside"}, "invalid_request_text"),
        ({"request": 42}, "invalid_request"),
        ({}, "invalid_request"),
    ],
)
def test_bad_requests_are_400_and_store_nothing(
    api: httpx.Client, body: dict[str, Any], code: str
) -> None:
    response = api.post("/api/jobs", json=body)

    assert response.status_code == 400, response.text
    assert error_code(response) == code
    assert stored_rows() == {"jobs": 0, "invoices": 0, "nostr_identities": 0}


def test_an_over_long_request_is_400(api: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    from timmy.runtime import reset_caches

    monkeypatch.setenv("MAX_REQUEST_CHARS", "50")
    reset_caches()
    assert api.post("/api/jobs", json={"request": "x" * 50}).status_code == 201
    response = api.post("/api/jobs", json={"request": "x" * 51})

    assert response.status_code == 400
    assert error_code(response) == "request_too_long"
    assert stored_rows()["jobs"] == 1


@pytest.mark.parametrize("job_id", [str(uuid.uuid4()), "not-a-uuid", "1234"])
def test_an_unknown_or_malformed_job_id_is_404(api: httpx.Client, job_id: str) -> None:
    shown = api.get(f"/api/jobs/{job_id}")
    refund = api.post(f"/api/jobs/{job_id}/refund", json={"invoice": customer_invoice(5)})

    for response in (shown, refund):
        assert response.status_code == 404
        assert error_code(response) == "job_not_found"


def test_refund_input_is_checked_before_anything_is_paid(jobs: JobsClient) -> None:
    # Given a failed job with the eval fee refundable, and one still waiting for payment
    failed = jobs.run_to_work_invoice("Refund checks [[fail:permanent]]")
    assert failed["refundable_sats"] == 10
    waiting = jobs.create("Not paid yet")
    url = f"/api/jobs/{failed['job_id']}/refund"

    cases = [
        ({"invoice": "lnbc1garbage"}, 400, "invalid_invoice"),
        ({"invoice": amountless_invoice()}, 400, "amount_required"),
        ({"invoice": customer_invoice(9)}, 400, "amount_mismatch"),
        ({"invoice": customer_invoice(10, expiry=1)}, 400, "invoice_expired"),
        ({"invoice": waiting["eval_invoice"]["payment_request"]}, 400, "own_invoice"),
        ({}, 400, "invalid_request"),
    ]
    time.sleep(1.1)  # let the one-second invoice run out
    for body, status, code in cases:
        response = jobs.api.post(url, json=body)
        assert response.status_code == status, (code, response.text)
        assert error_code(response) == code

    # And nothing was paid or marked
    assert int(db().scalar("SELECT count(*) FROM stub_lightning_payments")) == 0
    assert jobs.get(failed["job_id"])["refund"] is None
    unpaid = jobs.api.post(
        f"/api/jobs/{waiting['job_id']}/refund", json={"invoice": customer_invoice(10)}
    )
    assert unpaid.status_code == 409
    assert error_code(unpaid) == "nothing_refundable"


# ---------------------------------------------------------------------------- identity


def _token(pubkey: str) -> str:
    from timmy.identity import issue_token

    token, _expires = issue_token(pubkey)
    return token


def _identity(pubkey: str) -> dict[str, Any]:
    row = db().one(
        "SELECT success_count, failure_count FROM nostr_identities WHERE pubkey = :p", p=pubkey
    )
    assert row is not None
    return row


def test_a_valid_token_binds_the_job_and_completion_counts_as_a_success(
    jobs: JobsClient,
) -> None:
    from nostr_keys import NostrKey

    pubkey = NostrKey().pubkey_hex
    created = jobs.create("Trusted work", headers={"X-Nostr-Token": _token(pubkey)})
    assert created["trust_tier"] == "new"
    bound = db().scalar("SELECT nostr_pubkey FROM jobs WHERE id = :id", id=created["job_id"])
    assert bound == pubkey

    jobs.pay(created["eval_invoice"]["payment_hash"])
    job = jobs.wait_for_state(created["job_id"], "awaiting_work_payment")
    assert job["trust_tier"] == "new"
    jobs.pay(job["work_invoice"]["payment_hash"])
    jobs.wait_for_state(created["job_id"], "complete")

    counts = jobs.wait_for(created["job_id"], lambda _: _identity(pubkey)["success_count"] > 0)
    assert counts["trust_tier"] in {"new", "established"}
    assert _identity(pubkey) == {"success_count": 1, "failure_count": 0}


@pytest.mark.parametrize("request_text", ["No thanks [[reject]]", "Broken [[fail:permanent]]"])
def test_rejected_and_failed_jobs_count_as_failures(jobs: JobsClient, request_text: str) -> None:
    from nostr_keys import NostrKey

    pubkey = NostrKey().pubkey_hex
    created = jobs.create(request_text, nostr_token=_token(pubkey))
    jobs.pay(created["eval_invoice"]["payment_hash"])
    jobs.wait_for_state(created["job_id"], "rejected", "failed")

    jobs.wait_for(created["job_id"], lambda _: _identity(pubkey)["failure_count"] > 0)
    assert _identity(pubkey) == {"success_count": 0, "failure_count": 1}


@pytest.mark.parametrize(
    ("headers", "body", "status", "code"),
    [
        ({"X-Nostr-Token": "garbage"}, {}, 401, "invalid_token"),
        ({}, {"nostr_token": "garbage"}, 401, "invalid_token"),
        ({"X-Nostr-Token": "a"}, {"nostr_token": "b"}, 400, "conflicting_tokens"),
    ],
)
def test_a_bad_token_is_refused_and_stores_nothing(
    api: httpx.Client, headers: dict[str, str], body: dict[str, str], status: int, code: str
) -> None:
    response = api.post("/api/jobs", json={"request": "hello", **body}, headers=headers)

    assert response.status_code == status, response.text
    assert error_code(response) == code
    assert stored_rows() == {"jobs": 0, "invoices": 0, "nostr_identities": 0}


def test_an_expired_token_is_401(api: httpx.Client) -> None:
    from nostr_keys import NostrKey

    from timmy.identity import issue_token

    token, _ = issue_token(NostrKey().pubkey_hex, now=int(time.time()) - 10 * 365 * 86_400)
    response = api.post("/api/jobs", json={"request": "hello"}, headers={"X-Nostr-Token": token})

    assert response.status_code == 401
    assert error_code(response) == "token_expired"
    assert stored_rows()["jobs"] == 0


# ------------------------------------------------------------------------ upstreams down


def test_lightning_down_at_creation_is_503_and_stores_nothing(
    api: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from timmy.lightning.errors import LightningUnavailable
    from timmy.lightning.stub import StubBackend

    def down(*_args: object, **_kwargs: object) -> None:
        raise LightningUnavailable("the node is down")

    monkeypatch.setattr(StubBackend, "create_invoice", down)
    response = api.post("/api/jobs", json={"request": "hello"})

    assert response.status_code == 503
    assert error_code(response) == "lightning_unavailable"
    assert stored_rows() == {"jobs": 0, "invoices": 0, "nostr_identities": 0}


def test_a_workflow_that_cannot_start_is_503_and_leaves_no_job(
    api: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from timmy import orchestrator

    def throttled(*_args: object) -> str:
        raise ConnectionError("Step Functions is unreachable")

    monkeypatch.setattr(orchestrator, "start_execution", throttled)
    response = api.post("/api/jobs", json={"request": "hello"})

    assert response.status_code == 503
    assert error_code(response) == "workflow_unavailable"
    assert stored_rows()["jobs"] == 0
    # The invoice nobody was shown can never be paid into a job that does not exist
    assert db().scalar("SELECT state FROM invoices") == "expired"


def test_polling_while_the_node_is_unreachable_still_shows_the_job(
    jobs: JobsClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from timmy.lightning.errors import LightningUnavailable
    from timmy.lightning.stub import StubBackend

    created = jobs.create("Poll me")

    def down(*_args: object) -> None:
        raise LightningUnavailable("the node is down")

    monkeypatch.setattr(StubBackend, "check", down)
    shown = jobs.get(created["job_id"])

    assert shown["state"] == "awaiting_eval_payment"
    assert shown["eval_invoice"] == created["eval_invoice"]
