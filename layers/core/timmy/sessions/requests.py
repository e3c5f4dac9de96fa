"""One request on a session: estimate → reserve → execute → settle.

The estimate is held from the balance first, with one conditional UPDATE that only succeeds
while the balance covers it, so any number of concurrent requests on one session can never
take it below zero (the table's ``CHECK (balance_sats >= 0)`` makes it impossible, not merely
unlikely). After the work, one transaction settles the request and returns what was held but
not charged; a failed AI call returns all of it.
"""

from __future__ import annotations

import logging
import uuid

from timmy import ai, identity, quote
from timmy.ai import agent
from timmy.ai.base import AIResult, PermanentAIError, RetryableAIError
from timmy.data import sessions as data
from timmy.db.connection import transaction
from timmy.errors import TimmyError
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


def run_request(raw_session_id: str, authorization: str | None, text: str) -> SessionRequestResult:
    """Do ``text``'s work on the session's balance.

    Order of refusals, none of which changes anything: unknown session 404; missing, invalid,
    expired or foreign macaroon 401/403; invalid request text 400; unpaid session 402
    ``session_not_paid``; expired session 409 ``session_expired``; a balance that cannot
    cover the estimate 402 ``insufficient_balance``. A failed AI call answers 503/502 and
    debits nothing.
    """
    session_id = parse_session_id(raw_session_id)
    settings = session_settings()
    row = load(session_id, settings)
    auth.authorize(authorization, session_id)
    text = quote.validate_request_text(text)
    _refuse_unusable(row["paid_at"] is not None, bool(row["expired"]))
    pubkey: str | None = row["nostr_pubkey"]

    priced = quote.estimate(text)
    # Free-tier decision (a later issue) goes HERE, on the estimate and before anything is
    # held: the part it absorbs is then neither reserved nor charged. Until it exists every
    # request is charged in full and absorbed_sats is 0.
    absorbed_sats = 0
    reserved_sats = max(priced.sats, settings.session_min_request_sats)
    request_id = str(uuid.uuid4())
    _reserve(session_id, request_id, priced, reserved_sats, settings)

    try:
        result = agent.work(ai.provider(), text, max_tokens=priced.estimate.tokens.output)
        actual_sats = quote.actual(
            result.input_tokens, result.output_tokens, result.model, priced.estimate.btc_price_usd
        )
    except Exception as error:
        _release(session_id, request_id, reserved_sats, error)
        if isinstance(error, RetryableAIError | PermanentAIError):
            identity.record_failure(pubkey)
        raise

    # Never more than was held (the caller agreed to the estimate), never below the floor.
    cost_sats = min(max(actual_sats, settings.session_min_request_sats), reserved_sats)
    charged_sats = cost_sats - absorbed_sats
    balance_sats = _settle(
        session_id, request_id, result, reserved_sats, cost_sats, charged_sats, absorbed_sats
    )
    identity.record_success(pubkey)
    return SessionRequestResult(
        request_id=request_id,
        result=result.text,
        cost_sats=cost_sats,
        charged_sats=charged_sats,
        absorbed_sats=absorbed_sats,
        balance_sats=balance_sats,
        tokens=SessionTokens(input=result.input_tokens, output=result.output_tokens),
        trust_tier=identity.tier_of(pubkey),
    )


def _refuse_unusable(paid: bool, expired: bool) -> None:
    if not paid:
        raise SessionNotPaid("This session's deposit has not been paid yet.")
    if expired:
        raise SessionExpired("This session has expired.")


def _reserve(
    session_id: str,
    request_id: str,
    priced: quote.Quote,
    reserved_sats: int,
    settings: SessionSettings,
) -> None:
    with transaction() as tx:
        left = data.reserve(
            tx, session_id, amount_sats=reserved_sats, idle_seconds=settings.session_idle_seconds
        )
        if left is None:
            # Nothing was taken; say why, from the row as it is now.
            current = data.get(tx, session_id, idle_seconds=settings.session_idle_seconds)
            if current is None:
                raise SessionNotFound("No session has this id.")
            _refuse_unusable(current["paid_at"] is not None, bool(current["expired"]))
            raise InsufficientBalance(
                f"The balance ({int(current['balance_sats'])} sats) cannot cover this"
                f" request's estimate ({reserved_sats} sats); top the session up."
            )
        data.insert_request(
            tx,
            request_id=request_id,
            session_id=session_id,
            model=priced.model,
            btc_price_usd=priced.estimate.btc_price_usd,
            estimated_input_tokens=priced.estimate.tokens.input,
            estimated_output_tokens=priced.estimate.tokens.output,
            estimate_sats=priced.sats,
            reserved_sats=reserved_sats,
        )


def _release(session_id: str, request_id: str, reserved_sats: int, error: Exception) -> None:
    """Give the whole reservation back after a failure; the request is recorded as failed."""
    code = error.code if isinstance(error, TimmyError) else "internal_error"
    with transaction() as tx:
        if data.fail_request(tx, request_id, error_code=code) is not None:
            data.give_back(tx, session_id, amount_sats=reserved_sats)
    logger.warning("session request failed", extra={"session_id": session_id, "error_code": code})


def _settle(
    session_id: str,
    request_id: str,
    result: AIResult,
    reserved_sats: int,
    cost_sats: int,
    charged_sats: int,
    absorbed_sats: int,
) -> int:
    """Record the outcome and return the uncharged part of the reservation, in one go."""
    with transaction() as tx:
        settled = data.complete_request(
            tx,
            request_id,
            input_tokens=result.input_tokens,
            output_tokens=result.output_tokens,
            cost_sats=cost_sats,
            charged_sats=charged_sats,
            absorbed_sats=absorbed_sats,
        )
        assert settled is not None, "a reserved request is settled only by its own call"
        return data.give_back(tx, session_id, amount_sats=reserved_sats - charged_sats)
