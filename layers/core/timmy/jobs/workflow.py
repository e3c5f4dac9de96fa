"""The job workflow's steps, one function per Lambda task, plus the on-paid hook.

Step Functions may run a step more than once (a retry after an outcome it did not see), so
every step is idempotent: it reads the job, returns the stored outcome when its work is
already done, and otherwise applies its change with one conditional update
(``timmy.data.jobs``). An exception's class name is the error the state machine sees
(``RetryableAIError`` is retried with backoff; anything else ends in :func:`fail`).

What is refundable (``refundable_sats``), decided once when the job ends:

* ``complete``: work paid minus what the caller owes of the actual cost of the real token usage,
  ``paid - max(0, actual - absorbed)`` where ``absorbed`` is the free tier's part (never
  negative, never more than paid; the eval fee paid for the evaluation and is not refunded; a
  free job paid nothing for its work, so nothing is refundable);
* ``failed``: everything the caller paid for the job, eval fee and work payment alike: the
  caller got nothing for it, whichever step failed;
* ``rejected`` and ``expired``: nothing (the eval fee paid for the evaluation that was done;
  an unpaid invoice took nothing).

The free tier (:mod:`timmy.jobs.charging`): the pool is debited for a job at most once — at
the ``free`` decision (:func:`price_work`) or when a ``partial`` job's work invoice is paid
(:func:`on_invoice_paid`) — and the job row holds that reservation (``pool_reserved_sats``)
until it is either recorded as a grant, over-reservation returned (:func:`settle`), or
released (:func:`fail`, :func:`expire`), in the transaction that zeroes it: exactly once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from timmy import freetier, identity, payments, quote
from timmy.ai import agent, providers
from timmy.data import invoices
from timmy.data import jobs as data
from timmy.data.invoices import Invoice, PaymentPurpose
from timmy.data.jobs import Job, JobState
from timmy.db.connection import Db, transaction
from timmy.freetier import Serve
from timmy.jobs.charging import WorkCharge, settle_work, work_charge
from timmy.jobs.errors import JobNotFound, JobStateError
from timmy.observability import log_ref

logger = logging.getLogger(__name__)

# What a failure looks like to the caller: a public code and sentence per workflow error.
# Anything unlisted is ours to fix and is shown as internal_error (details stay in the logs).
_PUBLIC_FAILURES: Final = {
    "PermanentAIError": ("ai_failed", "The AI provider could not process this request."),
    "RetryableAIError": (
        "ai_unavailable",
        "The AI provider stayed unavailable after several attempts.",
    ),
    "LightningUnavailable": (
        "lightning_unavailable",
        "The Lightning backend was unavailable while pricing the work.",
    ),
    "UnknownModel": ("unknown_model", "The configured AI model has no price."),
    "States.Timeout": ("timeout", "A step of the job took too long."),
    "Sandbox.Timedout": ("timeout", "A step of the job took too long."),
    # Named by the scheduled reconciler (timmy.reconcile) for a job whose workflow was lost.
    "WorkflowLost": ("workflow_lost", "The job's workflow stopped before the job finished."),
}
_INTERNAL_FAILURE: Final = ("internal_error", "The job could not be completed.")
# Postgres text cannot hold NUL; a model's output can.
_NUL: Final = "\x00"


def _load(tx: Db, job_id: str) -> Job:
    job = data.get(tx, job_id)
    if job is None:
        raise JobNotFound(f"no job {job_id}")
    return job


def _read(job_id: str) -> Job:
    with transaction() as tx:
        return _load(tx, job_id)


def _unexpected(job: Job, step: str) -> JobStateError:
    return JobStateError(f"job {job.id} is {job.state}; {step} cannot run")


# --------------------------------------------------------------------------- on-paid hook


def on_invoice_paid(tx: Db, invoice: Invoice) -> None:
    """The on-paid handler of ``PaymentPurpose.JOB`` (``timmy.payments``): runs inside the
    invoice's one pending → paid transaction, so the money and the job's new state commit together.

    A partial job's grant is reserved here, at payment and not at invoice (an unpaid invoice
    must never hold pool sats): the pool is debited for as much of the advised part as the
    caller's day and the pool still allow, and the job holds what was really debited.
    """
    payment_hash = invoice.payment_hash
    job = data.record_payment(tx, invoice.owner_id, payment_hash, invoice.amount_sats)
    if (
        job is None
        or job.free_tier_serve != Serve.PARTIAL
        or job.work_payment_hash != payment_hash
        or job.state != JobState.EXECUTING
        or job.pool_reserved_at is not None
        or job.nostr_pubkey is None  # the free tier serves identified callers only
    ):
        return
    reserved = freetier.reserve_partial_grant(job.absorbed_sats, job.nostr_pubkey, tx=tx)
    if data.record_partial_reservation(tx, job.id, reserved_sats=reserved) is None:
        # The row is locked by record_payment above: this cannot happen; roll it all back.
        raise JobStateError(f"job {job.id}: the partial grant could not be stored")


# --------------------------------------------------------------------------------- steps


def evaluate(job_id: str) -> bool:
    """Ask the AI whether to take the paid-for request; a rejection ends the job."""
    job = _read(job_id)
    if job.eval_accepted is not None:
        return bool(job.eval_accepted)
    if job.state != JobState.EVALUATING:
        raise _unexpected(job, "evaluate")
    evaluation = agent.evaluate(providers.provider(), job.request)
    with transaction() as tx:
        stored = data.record_evaluation(
            tx,
            job_id,
            accepted=evaluation.accepted,
            reason=evaluation.reason.replace(_NUL, ""),
            input_tokens=evaluation.usage.input_tokens,
            output_tokens=evaluation.usage.output_tokens,
        ) or _load(tx, job_id)
    if stored.eval_accepted is None:
        raise _unexpected(stored, "evaluate")
    return bool(stored.eval_accepted)


@dataclass(frozen=True, slots=True)
class WorkPricing:
    serve: Serve  # the free tier's decision: free, partial or gate
    payment_hash: str | None  # the work invoice (None when free: there is none)
    charge_sats: int

    @classmethod
    def of(cls, job: Job) -> WorkPricing:
        assert job.work_charge_sats is not None  # priced
        return cls(
            serve=job.free_tier_serve or Serve.GATE,
            payment_hash=job.work_payment_hash,
            charge_sats=job.work_charge_sats,
        )


def _priced(job: Job) -> bool:
    return job.free_tier_serve is not None or job.work_payment_hash is not None


def price_work(job_id: str) -> WorkPricing:
    """Price the accepted request, take the free-tier decision and, unless the work is free,
    issue the work invoice (once)."""
    job = _read(job_id)
    if _priced(job):
        return WorkPricing.of(job)
    if job.state != JobState.EVALUATING or not job.eval_accepted:
        raise _unexpected(job, "price_work")
    priced = quote.estimate(job.request)
    charge = work_charge(job.nostr_pubkey, priced)
    if charge.serve == Serve.FREE:
        return _store_free_work(job, priced, charge)
    created = payments.request_invoice(charge.charge_sats, f"Timmy job {job_id}: work")
    with transaction() as tx:
        payments.record_invoice(tx, created, purpose=PaymentPurpose.JOB, owner_id=job_id)
        stored = data.record_work_invoice(
            tx,
            job_id,
            model=priced.model,
            btc_price_usd=priced.estimate.btc_price_usd,
            estimate_input_tokens=priced.estimate.tokens.input,
            estimate_output_tokens=priced.estimate.tokens.output,
            work_estimate_sats=charge.estimate_sats,
            work_charge_sats=charge.charge_sats,
            work_payment_hash=created.payment_hash,
            free_tier_serve=charge.serve,
            absorbed_sats=charge.absorb_sats,
        )
        if stored is None:  # rolls the invoice back with it
            raise _unexpected(_load(tx, job_id), "price_work")
    return WorkPricing.of(stored)


def _store_free_work(job: Job, priced: quote.Quote, charge: WorkCharge) -> WorkPricing:
    """Store a free decision on the job. The decision already debited the pool (``decide`` runs
    in its own transaction), so unless the job took the reservation (the store failed, or a
    concurrent run priced the job first) it goes straight back to the pool."""
    job_id = job.id

    def give_back() -> None:
        assert job.nostr_pubkey is not None  # a free decision is an identified caller's
        _release(charge.absorb_sats, job.nostr_pubkey, f"job {job_id}: free decision not stored")

    stored: Job | None = None
    try:
        with transaction() as tx:
            stored = data.record_free_work(
                tx,
                job_id,
                model=priced.model,
                btc_price_usd=priced.estimate.btc_price_usd,
                estimate_input_tokens=priced.estimate.tokens.input,
                estimate_output_tokens=priced.estimate.tokens.output,
                work_estimate_sats=charge.estimate_sats,
                reserved_sats=charge.absorb_sats,
            )
            current = stored or _load(tx, job_id)
    except BaseException:
        # Rolled back, or the COMMIT itself failed: then the row says whether it landed.
        if stored is None or _read(job_id).pool_reserved_at is None:
            give_back()
        raise
    if stored is None:
        give_back()
        if _priced(current):
            return WorkPricing.of(current)
        raise _unexpected(current, "price_work")
    return WorkPricing.of(stored)


def execute(job_id: str) -> None:
    """Do the paid-for work and store the result with its real token usage."""
    job = _read(job_id)
    if job.result is not None:
        return
    if job.state != JobState.EXECUTING or job.estimate_output_tokens is None:
        raise _unexpected(job, "execute")
    # The priced output estimate caps the output: usage cannot run past what was paid for.
    outcome = agent.work(providers.provider(), job.request, job.estimate_output_tokens)
    with transaction() as tx:
        data.record_result(
            tx,
            job_id,
            result=outcome.text.replace(_NUL, ""),
            input_tokens=outcome.input_tokens,
            output_tokens=outcome.output_tokens,
        )


@dataclass(frozen=True, slots=True)
class Settlement:
    actual_cost_sats: int
    refundable_sats: int

    @classmethod
    def of(cls, job: Job) -> Settlement:
        assert job.actual_cost_sats is not None  # complete
        return cls(job.actual_cost_sats, job.refundable_sats)


def settle(job_id: str) -> Settlement:
    """Price the real usage at the quoted BTC price and split it between the free tier's
    reservation and the caller (:func:`timmy.jobs.charging.settle_work`); what the caller paid
    beyond their part becomes refundable. In the same transaction: the grant is recorded (the
    over-reservation returned to the pool) and a paid job credits the pool."""
    job = _read(job_id)
    if job.state == JobState.COMPLETE:
        return Settlement.of(job)
    if (
        job.state != JobState.EXECUTING
        or job.result is None
        or job.input_tokens is None
        or job.output_tokens is None
        or job.model is None
        or job.btc_price_usd is None
    ):
        raise _unexpected(job, "settle")
    actual = quote.actual(job.input_tokens, job.output_tokens, job.model, job.btc_price_usd)
    paid = job.work_paid_sats
    # Fixed while executing: only this step and fail() change it, both leaving executing.
    reserved = job.pool_reserved_sats
    split = settle_work(paid, actual, reserved)
    with transaction() as tx:
        stored = data.settle(
            tx,
            job_id,
            actual_cost_sats=actual,
            refundable_sats=split.refundable_sats,
            absorbed_sats=split.absorbed_sats,
            reserved_sats=reserved,
        )
        if stored is not None:  # this call completed the job: the pool's side, once
            if reserved > 0:
                assert job.nostr_pubkey is not None  # the pool serves identified callers
                data.lock_caller(tx, job.nostr_pubkey)
                freetier.record_grant(
                    job.nostr_pubkey,
                    freetier.request_hash(job.request),
                    split.absorbed_sats,
                    reserved,
                    tx=tx,
                )
            freetier.credit(paid, tx=tx)  # a free job paid nothing: credits nothing
        else:
            stored = _load(tx, job_id)
    if stored.state != JobState.COMPLETE:
        raise _unexpected(stored, "settle")
    return Settlement.of(stored)


def _end_releasing(tx: Db, job_id: str, end: Callable[[], Job | None], reason: str) -> Job | None:
    """End the job with ``end`` (a conditional update that zeroes ``pool_reserved_sats``) and
    give back to the pool what it held for the job, in this transaction: the locked read and
    the state change make the release happen once however often the step runs."""
    locked = data.get(tx, job_id, for_update=True)
    if locked is None:
        raise JobNotFound(f"no job {job_id}")
    ended = end()
    held = locked.pool_reserved_sats
    if ended is not None and held > 0 and locked.nostr_pubkey is not None:
        _release(held, locked.nostr_pubkey, reason, tx=tx)
    return ended


def _release(sats: int, pubkey: str, reason: str, *, tx: Db | None = None) -> None:
    """Give a reservation back to the pool (in ``tx``, or a transaction of its own), the
    caller's identity row locked first (see :func:`timmy.data.jobs.lock_caller`)."""
    if tx is None:
        with transaction() as own:
            _release(sats, pubkey, reason, tx=own)
        return
    data.lock_caller(tx, pubkey)
    freetier.release_reservation(sats, pubkey, reason, tx=tx)


def expire(job_id: str) -> JobState:
    """An invoice was not paid in time: the job ends as expired."""
    with transaction() as tx:
        stored = _end_releasing(
            tx, job_id, lambda: data.expire(tx, job_id), f"job {job_id} expired"
        ) or _load(tx, job_id)
    return stored.state


def public_failure(error_name: str | None) -> tuple[str, str]:
    """The code and sentence a caller sees for a workflow error name."""
    return _PUBLIC_FAILURES.get(error_name or "", _INTERNAL_FAILURE)


def fail(job_id: str, error_name: str | None, cause: str | None) -> Job:
    """End the job as failed; everything paid for it becomes refundable, and whatever the pool
    held for it (a free or a paid partial job's reservation) is released, once.

    The job's still-pending invoices are expired first (same transaction, invoices locked
    before the job, as the on-paid hook does), so no payment can land on a failed job.
    """
    code, message = public_failure(error_name)
    logger.warning(
        "job failed",
        extra={"job_ref": log_ref(job_id), "error": error_name, "cause": (cause or "")[:500]},
    )
    with transaction() as tx:
        job = _load(tx, job_id)
        for payment_hash in (job.eval_payment_hash, job.work_payment_hash):
            if payment_hash is not None:
                invoices.mark_expired(tx, payment_hash)
        failed = _end_releasing(
            tx,
            job_id,
            lambda: data.fail(tx, job_id, error_code=code, error_message=message),
            f"job {job_id} failed ({code})",
        )
        return failed or _load(tx, job_id)


def record_trust(job_id: str) -> bool:
    """Count the finished job in its caller's trust, once: complete is a success weighed by
    what the caller paid for it (a free job earns nothing), rejected and failed are failures.
    True when an identity's score was updated by this call."""
    with transaction() as tx:
        claim = data.claim_trust_record(tx, job_id)
        if claim is None:
            _load(tx, job_id)  # an unknown job is an error, a recorded one is not
            return False
    pubkey = claim.nostr_pubkey
    try:
        if claim.state == JobState.COMPLETE:
            identity.record_success(pubkey, paid_sats=claim.paid_sats)
        else:
            identity.record_failure(pubkey)
    except Exception:
        with transaction() as tx:
            data.release_trust_record(tx, job_id)
        raise
    return pubkey is not None
