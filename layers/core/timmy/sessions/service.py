"""Creating a session, reading it (which polls its pending payments), and topping it up."""

from __future__ import annotations

import logging
import re
import uuid
from datetime import datetime

from timmy import identity, payments
from timmy.data import invoices
from timmy.data import sessions as data
from timmy.data.invoices import Invoice, InvoiceState, PaymentPurpose
from timmy.data.sessions import Session, SessionState
from timmy.db.connection import Db, transaction
from timmy.errors import UpstreamBadGateway, UpstreamUnavailable
from timmy.observability import log_ref
from timmy.payouts.service import max_payout
from timmy.sessions import auth
from timmy.sessions.errors import (
    AmountOutOfRange,
    DepositPending,
    SessionExpired,
    SessionNotFound,
    TopupPending,
)
from timmy.sessions.settings import SessionSettings, session_settings
from timmy.sessions.views import (
    SessionCreated,
    SessionInvoice,
    SessionTopup,
    SessionView,
)

logger = logging.getLogger(__name__)

PURPOSE_DEPOSIT = PaymentPurpose.SESSION_DEPOSIT
PURPOSE_TOPUP = PaymentPurpose.SESSION_TOPUP

_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def parse_session_id(raw: str) -> str:
    """The canonical (lowercase) session id; anything that is not a UUID names no session."""
    value = raw.strip().lower()
    if not _UUID_RE.fullmatch(value):
        raise SessionNotFound("No session has this id.")
    return value


def check_amount(amount_sats: int, settings: SessionSettings) -> int:
    low, high = settings.session_min_deposit_sats, settings.session_max_deposit_sats
    if not low <= amount_sats <= high:
        raise AmountOutOfRange(f"amount_sats must be between {low} and {high}.")
    return amount_sats


# --- create --------------------------------------------------------------------------------


def create_session(
    amount_sats: int, *, header_token: str | None = None, body_token: str | None = None
) -> SessionCreated:
    settings = session_settings()
    check_amount(amount_sats, settings)
    pubkey = identity.caller(header_token, body_token)
    # A deployment that cannot mint macaroons must not take deposits it could never serve.
    auth.macaroon_secret()
    session_id = str(uuid.uuid4())
    created = payments.request_invoice(amount_sats, f"Timmy session deposit ({amount_sats} sats)")
    with transaction() as tx:
        if pubkey is not None:
            identity.ensure_identity(tx, pubkey)
        invoice = payments.record_invoice(tx, created, purpose=PURPOSE_DEPOSIT, owner_id=session_id)
        data.insert(
            tx,
            session_id=session_id,
            deposit_sats=amount_sats,
            deposit_payment_hash=created.payment_hash,
            nostr_pubkey=pubkey,
        )
    logger.info("session created", extra={"session_ref": log_ref(session_id)})
    return SessionCreated(
        session_id=session_id,
        invoice=SessionInvoice.of(invoice),
        trust_tier=identity.tier_of(pubkey),
    )


# --- read ----------------------------------------------------------------------------------


def load(session_id: str, settings: SessionSettings) -> Session:
    with transaction() as tx:
        session = data.get(tx, session_id, idle_seconds=settings.session_idle_seconds)
    if session is None:
        raise SessionNotFound("No session has this id.")
    return session


def get_session(raw_session_id: str) -> SessionView:
    session_id = parse_session_id(raw_session_id)
    settings = session_settings()
    row = load(session_id, settings)
    if poll_payments(row):
        row = load(session_id, settings)
    return view(row, settings)


def poll_payments(row: Session) -> bool:
    """Confirm the session's pending deposit or top-up with the backend (the polling path).

    Returns True when a payment was confirmed. An unreachable backend leaves everything as it
    was: the caller sees the current state and polls again.
    """
    hashes = []
    if not row.paid:
        hashes.append(row.deposit_payment_hash)
    if row.pending_topup_hash is not None:
        hashes.append(row.pending_topup_hash)
    confirmed = False
    for payment_hash in hashes:
        with transaction() as tx:
            invoice = invoices.get(tx, payment_hash)
        if invoice is None or invoice.state != InvoiceState.PENDING:
            continue
        try:
            confirmed |= payments.confirm_payment(payment_hash).paid
        except (UpstreamUnavailable, UpstreamBadGateway):
            logger.warning("payment check failed", extra={"payment_hash": payment_hash})
    return confirmed


def state_of(
    row: Session, deposit_invoice: Invoice | None, settings: SessionSettings
) -> SessionState:
    if not row.paid:
        if deposit_invoice is None or _lapsed(deposit_invoice, row):
            return SessionState.EXPIRED
        return SessionState.AWAITING_PAYMENT
    if row.expired:
        return SessionState.EXPIRED
    if row.balance_sats < settings.session_min_request_sats:
        return SessionState.PAUSED
    return SessionState.ACTIVE


def view(row: Session, settings: SessionSettings) -> SessionView:
    with transaction() as tx:
        deposit = invoices.get(tx, row.deposit_payment_hash)
        topup = pending_topup(tx, row)
    state = state_of(row, deposit, settings)
    macaroon = None
    balance = row.balance_sats
    if state in (SessionState.ACTIVE, SessionState.PAUSED):
        assert row.lifetime_ends_at is not None  # set when the deposit was paid
        macaroon = auth.mint(row.id, int(row.lifetime_ends_at.timestamp()))
    unpaid_deposit = deposit if state == SessionState.AWAITING_PAYMENT else None
    live_topup = topup if state != SessionState.EXPIRED else None
    return SessionView(
        session_id=row.id,
        state=state,
        balance_sats=balance,
        withdrawable_sats=max_payout(balance),
        absorbed_sats=row.absorbed_sats,
        deposit_sats=row.deposit_sats,
        min_request_sats=settings.session_min_request_sats,
        invoice=None if unpaid_deposit is None else SessionInvoice.of(unpaid_deposit),
        pending_topup=None if live_topup is None else SessionInvoice.of(live_topup),
        macaroon=macaroon,
        trust_tier=identity.tier_of(row.nostr_pubkey),
        expires_at=row.expires_at if row.paid else _expiry_of(deposit),
        created_at=row.created_at,
    )


def _lapsed(invoice: Invoice, row: Session) -> bool:
    """An invoice that can no longer be paid: marked expired, or past its expiry unpaid."""
    if invoice.state == InvoiceState.EXPIRED:
        return True
    return bool(invoice.state == InvoiceState.PENDING and invoice.expires_at <= row.checked_at)


def _expiry_of(invoice: Invoice | None) -> datetime | None:
    return None if invoice is None else invoice.expires_at


def pending_topup(tx: Db, row: Session) -> Invoice | None:
    """The top-up invoice that can still be paid, if there is one."""
    if row.pending_topup_hash is None:
        return None
    invoice = invoices.get(tx, row.pending_topup_hash)
    if invoice is None or invoice.state != InvoiceState.PENDING or _lapsed(invoice, row):
        return None
    return invoice


# --- top up --------------------------------------------------------------------------------


def create_topup(raw_session_id: str, amount_sats: int) -> SessionTopup:
    """Issue a top-up invoice: one at a time, only for a paid session that has not expired."""
    session_id = parse_session_id(raw_session_id)
    settings = session_settings()
    row = load(session_id, settings)
    check_amount(amount_sats, settings)
    # A payment the backend already settled counts before deciding (it may end the pending one).
    if poll_payments(row):
        row = load(session_id, settings)
    with transaction() as tx:
        _refuse_topup(tx, row)
    # The invoice expires with the session (its current deadline: activity only moves the idle
    # one later), so a top-up cannot be paid into a balance that can no longer be spent.
    assert row.expires_at is not None  # a paid session has deadlines (refused above otherwise)
    left = int((row.expires_at - row.checked_at).total_seconds())
    created = payments.request_invoice(
        amount_sats, f"Timmy session top-up ({amount_sats} sats)", expiry_seconds=left
    )
    with transaction() as tx:
        # Locked: of two racing top-ups only one records its invoice; the other gets a 409.
        locked = data.get(
            tx, session_id, idle_seconds=settings.session_idle_seconds, for_update=True
        )
        assert locked is not None
        _refuse_topup(tx, locked)
        invoice = payments.record_invoice(tx, created, purpose=PURPOSE_TOPUP, owner_id=session_id)
        data.set_pending_topup(tx, session_id, created.payment_hash)
    logger.info("session top-up issued", extra={"session_ref": log_ref(session_id)})
    return SessionTopup(
        session_id=session_id,
        invoice=SessionInvoice.of(invoice),
        trust_tier=identity.tier_of(row.nostr_pubkey),
    )


def _refuse_topup(tx: Db, row: Session) -> None:
    if not row.paid:
        raise DepositPending("Pay the session's deposit before topping it up.")
    if row.expired:
        raise SessionExpired("This session has expired; it cannot be topped up.")
    pending = pending_topup(tx, row)
    if pending is not None:
        raise TopupPending(
            "A top-up is already pending for this session; pay it or let it expire.",
            invoice=SessionInvoice.of(pending),
        )
