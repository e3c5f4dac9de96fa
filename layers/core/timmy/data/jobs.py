"""Data access for the ``jobs`` aggregate. All SQL about jobs lives here.

Every state change is one conditional ``UPDATE … WHERE <expected state> RETURNING``: it returns
the row only to the one caller that made the change, so a workflow step that runs twice (Step
Functions retries a step whose outcome it did not see) applies its change once.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Final

from timmy.db.connection import Db, Row

TERMINAL_STATES: Final = ("rejected", "complete", "failed", "expired")

# The uuid id comes back as text (the later "id" column wins in the row dict).
_RETURNING = "RETURNING *, id::text AS id"


def insert(
    tx: Db,
    *,
    job_id: str,
    request: str,
    nostr_pubkey: str | None,
    eval_fee_sats: int,
    eval_payment_hash: str,
) -> Row:
    row = tx.one(
        "INSERT INTO jobs (id, request, nostr_pubkey, eval_fee_sats, eval_payment_hash)"
        f" VALUES (:id, :request, :pubkey, :fee, :hash) {_RETURNING}",
        id=job_id,
        request=request,
        pubkey=nostr_pubkey,
        fee=eval_fee_sats,
        hash=eval_payment_hash,
    )
    assert row is not None
    return row


def get(tx: Db, job_id: str, *, for_update: bool = False) -> Row | None:
    lock = " FOR UPDATE" if for_update else ""
    return tx.one(f"SELECT *, id::text AS id FROM jobs WHERE id = :id{lock}", id=job_id)


def set_execution_arn(tx: Db, job_id: str, execution_arn: str) -> None:
    tx.execute(
        "UPDATE jobs SET execution_arn = :arn, updated_at = now() WHERE id = :id",
        id=job_id,
        arn=execution_arn,
    )


def delete_unstarted(tx: Db, job_id: str) -> bool:
    """Remove a job whose workflow never started (nothing was paid, nobody saw its invoice)."""
    return (
        tx.execute(
            "DELETE FROM jobs WHERE id = :id AND execution_arn IS NULL"
            " AND state = 'awaiting_eval_payment' AND eval_paid_sats = 0",
            id=job_id,
        )
        == 1
    )


def record_payment(tx: Db, job_id: str, payment_hash: str, amount_sats: int) -> Row | None:
    """Book a confirmed payment of one of the job's invoices and move the job on.

    Runs in the invoice's pending → paid transaction, which happens once per invoice.
    """
    return tx.one(
        "UPDATE jobs SET"
        " eval_paid_sats = CASE WHEN eval_payment_hash = :h THEN :amount ELSE eval_paid_sats END,"
        " work_paid_sats = CASE WHEN work_payment_hash = :h THEN :amount ELSE work_paid_sats END,"
        " state = CASE"
        "   WHEN eval_payment_hash = :h AND state = 'awaiting_eval_payment' THEN 'evaluating'"
        "   WHEN work_payment_hash = :h AND state = 'awaiting_work_payment' THEN 'executing'"
        "   ELSE state END,"
        " updated_at = now()"
        f" WHERE id = :id AND :h IN (eval_payment_hash, work_payment_hash) {_RETURNING}",
        id=job_id,
        h=payment_hash,
        amount=amount_sats,
    )


def record_evaluation(
    tx: Db,
    job_id: str,
    *,
    accepted: bool,
    reason: str,
    input_tokens: int,
    output_tokens: int,
) -> Row | None:
    """Store the verdict; a rejection ends the job (the eval fee paid for the evaluation)."""
    return tx.one(
        "UPDATE jobs SET eval_accepted = :accepted, reason = :reason,"
        " eval_input_tokens = :inp, eval_output_tokens = :out,"
        " state = CASE WHEN :accepted THEN state ELSE 'rejected' END,"
        " finished_at = CASE WHEN :accepted THEN finished_at ELSE now() END,"
        " updated_at = now()"
        " WHERE id = :id AND state = 'evaluating' AND eval_accepted IS NULL"
        f" {_RETURNING}",
        id=job_id,
        accepted=accepted,
        reason=reason,
        inp=input_tokens,
        out=output_tokens,
    )


def record_work_invoice(
    tx: Db,
    job_id: str,
    *,
    model: str,
    btc_price_usd: Decimal,
    estimate_input_tokens: int,
    estimate_output_tokens: int,
    work_estimate_sats: int,
    work_charge_sats: int,
    work_payment_hash: str,
    free_tier_serve: str,
    absorbed_sats: int,
) -> Row | None:
    """The work is priced and its invoice issued (gate: the full price; partial: the discounted
    price, ``absorbed_sats`` being the pool's advisory part, reserved only once paid)."""
    return tx.one(
        "UPDATE jobs SET state = 'awaiting_work_payment', model = :model, btc_price_usd = :btc,"
        " estimate_input_tokens = :est_in, estimate_output_tokens = :est_out,"
        " work_estimate_sats = :estimate, work_charge_sats = :charge,"
        " work_payment_hash = :h, free_tier_serve = :serve, absorbed_sats = :absorbed,"
        " updated_at = now()"
        " WHERE id = :id AND state = 'evaluating' AND eval_accepted"
        f" AND work_payment_hash IS NULL AND free_tier_serve IS NULL {_RETURNING}",
        id=job_id,
        model=model,
        btc=btc_price_usd,
        est_in=estimate_input_tokens,
        est_out=estimate_output_tokens,
        estimate=work_estimate_sats,
        charge=work_charge_sats,
        h=work_payment_hash,
        serve=free_tier_serve,
        absorbed=absorbed_sats,
    )


def record_free_work(
    tx: Db,
    job_id: str,
    *,
    model: str,
    btc_price_usd: Decimal,
    estimate_input_tokens: int,
    estimate_output_tokens: int,
    work_estimate_sats: int,
    reserved_sats: int,
) -> Row | None:
    """The free tier covers the whole estimate (the pool was debited for ``reserved_sats``):
    no work invoice, the job goes straight to executing, holding the reservation."""
    return tx.one(
        "UPDATE jobs SET state = 'executing', model = :model, btc_price_usd = :btc,"
        " estimate_input_tokens = :est_in, estimate_output_tokens = :est_out,"
        " work_estimate_sats = :estimate, work_charge_sats = 0, free_tier_serve = 'free',"
        " absorbed_sats = :reserved, pool_reserved_sats = :reserved, pool_reserved_at = now(),"
        " updated_at = now()"
        " WHERE id = :id AND state = 'evaluating' AND eval_accepted"
        f" AND work_payment_hash IS NULL AND free_tier_serve IS NULL {_RETURNING}",
        id=job_id,
        model=model,
        btc=btc_price_usd,
        est_in=estimate_input_tokens,
        est_out=estimate_output_tokens,
        estimate=work_estimate_sats,
        reserved=reserved_sats,
    )


def record_partial_reservation(tx: Db, job_id: str, *, reserved_sats: int) -> Row | None:
    """A partial job's work payment was confirmed and the pool debited for ``reserved_sats``
    (possibly less than advised, or 0): what the pool covers is now what it really holds.
    Once per job (``pool_reserved_at`` is set once)."""
    return tx.one(
        "UPDATE jobs SET absorbed_sats = :reserved, pool_reserved_sats = :reserved,"
        " pool_reserved_at = now(), updated_at = now()"
        " WHERE id = :id AND free_tier_serve = 'partial' AND state = 'executing'"
        f" AND pool_reserved_at IS NULL {_RETURNING}",
        id=job_id,
        reserved=reserved_sats,
    )


def record_result(
    tx: Db, job_id: str, *, result: str, input_tokens: int, output_tokens: int
) -> Row | None:
    return tx.one(
        "UPDATE jobs SET result = :result, input_tokens = :inp, output_tokens = :out,"
        " updated_at = now()"
        f" WHERE id = :id AND state = 'executing' AND result IS NULL {_RETURNING}",
        id=job_id,
        result=result,
        inp=input_tokens,
        out=output_tokens,
    )


def settle(
    tx: Db,
    job_id: str,
    *,
    actual_cost_sats: int,
    refundable_sats: int,
    absorbed_sats: int,
    reserved_sats: int,
) -> Row | None:
    """Complete the job; the pool's reservation (``reserved_sats``, as read while executing)
    is used up here: the caller records the grant in the same transaction."""
    return tx.one(
        "UPDATE jobs SET state = 'complete', actual_cost_sats = :actual,"
        " refundable_sats = :refundable, absorbed_sats = :absorbed, pool_reserved_sats = 0,"
        " finished_at = now(), updated_at = now()"
        " WHERE id = :id AND state = 'executing' AND result IS NOT NULL"
        f" AND pool_reserved_sats = :reserved {_RETURNING}",
        id=job_id,
        actual=actual_cost_sats,
        refundable=refundable_sats,
        absorbed=absorbed_sats,
        reserved=reserved_sats,
    )


def expire(tx: Db, job_id: str) -> Row | None:
    """An invoice went unpaid: the job ends. Nothing is owed back (an unpaid eval invoice took
    nothing; an unpaid work invoice leaves the eval fee paying for the evaluation done). The
    pool covers nothing: whatever it held for the job is for the caller to release (lock the
    row and read ``pool_reserved_sats`` first, in the same transaction)."""
    return tx.one(
        "UPDATE jobs SET state = 'expired', absorbed_sats = 0, pool_reserved_sats = 0,"
        " finished_at = now(), updated_at = now()"
        " WHERE id = :id AND state IN ('awaiting_eval_payment', 'awaiting_work_payment')"
        f" {_RETURNING}",
        id=job_id,
    )


def fail(tx: Db, job_id: str, *, error_code: str, error_message: str) -> Row | None:
    """End a job that could not be done; everything the caller paid for it is owed back. The
    pool covers nothing: whatever it held for the job is for the caller to release (lock the
    row and read ``pool_reserved_sats`` first, in the same transaction)."""
    return tx.one(
        "UPDATE jobs SET state = 'failed', error_code = :code, error_message = :message,"
        " refundable_sats = eval_paid_sats + work_paid_sats,"
        " absorbed_sats = 0, pool_reserved_sats = 0, finished_at = now(), updated_at = now()"
        " WHERE id = :id AND state NOT IN ('rejected', 'complete', 'failed', 'expired')"
        f" {_RETURNING}",
        id=job_id,
        code=error_code,
        message=error_message,
    )


def lock_caller(tx: Db, pubkey: str) -> None:
    """Lock the job's caller's identity row before this transaction touches the generosity pool.

    The free tier's release and grant statements update the pool row before the identity row,
    its reservation statement locks the identity first: taking the identity here, ahead of
    them, keeps one lock order (job, identity, pool) so racing jobs cannot deadlock.
    """
    tx.execute("SELECT 1 FROM nostr_identities WHERE pubkey = :pk FOR NO KEY UPDATE", pk=pubkey)


def claim_trust_record(tx: Db, job_id: str) -> Row | None:
    """The right to count a finished job in its caller's trust, granted once; ``paid_sats`` is
    what the caller paid for the job and keeps paying (its invoices less what is owed back)."""
    return tx.one(
        "UPDATE jobs SET trust_recorded_at = now()"
        " WHERE id = :id AND trust_recorded_at IS NULL"
        " AND state IN ('complete', 'rejected', 'failed')"
        " RETURNING id::text AS id, state, nostr_pubkey,"
        " GREATEST(0, eval_paid_sats + work_paid_sats - refundable_sats) AS paid_sats",
        id=job_id,
    )


def release_trust_record(tx: Db, job_id: str) -> None:
    tx.execute("UPDATE jobs SET trust_recorded_at = NULL WHERE id = :id", id=job_id)


# ------------------------------------------------------------------------- reconciliation


def unfinished(tx: Db, *, quiet_before: datetime, limit: int) -> list[Row]:
    """Unfinished jobs whose row has not changed since ``quiet_before``, oldest first, with the
    invoice the job waits on (``invoice_expires_at`` is NULL unless it awaits a payment)."""
    return tx.all(
        "SELECT j.id::text AS id, j.state, j.execution_arn, j.updated_at,"
        " i.payment_hash AS awaited_payment_hash, i.expires_at AS invoice_expires_at"
        " FROM jobs j LEFT JOIN invoices i ON i.payment_hash = CASE j.state"
        "   WHEN 'awaiting_eval_payment' THEN j.eval_payment_hash"
        "   WHEN 'awaiting_work_payment' THEN j.work_payment_hash END"
        " WHERE j.state IN ('awaiting_eval_payment', 'evaluating', 'awaiting_work_payment',"
        " 'executing') AND j.updated_at < :quiet_before"
        " ORDER BY j.updated_at LIMIT :limit",
        quiet_before=quiet_before,
        limit=limit,
    )


def claim_for_reconcile(
    tx: Db, job_id: str, *, state: str, updated_at: datetime, lease_seconds: int
) -> Row | None:
    """Take an unfinished job for the reconciler: the row comes back to one caller only, and
    only if it is still as it was read (same state, untouched since) and nobody else holds it
    (a claim older than ``lease_seconds`` was left by a run that died)."""
    return tx.one(
        "UPDATE jobs SET reconcile_claimed_at = now()"
        " WHERE id = :id AND state = :state AND updated_at = :seen"
        " AND (reconcile_claimed_at IS NULL"
        "      OR reconcile_claimed_at < now() - make_interval(secs => :lease))"
        f" {_RETURNING}",
        id=job_id,
        state=state,
        seen=updated_at,
        lease=lease_seconds,
    )


def release_reconcile_claim(tx: Db, job_id: str) -> None:
    """The reconciler leaves the job unfinished (an upstream was down): the next run retries."""
    tx.execute("UPDATE jobs SET reconcile_claimed_at = NULL WHERE id = :id", id=job_id)
