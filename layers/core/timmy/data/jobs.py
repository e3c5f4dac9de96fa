"""Data access for the ``jobs`` aggregate. All SQL about jobs lives here.

Every state change is one conditional ``UPDATE … WHERE <expected state> RETURNING``: it returns
the row only to the one caller that made the change, so a workflow step that runs twice (Step
Functions retries a step whose outcome it did not see) applies its change once. States travel
as parameters (:class:`JobState` values), never as literals in the SQL.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Final

from timmy.data.pool import Serve
from timmy.db.connection import Db, Row


class JobState(enum.StrEnum):
    AWAITING_EVAL_PAYMENT = "awaiting_eval_payment"
    EVALUATING = "evaluating"
    REJECTED = "rejected"
    AWAITING_WORK_PAYMENT = "awaiting_work_payment"
    EXECUTING = "executing"
    COMPLETE = "complete"
    FAILED = "failed"
    EXPIRED = "expired"


TERMINAL_STATES: Final = frozenset(
    {JobState.REJECTED, JobState.COMPLETE, JobState.FAILED, JobState.EXPIRED}
)
AWAITING_PAYMENT_STATES: Final = frozenset(
    {JobState.AWAITING_EVAL_PAYMENT, JobState.AWAITING_WORK_PAYMENT}
)
UNFINISHED_STATES: Final = frozenset(JobState) - TERMINAL_STATES
# Ended jobs whose outcome counts in the caller's trust (an expired job paid nothing).
TRUST_STATES: Final = frozenset({JobState.COMPLETE, JobState.REJECTED, JobState.FAILED})


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    state: JobState
    request: str
    nostr_pubkey: str | None
    execution_arn: str | None
    eval_fee_sats: int
    eval_payment_hash: str
    eval_paid_sats: int
    eval_accepted: bool | None
    reason: str | None
    eval_input_tokens: int | None
    eval_output_tokens: int | None
    model: str | None
    btc_price_usd: Decimal | None
    estimate_input_tokens: int | None
    estimate_output_tokens: int | None
    work_estimate_sats: int | None
    work_charge_sats: int | None
    work_payment_hash: str | None
    work_paid_sats: int
    result: str | None
    input_tokens: int | None
    output_tokens: int | None
    actual_cost_sats: int | None
    error_code: str | None
    error_message: str | None
    refundable_sats: int
    free_tier_serve: Serve | None
    absorbed_sats: int
    pool_reserved_sats: int
    pool_reserved_at: datetime | None
    trust_recorded_at: datetime | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @property
    def ended(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def free_tier_granted(self) -> bool:
        """The free tier covers the work wholly or in part (not until the work is priced)."""
        return self.free_tier_serve in (_FREE, _PARTIAL)

    @property
    def awaited_payment_hash(self) -> str | None:
        """The invoice the job waits on to move on, if it waits on one."""
        if self.state == JobState.AWAITING_EVAL_PAYMENT:
            return self.eval_payment_hash
        if self.state == JobState.AWAITING_WORK_PAYMENT:
            return self.work_payment_hash
        return None


@dataclass(frozen=True, slots=True)
class UnfinishedJob:
    """A job the reconciler looks at, with the invoice it waits on (if it awaits a payment)."""

    id: str
    state: JobState
    execution_arn: str | None
    updated_at: datetime
    awaited_payment_hash: str | None
    invoice_expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class TrustClaim:
    id: str
    state: JobState
    nostr_pubkey: str | None
    paid_sats: int  # what the caller paid for the job and keeps paying


_COLUMNS = ", ".join("id::text AS id" if f.name == "id" else f.name for f in fields(Job))
_RETURNING = f"RETURNING {_COLUMNS}"

_FREE: Final = Serve.FREE.value
_PARTIAL: Final = Serve.PARTIAL.value
# Every statement gets each state (and free tier serve) as a parameter named by its value
# (``state = :executing``); pg8000 sends only the parameters a statement names.
_STATES: Final[dict[str, str]] = {
    **{state.value: state.value for state in JobState},
    _FREE: _FREE,
    _PARTIAL: _PARTIAL,
}


def _in(states: frozenset[JobState]) -> str:
    """``(:a, :b)``: a set of states in SQL, as the parameters of ``_STATES``."""
    return "(" + ", ".join(f":{state.value}" for state in sorted(states)) + ")"


def _job(row: Row) -> Job:
    serve = row["free_tier_serve"]
    return Job(
        **{
            **row,
            "state": JobState(row["state"]),
            "free_tier_serve": None if serve is None else Serve(serve),
        }
    )


def _one(tx: Db, sql: str, **params: object) -> Job | None:
    """The one job a statement returns (or None), the states passed as parameters."""
    row = tx.one(sql, **_STATES, **params)
    return None if row is None else _job(row)


def insert(
    tx: Db,
    *,
    job_id: str,
    request: str,
    nostr_pubkey: str | None,
    eval_fee_sats: int,
    eval_payment_hash: str,
) -> Job:
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
    return _job(row)


def get(tx: Db, job_id: str, *, for_update: bool = False) -> Job | None:
    lock = " FOR UPDATE" if for_update else ""
    return _one(tx, f"SELECT {_COLUMNS} FROM jobs WHERE id = :id{lock}", id=job_id)


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
            " AND state = :awaiting_eval_payment AND eval_paid_sats = 0",
            id=job_id,
            **_STATES,
        )
        == 1
    )


def record_payment(tx: Db, job_id: str, payment_hash: str, amount_sats: int) -> Job | None:
    """Book a confirmed payment of one of the job's invoices and move the job on.

    Runs in the invoice's pending → paid transaction, which happens once per invoice.
    """
    return _one(
        tx,
        "UPDATE jobs SET"
        " eval_paid_sats = CASE WHEN eval_payment_hash = :h THEN :amount ELSE eval_paid_sats END,"
        " work_paid_sats = CASE WHEN work_payment_hash = :h THEN :amount ELSE work_paid_sats END,"
        " state = CASE"
        "   WHEN eval_payment_hash = :h AND state = :awaiting_eval_payment THEN :evaluating"
        "   WHEN work_payment_hash = :h AND state = :awaiting_work_payment THEN :executing"
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
) -> Job | None:
    """Store the verdict; a rejection ends the job (the eval fee paid for the evaluation)."""
    return _one(
        tx,
        "UPDATE jobs SET eval_accepted = :accepted, reason = :reason,"
        " eval_input_tokens = :inp, eval_output_tokens = :out,"
        " state = CASE WHEN :accepted THEN state ELSE :rejected END,"
        " finished_at = CASE WHEN :accepted THEN finished_at ELSE now() END,"
        " updated_at = now()"
        " WHERE id = :id AND state = :evaluating AND eval_accepted IS NULL"
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
    free_tier_serve: Serve,
    absorbed_sats: int,
) -> Job | None:
    """The work is priced and its invoice issued (gate: the full price; partial: the discounted
    price, ``absorbed_sats`` being the pool's advisory part, reserved only once paid)."""
    return _one(
        tx,
        "UPDATE jobs SET state = :awaiting_work_payment, model = :model, btc_price_usd = :btc,"
        " estimate_input_tokens = :est_in, estimate_output_tokens = :est_out,"
        " work_estimate_sats = :estimate, work_charge_sats = :charge,"
        " work_payment_hash = :h, free_tier_serve = :serve, absorbed_sats = :absorbed,"
        " updated_at = now()"
        " WHERE id = :id AND state = :evaluating AND eval_accepted"
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
) -> Job | None:
    """The free tier covers the whole estimate (the pool was debited for ``reserved_sats``):
    no work invoice, the job goes straight to executing, holding the reservation."""
    return _one(
        tx,
        "UPDATE jobs SET state = :executing, model = :model, btc_price_usd = :btc,"
        " estimate_input_tokens = :est_in, estimate_output_tokens = :est_out,"
        " work_estimate_sats = :estimate, work_charge_sats = 0, free_tier_serve = :free,"
        " absorbed_sats = :reserved, pool_reserved_sats = :reserved, pool_reserved_at = now(),"
        " updated_at = now()"
        " WHERE id = :id AND state = :evaluating AND eval_accepted"
        f" AND work_payment_hash IS NULL AND free_tier_serve IS NULL {_RETURNING}",
        id=job_id,
        model=model,
        btc=btc_price_usd,
        est_in=estimate_input_tokens,
        est_out=estimate_output_tokens,
        estimate=work_estimate_sats,
        reserved=reserved_sats,
    )


def record_partial_reservation(tx: Db, job_id: str, *, reserved_sats: int) -> Job | None:
    """A partial job's work payment was confirmed and the pool debited for ``reserved_sats``
    (possibly less than advised, or 0): what the pool covers is now what it really holds.
    Once per job (``pool_reserved_at`` is set once)."""
    return _one(
        tx,
        "UPDATE jobs SET absorbed_sats = :reserved, pool_reserved_sats = :reserved,"
        " pool_reserved_at = now(), updated_at = now()"
        " WHERE id = :id AND free_tier_serve = :partial AND state = :executing"
        f" AND pool_reserved_at IS NULL {_RETURNING}",
        id=job_id,
        reserved=reserved_sats,
    )


def record_result(
    tx: Db, job_id: str, *, result: str, input_tokens: int, output_tokens: int
) -> Job | None:
    return _one(
        tx,
        "UPDATE jobs SET result = :result, input_tokens = :inp, output_tokens = :out,"
        " updated_at = now()"
        f" WHERE id = :id AND state = :executing AND result IS NULL {_RETURNING}",
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
) -> Job | None:
    """Complete the job; the pool's reservation (``reserved_sats``, as read while executing)
    is used up here: the caller records the grant in the same transaction."""
    return _one(
        tx,
        "UPDATE jobs SET state = :complete, actual_cost_sats = :actual,"
        " refundable_sats = :refundable, absorbed_sats = :absorbed, pool_reserved_sats = 0,"
        " finished_at = now(), updated_at = now()"
        " WHERE id = :id AND state = :executing AND result IS NOT NULL"
        f" AND pool_reserved_sats = :reserved {_RETURNING}",
        id=job_id,
        actual=actual_cost_sats,
        refundable=refundable_sats,
        absorbed=absorbed_sats,
        reserved=reserved_sats,
    )


def expire(tx: Db, job_id: str) -> Job | None:
    """An invoice went unpaid: the job ends. Nothing is owed back (an unpaid eval invoice took
    nothing; an unpaid work invoice leaves the eval fee paying for the evaluation done). The
    pool covers nothing: whatever it held for the job is for the caller to release (lock the
    row and read ``pool_reserved_sats`` first, in the same transaction)."""
    return _one(
        tx,
        "UPDATE jobs SET state = :expired, absorbed_sats = 0, pool_reserved_sats = 0,"
        " finished_at = now(), updated_at = now()"
        f" WHERE id = :id AND state IN {_in(AWAITING_PAYMENT_STATES)}"
        f" {_RETURNING}",
        id=job_id,
    )


def fail(tx: Db, job_id: str, *, error_code: str, error_message: str) -> Job | None:
    """End a job that could not be done; everything the caller paid for it is owed back. The
    pool covers nothing: whatever it held for the job is for the caller to release (lock the
    row and read ``pool_reserved_sats`` first, in the same transaction)."""
    return _one(
        tx,
        "UPDATE jobs SET state = :failed, error_code = :code, error_message = :message,"
        " refundable_sats = eval_paid_sats + work_paid_sats,"
        " absorbed_sats = 0, pool_reserved_sats = 0, finished_at = now(), updated_at = now()"
        f" WHERE id = :id AND state NOT IN {_in(TERMINAL_STATES)}"
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


def claim_trust_record(tx: Db, job_id: str) -> TrustClaim | None:
    """The right to count a finished job in its caller's trust, granted once; ``paid_sats`` is
    what the caller paid for the job and keeps paying (its invoices less what is owed back)."""
    row = tx.one(
        "UPDATE jobs SET trust_recorded_at = now()"
        " WHERE id = :id AND trust_recorded_at IS NULL"
        f" AND state IN {_in(TRUST_STATES)}"
        " RETURNING id::text AS id, state, nostr_pubkey,"
        " GREATEST(0, eval_paid_sats + work_paid_sats - refundable_sats) AS paid_sats",
        id=job_id,
        **_STATES,
    )
    return None if row is None else TrustClaim(**{**row, "state": JobState(row["state"])})


def release_trust_record(tx: Db, job_id: str) -> None:
    tx.execute("UPDATE jobs SET trust_recorded_at = NULL WHERE id = :id", id=job_id)


# ------------------------------------------------------------------------- reconciliation


def unfinished(tx: Db, *, quiet_before: datetime, limit: int) -> list[UnfinishedJob]:
    """Unfinished jobs whose row has not changed since ``quiet_before``, oldest first, with the
    invoice the job waits on (``invoice_expires_at`` is NULL unless it awaits a payment)."""
    rows = tx.all(
        "SELECT j.id::text AS id, j.state, j.execution_arn, j.updated_at,"
        " i.payment_hash AS awaited_payment_hash, i.expires_at AS invoice_expires_at"
        " FROM jobs j LEFT JOIN invoices i ON i.payment_hash = CASE j.state"
        "   WHEN :awaiting_eval_payment THEN j.eval_payment_hash"
        "   WHEN :awaiting_work_payment THEN j.work_payment_hash END"
        f" WHERE j.state IN {_in(UNFINISHED_STATES)} AND j.updated_at < :quiet_before"
        " ORDER BY j.updated_at LIMIT :limit",
        quiet_before=quiet_before,
        limit=limit,
        **_STATES,
    )
    return [UnfinishedJob(**{**row, "state": JobState(row["state"])}) for row in rows]


def claim_for_reconcile(
    tx: Db, job_id: str, *, state: JobState, updated_at: datetime, lease_seconds: int
) -> Job | None:
    """Take an unfinished job for the reconciler: the row comes back to one caller only, and
    only if it is still as it was read (same state, untouched since) and nobody else holds it
    (a claim older than ``lease_seconds`` was left by a run that died)."""
    return _one(
        tx,
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
