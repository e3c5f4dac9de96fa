"""One request on a session: estimate → free-tier decision → hold → execute → reconcile.

1. **Estimate.** The request can cost at most ``max(estimate, SESSION_MIN_REQUEST_SATS)``.
2. **Decide** (outside any transaction) on that estimate: ``free`` has already debited the
   generosity pool for all of it; ``partial`` advises how much the pool may absorb; ``gate``
   leaves the caller to pay everything.
3. **Hold**, in one transaction: the caller's part (the estimate less the free tier's) is held
   from the balance with one conditional UPDATE that only succeeds while the balance covers
   it, so concurrent requests can never take it below zero (the table's
   ``CHECK (balance_sats >= 0)`` makes it impossible, not merely unlikely). A partial grant is
   then reserved from the pool; if the pool or the identity's daily budget shrank since the
   decision, the caller's part grows by the difference and must be held too. Whatever cannot
   be held refuses the request (402) and leaves nothing behind: the transaction rolls back,
   and a ``free`` reservation is returned to the pool.
4. **Execute.** A failed AI call returns the balance hold and the pool reservation whole.
5. **Reconcile**, in one transaction: the cost is the real usage (at least the minimum, at
   most the estimate); the free tier absorbs ``min(cost, pool reservation)`` and the caller is
   charged the rest. The unused part of each reservation goes back where it came from, the
   grant is written to the free tier's audit log, and the pool is credited its share of what
   the caller paid.

A wholly free request holds nothing from the balance, so it runs even on a session whose
balance is below ``SESSION_MIN_REQUEST_SATS``: the minimum still prices the request, but the
pool pays it.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from timmy import freetier, identity, quote
from timmy.ai import agent, providers
from timmy.ai.base import AIResult
from timmy.ai.errors import PermanentAIError, RetryableAIError
from timmy.data import sessions as data
from timmy.db.connection import Db, transaction
from timmy.errors import TimmyError
from timmy.observability import log_ref
from timmy.sessions import auth
from timmy.sessions.errors import (
    InsufficientBalance,
    SessionExpired,
    SessionNotFound,
    SessionNotPaid,
)
from timmy.sessions.service import load, parse_session_id
from timmy.sessions.settings import SessionSettings, session_settings
from timmy.sessions.views import SessionRequestResult, SessionTokens

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hold:
    """What a running request has taken, and from where."""

    estimate_sats: int  # the most the request can cost: balance_sats + pool_sats
    balance_sats: int  # held from the session's balance: the caller's part
    pool_sats: int  # debited from the generosity pool: the free tier's part
    serve: freetier.Serve  # the decision as applied ("gate" when the pool gave nothing)


@dataclass(frozen=True)
class Settlement:
    cost_sats: int
    absorbed_sats: int
    charged_sats: int


def settlement(actual_sats: int, hold: Hold, min_request_sats: int) -> Settlement:
    """Split the cost of real usage between the free tier and the caller.

    The cost is at least the minimum and never more than the estimate (the caller agreed to
    it); the free tier absorbs what it reserved, capped at the cost; the caller pays the rest,
    which always fits its hold because cost ≤ estimate = balance hold + pool reservation.
    """
    cost = min(max(actual_sats, min_request_sats), hold.estimate_sats)
    absorbed = min(cost, hold.pool_sats)
    charged = min(max(0, cost - absorbed), hold.balance_sats)
    return Settlement(cost_sats=cost, absorbed_sats=absorbed, charged_sats=charged)


def run_request(raw_session_id: str, authorization: str | None, text: str) -> SessionRequestResult:
    """Do ``text``'s work on the session's balance (and the free tier's pool).

    Order of refusals, none of which changes anything: unknown session 404; missing, invalid,
    expired or foreign macaroon 401/403; invalid request text 400; unpaid session 402
    ``session_not_paid``; expired session 409 ``session_expired``; a balance that cannot
    cover the caller's part of the estimate 402 ``insufficient_balance``. A failed AI call
    answers 503/502 and debits nothing, from the balance or the pool.
    """
    session_id = parse_session_id(raw_session_id)
    settings = session_settings()
    row = load(session_id, settings)
    auth.authorize(authorization, session_id)
    text = quote.validate_request_text(text)
    _refuse_unusable(row.paid, row.expired)
    pubkey = row.nostr_pubkey

    priced = quote.estimate(text)
    estimate_sats = max(priced.sats, settings.session_min_request_sats)
    # Outside any transaction (it runs its own): a free decision has debited the pool already.
    decision = freetier.decide(pubkey, estimate_sats)
    request_id = str(uuid.uuid4())
    hold = _hold(session_id, request_id, pubkey, priced, estimate_sats, decision, settings)

    try:
        result = agent.work(providers.provider(), text, max_tokens=priced.estimate.tokens.output)
        actual_sats = quote.actual(
            result.input_tokens, result.output_tokens, result.model, priced.estimate.btc_price_usd
        )
    except Exception as error:
        _release(session_id, request_id, pubkey, hold, error)
        if isinstance(error, RetryableAIError | PermanentAIError):
            identity.record_failure(pubkey)
        raise

    split = settlement(actual_sats, hold, settings.session_min_request_sats)
    try:
        balance_sats = _settle(session_id, request_id, pubkey, text, result, hold, split)
    except Exception as error:
        # Nothing of the settlement was kept: return both reservations rather than strand them.
        _release(session_id, request_id, pubkey, hold, error)
        raise
    identity.record_success(pubkey, paid_sats=split.charged_sats)  # only paying earns trust
    return SessionRequestResult(
        request_id=request_id,
        result=result.text,
        cost_sats=split.cost_sats,
        charged_sats=split.charged_sats,
        absorbed_sats=split.absorbed_sats,
        free_tier=split.absorbed_sats > 0,
        balance_sats=balance_sats,
        tokens=SessionTokens(input=result.input_tokens, output=result.output_tokens),
        trust_tier=identity.tier_of(pubkey),
    )


def _refuse_unusable(paid: bool, expired: bool) -> None:
    if not paid:
        raise SessionNotPaid("This session's deposit has not been paid yet.")
    if expired:
        raise SessionExpired("This session has expired.")


# --- hold ----------------------------------------------------------------------------------


def _hold(
    session_id: str,
    request_id: str,
    pubkey: str | None,
    priced: quote.Quote,
    estimate_sats: int,
    decision: freetier.Decision,
    settings: SessionSettings,
) -> Hold:
    """Hold the caller's part from the balance and reserve the free tier's from the pool.

    All or nothing: a refusal rolls the transaction back (a partial grant reserved in it
    included) and returns a ``free`` decision's reservation, taken before, to the pool.
    """
    try:
        with transaction() as tx:
            return _take(
                tx, session_id, request_id, pubkey, priced, estimate_sats, decision, settings
            )
    except BaseException:
        if decision.serve == freetier.Serve.FREE and pubkey is not None:
            with transaction() as tx:
                _return_to_pool(tx, pubkey, decision.absorb_sats, "request refused before work")
        raise


def _take(
    tx: Db,
    session_id: str,
    request_id: str,
    pubkey: str | None,
    priced: quote.Quote,
    estimate_sats: int,
    decision: freetier.Decision,
    settings: SessionSettings,
) -> Hold:
    pool_sats = decision.absorb_sats if decision.serve == freetier.Serve.FREE else 0
    caller_sats = estimate_sats - decision.absorb_sats
    _take_from_balance(tx, session_id, caller_sats, estimate_sats, settings)
    serve = decision.serve
    if decision.serve == freetier.Serve.PARTIAL:
        assert pubkey is not None, "only an identity is ever granted anything"
        # Taken after the caller's part is held, so a caller who cannot pay never moves the
        # pool; inside this transaction, so a refusal below gives the grant back too.
        pool_sats = freetier.reserve_partial_grant(decision.absorb_sats, pubkey, tx=tx)
        shortfall = decision.absorb_sats - pool_sats
        if shortfall > 0:
            # The day's budget or the pool shrank since the decision: the caller pays that too.
            _take_from_balance(
                tx, session_id, shortfall, estimate_sats, settings, already_held=caller_sats
            )
            caller_sats += shortfall
        if pool_sats == 0:
            serve = freetier.Serve.GATE
    data.insert_request(
        tx,
        request_id=request_id,
        session_id=session_id,
        model=priced.model,
        btc_price_usd=priced.estimate.btc_price_usd,
        estimated_input_tokens=priced.estimate.tokens.input,
        estimated_output_tokens=priced.estimate.tokens.output,
        estimate_sats=priced.sats,
        reserved_sats=caller_sats,
        free_tier=serve,
        pool_reserved_sats=pool_sats,
    )
    return Hold(
        estimate_sats=estimate_sats, balance_sats=caller_sats, pool_sats=pool_sats, serve=serve
    )


def _take_from_balance(
    tx: Db,
    session_id: str,
    amount_sats: int,
    estimate_sats: int,
    settings: SessionSettings,
    *,
    already_held: int = 0,
) -> None:
    """Hold ``amount_sats`` more from a paid, live session, or raise why it cannot be done.

    Zero is a valid hold: it still proves, under the row lock, that the session is paid and
    alive (and counts as activity).
    """
    left = data.reserve(
        tx, session_id, amount_sats=amount_sats, idle_seconds=settings.session_idle_seconds
    )
    if left is not None:
        return
    # Nothing more was taken; say why, from the row as it is now.
    current = data.get(tx, session_id, idle_seconds=settings.session_idle_seconds)
    if current is None:
        raise SessionNotFound("No session has this id.")
    _refuse_unusable(current.paid, current.expired)
    needed = already_held + amount_sats
    covered = estimate_sats - needed
    share = f" (the free tier covers the other {covered})" if covered else ""
    raise InsufficientBalance(
        f"The balance ({current.balance_sats + already_held} sats) cannot cover this"
        f" request's estimate: {needed} sats are yours to hold{share}; top the session up."
    )


# --- release and settle --------------------------------------------------------------------


def _return_to_pool(tx: Db, pubkey: str | None, sats: int, reason: str) -> None:
    """Give a pool reservation back (and uncount it from the identity's day), in ``tx``."""
    if sats <= 0 or pubkey is None:
        return
    data.lock_identity(tx, pubkey)  # identity before pool: see timmy.data.sessions
    freetier.release_reservation(sats, pubkey, reason, tx=tx)


def _release(
    session_id: str, request_id: str, pubkey: str | None, hold: Hold, error: Exception
) -> None:
    """Give both reservations back after a failure; the request is recorded as failed."""
    code = error.code if isinstance(error, TimmyError) else "internal_error"
    with transaction() as tx:
        if data.fail_request(tx, request_id, error_code=code) is not None:
            data.give_back(tx, session_id, amount_sats=hold.balance_sats)
            _return_to_pool(tx, pubkey, hold.pool_sats, f"session request failed ({code})")
    logger.warning(
        "session request failed", extra={"session_ref": log_ref(session_id), "error_code": code}
    )


def release_abandoned_holds(*, limit: int = 100) -> int:
    """Give back the holds of requests whose Lambda died mid-call (run on a schedule).

    Each release is the failure path's own transaction, guarded by the request's state, so a
    request is released at most once, whoever else looks at it.
    """
    timeout = session_settings().session_hold_timeout_seconds
    with transaction() as tx:
        stale = data.abandoned_requests(tx, older_than_seconds=timeout, limit=limit)
    released = 0
    for held in stale:
        with transaction() as tx:
            if data.fail_request(tx, held.id, error_code="abandoned") is None:
                continue  # settled or failed meanwhile
            data.give_back(tx, held.session_id, amount_sats=held.reserved_sats)
            _return_to_pool(tx, held.nostr_pubkey, held.pool_reserved_sats, "request abandoned")
        released += 1
    if released:
        logger.warning("released abandoned session holds", extra={"count": released})
    return released


def _settle(
    session_id: str,
    request_id: str,
    pubkey: str | None,
    text: str,
    result: AIResult,
    hold: Hold,
    split: Settlement,
) -> int:
    """Record the outcome and move every sat to where it belongs, in one transaction; the
    balance after it."""
    with transaction() as tx:
        settled = data.complete_request(
            tx,
            request_id,
            input_tokens=result.input_tokens,
            output_tokens=result.output_tokens,
            cost_sats=split.cost_sats,
            charged_sats=split.charged_sats,
            absorbed_sats=split.absorbed_sats,
        )
        assert settled is not None, "a reserved request is settled only by its own call"
        balance_sats = data.give_back(
            tx,
            session_id,
            amount_sats=hold.balance_sats - split.charged_sats,
            absorbed_sats=split.absorbed_sats,
        )
        if hold.pool_sats > 0 and pubkey is not None:
            data.lock_identity(tx, pubkey)  # identity before pool: see timmy.data.sessions
            # The audit row for what was absorbed; the over-reservation goes back to the pool.
            freetier.record_grant(
                pubkey, freetier.request_hash(text), split.absorbed_sats, hold.pool_sats, tx=tx
            )
        # Last, so the pool's row lock is held for as short a time as possible.
        freetier.credit(split.charged_sats, tx=tx)
        return balance_sats
