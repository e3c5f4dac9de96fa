"""The free tier in jobs over HTTP through the local stack: a trusted caller's job is free, an
established caller's is partly free, an anonymous one pays in full and tops up the pool, and a
free job whose work fails gives its reservation back."""

from __future__ import annotations

import hashlib
import os
from typing import TYPE_CHECKING, Any

import identities
import pytest

from timmy import freetier
from timmy.db.connection import db
from timmy.lightning.bolt11 import encode_invoice

if TYPE_CHECKING:
    from tests.e2e.jobs.conftest import JobsClient

POOL = 10_000
# Stub AI at the local stack's fixed BTC price: estimated 8 sats, really costs 2.
REQUEST = "Summarise the history of the Lightning Network, please. " * 40
# Estimated 29 sats: large enough for a 10 % pool credit of at least 2 sats.
LARGE_REQUEST = "Summarise the history of the Lightning Network, please. " * 200


@pytest.fixture(autouse=True)
def _pool(api: Any) -> None:
    freetier.seed_pool()
    db().execute("UPDATE generosity_pool SET balance_sats = :b", b=POOL)


def caller(tier: str, *, absorbed_today: int = 0) -> tuple[str, dict[str, str]]:
    """An identity in ``tier`` (its trust score set), with ``absorbed_today`` sats of its daily
    free budget used, and the token header that proves it."""
    pubkey = identities.make_identity(tier, absorbed_today=absorbed_today)
    return pubkey, {"X-Nostr-Token": identities.token_for(pubkey)}


def customer_invoice(amount_sats: int) -> str:
    """A BOLT11 invoice of the caller's own node, for a refund claim."""
    return encode_invoice(
        payment_hash=hashlib.sha256(os.urandom(32)).digest(),
        amount_sats=amount_sats,
        description="refund",
        expiry=3600,
        signing_key=bytes.fromhex("22" * 32),
    )


def pool() -> int:
    return int(db().scalar("SELECT balance_sats FROM generosity_pool"))


def grants() -> list[dict[str, Any]]:
    return db().all("SELECT pubkey, request_hash, sats_absorbed FROM free_tier_grants ORDER BY id")


def test_a_trusted_callers_job_is_free(jobs: JobsClient) -> None:
    # Given a trusted caller
    pubkey, headers = caller("trusted")
    created = jobs.create(REQUEST, headers=headers)
    assert created["trust_tier"] == "trusted"

    # When only the eval fee is paid
    jobs.pay(created["eval_invoice"]["payment_hash"])
    done = jobs.wait_for_state(created["job_id"], "complete", "failed", "awaiting_work_payment")

    # Then the work ran with no work invoice at all, and the pool paid its actual cost
    assert done["state"] == "complete"
    assert done["result"].startswith("Stub result for a")
    assert done["free_tier"] is True
    costs = done["costs"]
    actual = costs["actual_cost_sats"]
    assert (costs["work_charge_sats"], costs["work_paid_sats"]) == (0, 0)
    assert 0 < actual < costs["work_estimate_sats"]
    assert done["absorbed_sats"] == actual
    assert done["refundable_sats"] == 0
    assert done["work_invoice"] is None
    assert int(db().scalar("SELECT count(*) FROM invoices")) == 1  # the eval invoice only
    # The over-reservation (estimate - actual) came back: the pool paid the actual cost
    assert pool() == POOL - actual
    assert grants() == [
        {
            "pubkey": pubkey,
            "request_hash": hashlib.sha256(REQUEST.encode()).hexdigest(),
            "sats_absorbed": actual,
        }
    ]
    refund = jobs.api.post(
        f"/api/jobs/{done['job_id']}/refund", json={"invoice": customer_invoice(1)}
    )
    assert refund.status_code == 409
    assert refund.json()["error"]["code"] == "nothing_refundable"


def test_an_established_callers_job_is_partly_free(jobs: JobsClient) -> None:
    # Given an established caller (50 free sats a day) with 1 sat of today's budget left
    pubkey, headers = caller("established", absorbed_today=49)
    created = jobs.create(REQUEST, headers=headers)
    jobs.pay(created["eval_invoice"]["payment_hash"])

    # When the work is priced: a discounted invoice, and the pool is not debited yet
    priced = jobs.wait_for_state(created["job_id"], "awaiting_work_payment", "failed")
    costs = priced["costs"]
    assert priced["state"] == "awaiting_work_payment"
    assert (priced["free_tier"], priced["absorbed_sats"]) == (True, 1)
    assert costs["work_charge_sats"] == costs["work_estimate_sats"] - 1
    assert priced["work_invoice"]["amount_sats"] == costs["work_charge_sats"]
    assert pool() == POOL

    # When it is paid and the work completes
    jobs.pay(priced["work_invoice"]["payment_hash"])
    done = jobs.wait_for_state(created["job_id"], "complete", "failed")

    # Then the pool paid its 1 sat, the caller the rest of the actual cost, and the
    # refund is paid - max(0, actual - absorbed)
    assert done["state"] == "complete"
    paid = done["costs"]["work_paid_sats"]
    actual = done["costs"]["actual_cost_sats"]
    assert paid == costs["work_charge_sats"]
    assert actual > 1
    assert done["absorbed_sats"] == 1
    assert done["refundable_sats"] == paid - (actual - 1)
    assert pool() == POOL - 1 + paid * 10 // 100
    assert [(g["pubkey"], g["sats_absorbed"]) for g in grants()] == [(pubkey, 1)]


def test_an_anonymous_job_pays_in_full_and_credits_the_pool(jobs: JobsClient) -> None:
    done = jobs.run_to_end(LARGE_REQUEST)

    assert done["state"] == "complete"
    assert (done["free_tier"], done["absorbed_sats"]) == (False, 0)
    costs = done["costs"]
    paid = costs["work_paid_sats"]
    assert paid == costs["work_charge_sats"] == costs["work_estimate_sats"]
    assert paid * 10 // 100 >= 2
    assert pool() == POOL + paid * 10 // 100  # 10 % of the paid work, rounded down
    assert done["refundable_sats"] == paid - costs["actual_cost_sats"]
    assert grants() == []


def test_a_free_job_whose_work_fails_gives_the_pool_back_its_reservation(
    jobs: JobsClient,
) -> None:
    pubkey, headers = caller("trusted")
    created = jobs.create("Break at work [[fail-work:permanent]]", headers=headers)
    jobs.pay(created["eval_invoice"]["payment_hash"])

    failed = jobs.wait_for_state(created["job_id"], "failed", "complete", "awaiting_work_payment")

    assert failed["state"] == "failed"
    assert failed["error"]["code"] == "ai_failed"
    assert (failed["free_tier"], failed["absorbed_sats"]) == (True, 0)
    assert failed["refundable_sats"] == 10  # the eval fee; the work was never paid for
    assert pool() == POOL
    today = db().scalar(
        "SELECT sats_absorbed_today FROM nostr_identities WHERE pubkey = :pk", pk=pubkey
    )
    assert today == 0
    assert grants() == []
