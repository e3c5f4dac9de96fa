"""Top-ups (credited exactly once by the invoice flip), claims and reading an account."""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import UTC, datetime

from timmy import identity, payments
from timmy.accounts import tokens
from timmy.accounts.errors import (
    InvalidPayment,
    InvalidToken,
    PaymentPending,
    TopupOutOfRange,
    WrongAccount,
)
from timmy.accounts.settings import account_settings
from timmy.accounts.views import (
    AccountClaim,
    AccountPendingTopup,
    AccountTopupChallenge,
    AccountView,
)
from timmy.data import accounts as data
from timmy.data import invoices, payouts
from timmy.data.accounts import Account, LedgerReason
from timmy.data.invoices import Invoice, PaymentPurpose
from timmy.db.connection import Db, transaction
from timmy.errors import UpstreamBadGateway, UpstreamUnavailable
from timmy.observability import log_ref
from timmy.payments import Confirmation
from timmy.payouts.service import max_payout
from timmy.payouts.views import PayoutSummary

logger = logging.getLogger(__name__)

PURPOSE = PaymentPurpose.ACCOUNT_TOPUP
CLAIM_PATH = "/api/v1/topup/claim"
# The payout source kind of withdrawals (timmy.accounts.withdrawals registers the source).
WITHDRAWAL_KIND = "account_withdrawal"
RECENT_PAYOUTS = 10


def authenticate(token: str) -> Account:
    """The account a token names (401 ``invalid_token`` for any other token)."""
    with transaction() as tx:
        account = data.by_token_hash(tx, tokens.token_hash(token))
    if account is None:
        raise InvalidToken("This token names no account.")
    return account


def check_amount(amount_sats: int) -> int:
    settings = account_settings()
    low, high = settings.account_topup_min_sats, settings.account_topup_max_sats
    if not low <= amount_sats <= high:
        raise TopupOutOfRange(f"amount_sats must be between {low} and {high}.")
    return amount_sats


def start_topup(
    amount_sats: int, *, token: str | None, nostr_token: str | None, base_url: str
) -> AccountTopupChallenge:
    """An invoice bound to the token's account, or to a new account whose token is returned."""
    check_amount(amount_sats)
    existing = authenticate(token) if token is not None else None
    pubkey = identity.caller(nostr_token) if existing is None else None
    new_token = tokens.new_token() if existing is None else None
    account_id = existing.id if existing is not None else str(uuid.uuid4())
    created = payments.request_invoice(amount_sats, f"Timmy account top-up ({amount_sats} sats)")
    with transaction() as tx:
        if new_token is not None:
            if pubkey is not None:
                identity.ensure_identity(tx, pubkey)
            data.insert(
                tx,
                account_id=account_id,
                token_sha256=tokens.token_hash(new_token),
                nostr_pubkey=pubkey,
            )
        invoice = payments.record_invoice(tx, created, purpose=PURPOSE, owner_id=account_id)
    logger.info("account top-up invoiced", extra={"account_ref": log_ref(account_id)})
    return AccountTopupChallenge(
        invoice=invoice.payment_request,
        payment_hash=invoice.payment_hash,
        amount_sats=invoice.amount_sats,
        expires_in=max(0, int((invoice.expires_at - datetime.now(UTC)).total_seconds())),
        expires_at=invoice.expires_at,
        account_id=account_id,
        claim_url=f"{base_url}{CLAIM_PATH}",
        token=new_token,
    )


def on_topup_paid(tx: Db, invoice: Invoice) -> None:
    """The on-paid handler of ``PaymentPurpose.ACCOUNT_TOPUP``: runs in the flip transaction,
    which happens once per invoice, and the ledger's unique top-up reference backs that up."""
    data.credit(
        tx,
        invoice.owner_id,
        invoice.amount_sats,
        reason=LedgerReason.TOPUP,
        reference=invoice.payment_hash,
    )


def claim(preimage: str, token: str) -> AccountClaim:
    """Confirm a top-up for the account that owns it. The preimage alone proves nothing: every
    routing node learns it at settlement, so the bound account's token is required too."""
    account = authenticate(token)
    try:
        raw = bytes.fromhex(preimage.strip())
    except ValueError:
        raise InvalidPayment("preimage must be 64 hexadecimal characters.") from None
    if len(raw) != 32:
        raise InvalidPayment("preimage must be 64 hexadecimal characters.")
    payment_hash = hashlib.sha256(raw).hexdigest()
    with transaction() as tx:
        invoice = invoices.get(tx, payment_hash)
    if invoice is None or invoice.purpose != PURPOSE:
        raise InvalidPayment("This preimage pays no top-up of ours.")
    if invoice.owner_id != account.id:
        raise WrongAccount("This top-up belongs to another account.")
    result = payments.confirm_payment(payment_hash)
    if not result.paid:
        raise PaymentPending("The top-up invoice is not paid yet.")
    credited = invoice.amount_sats if result.outcome == Confirmation.PAID_NOW else 0
    with transaction() as tx:
        current = data.get(tx, account.id)
    assert current is not None
    return AccountClaim(
        token=token,
        account_id=account.id,
        balance_sats=current.balance_sats,
        credited_sats=credited,
    )


def poll_topups(account_id: str) -> None:
    """Confirm the account's pending top-ups with the backend (the polling path); an
    unreachable backend leaves them pending for the next read."""
    with transaction() as tx:
        pending = invoices.pending_for_owner(tx, PURPOSE, account_id)
    for invoice in pending:
        try:
            payments.confirm_payment(invoice.payment_hash)
        except (UpstreamUnavailable, UpstreamBadGateway):
            logger.warning("payment check failed", extra={"payment_hash": invoice.payment_hash})


def get_account(token: str) -> AccountView:
    account = authenticate(token)
    poll_topups(account.id)
    with transaction() as tx:
        current = data.get(tx, account.id)
        pending = invoices.pending_for_owner(tx, PURPOSE, account.id)
        recent = payouts.recent_for_source(tx, WITHDRAWAL_KIND, account.id, limit=RECENT_PAYOUTS)
    assert current is not None
    return AccountView(
        account_id=current.id,
        balance_sats=current.balance_sats,
        withdrawable_sats=max_payout(current.balance_sats),
        nostr_pubkey=current.nostr_pubkey,
        trust_tier=identity.tier_of(current.nostr_pubkey),
        pending_topups=[
            AccountPendingTopup(
                payment_hash=i.payment_hash,
                invoice=i.payment_request,
                amount_sats=i.amount_sats,
                expires_at=i.expires_at,
            )
            for i in pending
        ],
        payouts=[PayoutSummary.of(p) for p in recent],
        created_at=current.created_at,
    )
