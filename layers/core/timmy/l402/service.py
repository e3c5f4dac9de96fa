"""L402, the mechanism any priced route of the catalog opts into (``l402: true``).

* :func:`challenge` mints a credential for one request: a random token id and root key, an
  invoice for the request's maximum cost (at least ``L402_MIN_SATS``), the macaroon, and both
  rows (invoice and token) in one transaction. The route raises what it returns: a 402 with
  the challenge.
* :func:`credential` checks a presented credential: decoded, preimage against payment hash,
  the token's own root key, the HMAC chain, the caveats (401 for forged, tampered or unknown;
  :class:`CredentialUnusable` for expired or another route), and, the first time, that the
  invoice is settled per the backend (``timmy.payments.confirm_payment``, whose on-paid handler
  funds the token once). A settled credential is a prepaid balance in Postgres.
* :func:`require` is both for a route that only needs the balance: a usable credential whose
  balance covers ``amount_sats``, or the fresh challenge for this request.
* The route debits what the request costs in its own transaction (:func:`pay`, or its own
  hold and release with :mod:`timmy.data.l402`), with the ledger row.
* :func:`redeem` is the way out: what is left on a credential (an expired one included) moves
  into an account, from where it can be spent or withdrawn.
"""

from __future__ import annotations

import logging
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from timmy import macaroons, payments
from timmy.accounts import tokens as account_tokens
from timmy.accounts.service import authenticate
from timmy.catalog import catalog
from timmy.catalog.loader import PricedRoute
from timmy.data import accounts
from timmy.data import l402 as data
from timmy.data.accounts import LedgerReason
from timmy.data.invoices import Invoice, PaymentPurpose
from timmy.data.l402 import L402LedgerReason
from timmy.db.connection import Db, transaction
from timmy.errors import ConfigurationError
from timmy.l402 import credentials
from timmy.l402.credentials import Identifier, Verdict
from timmy.l402.errors import (
    Challenge,
    CredentialUnusable,
    InvalidL402,
    L402Challenge,
    Unusable,
)
from timmy.l402.settings import l402_settings
from timmy.l402.views import L402Redeemed
from timmy.observability import log_ref

logger = logging.getLogger(__name__)

PURPOSE = PaymentPurpose.L402


@dataclass(frozen=True, slots=True)
class Credential:
    """A genuine, settled credential that grants this route."""

    token_id: str
    account_id: str | None  # the account a marketplace credential acts as
    balance_sats: int


def priced_route(route_id: str) -> PricedRoute:
    route = catalog().route(route_id)
    if route is None or not route.l402:
        raise ConfigurationError(f"the catalog has no L402 route {route_id!r}")
    return route


def challenge(
    route_id: str, amount_sats: int, *, message: str, account_id: str | None = None
) -> L402Challenge:
    """A new credential for ``route_id`` with an invoice of ``amount_sats`` (at least
    ``L402_MIN_SATS``), bound to ``account_id`` when the route acts as an account."""
    route = priced_route(route_id)
    settings = l402_settings()
    amount = max(amount_sats, settings.l402_min_sats)
    token_id = secrets.token_bytes(32)
    root_key = secrets.token_bytes(32)
    created = payments.request_invoice(amount, f"Timmy L402: {route.id} ({amount} sats)")
    valid_until = int(time.time()) + settings.l402_valid_seconds
    identifier = Identifier(payment_hash=bytes.fromhex(created.payment_hash), token_id=token_id)
    macaroon = macaroons.to_base64(
        credentials.mint(root_key, identifier, capability=route.capability, valid_until=valid_until)
    )
    with transaction() as tx:
        payments.record_invoice(tx, created, purpose=PURPOSE, owner_id=token_id.hex())
        data.insert(
            tx,
            token_id=token_id.hex(),
            payment_hash=created.payment_hash,
            root_key=root_key,
            route_id=route.id,
            capability=route.capability,
            account_id=account_id,
            amount_sats=amount,
            valid_until=datetime.fromtimestamp(valid_until, UTC),
        )
    logger.info("l402 challenge", extra={"route": route.id, "token_ref": log_ref(token_id.hex())})
    return L402Challenge(
        message,
        challenge=Challenge(
            macaroon=macaroon,
            invoice=created.payment_request,
            payment_hash=created.payment_hash,
            amount_sats=amount,
            expires_at=created.expires_at,
            header=credentials.challenge_header(macaroon, created.payment_request),
        ),
    )


def _issued(authorization: str) -> tuple[data.L402Token, credentials.Presented]:
    """The token a credential presents (preimage checked, 401 otherwise); its signature and
    caveats are the caller's to check."""
    presented = credentials.present(authorization)
    with transaction() as tx:
        token = data.get(tx, presented.identifier.token_id.hex())
    if token is None or token.payment_hash != presented.identifier.payment_hash.hex():
        raise InvalidL402("This L402 credential was not issued here.")
    return token, presented


def _funded(token: data.L402Token) -> data.L402Token | None:
    """The token once its invoice is settled per the backend (never taken from the preimage:
    LNbits shows it before payment); None while it is unpaid."""
    if token.funded:
        return token
    if not payments.confirm_payment(token.payment_hash).paid:
        return None
    with transaction() as tx:
        return data.get(tx, token.token_id)


_VERDICTS = {Verdict.EXPIRED: Unusable.EXPIRED, Verdict.WRONG_ROUTE: Unusable.WRONG_ROUTE}


def credential(authorization: str, *, route_id: str) -> Credential:
    """The credential an ``Authorization: L402|LSAT`` header presents, checked for
    ``route_id``: 401 ``invalid_l402`` when forged, tampered or unknown;
    :class:`CredentialUnusable` when genuine but expired, for another route, or unpaid."""
    route = priced_route(route_id)
    token, presented = _issued(authorization)
    verdict = credentials.verify(
        presented.macaroon, token.root_key, capability=route.capability, now=int(time.time())
    )
    if verdict != Verdict.GRANTED:
        raise CredentialUnusable(_VERDICTS[verdict], account_id=token.account_id)
    funded = _funded(token)
    if funded is None:
        raise CredentialUnusable(Unusable.UNPAID, account_id=token.account_id)
    return Credential(
        token_id=funded.token_id, account_id=funded.account_id, balance_sats=funded.balance_sats
    )


def redeem(authorization: str | None, x_token: str | None) -> L402Redeemed:
    """Move what is left on a genuine credential into an account, whatever its caveats say
    (an expired credential's remainder is no one else's): the ``X-Token`` account, else the
    account the credential is bound to, else a new account whose token is returned once (made
    only when there is something to move)."""
    if authorization is None or not credentials.is_l402(authorization):
        raise InvalidL402("Send the credential as Authorization: L402 <macaroon>:<preimage>.")
    token, presented = _issued(authorization)
    credentials.check_signature(presented.macaroon, token.root_key)
    named = account_tokens.presented(x_token, None)
    account_id = authenticate(named).id if named is not None else token.account_id
    funded = _funded(token)
    new_token = None
    with transaction() as tx:
        target = account_id or str(uuid.uuid4())
        drained = data.drain(tx, token.token_id, reference=target) if funded else 0
        if drained and account_id is None:
            new_token = account_tokens.new_token()
            accounts.insert(
                tx,
                account_id=target,
                token_sha256=account_tokens.token_hash(new_token),
                nostr_pubkey=None,
            )
            account_id = target
        if drained:
            balance: int | None = accounts.credit(
                tx, target, drained, reason=LedgerReason.L402_REDEEM, reference=token.token_id
            )
        else:
            current = accounts.get(tx, account_id) if account_id is not None else None
            balance = None if current is None else current.balance_sats
    return L402Redeemed(
        account_id=account_id, redeemed_sats=drained, balance_sats=balance, token=new_token
    )


def require(authorization: str, *, route_id: str, amount_sats: int) -> Credential:
    """A usable credential whose balance covers ``amount_sats``, or the fresh 402 challenge
    for this request (expired, spent, short, for another route, unpaid)."""
    try:
        found = credential(authorization, route_id=route_id)
    except CredentialUnusable as unusable:
        raise refusal(route_id, amount_sats, unusable.reason) from None
    if found.balance_sats < amount_sats:
        raise refusal(route_id, amount_sats, Unusable.SHORT)
    return found


_REASONS = {
    Unusable.EXPIRED: "This L402 credential has expired",
    Unusable.WRONG_ROUTE: "This L402 credential is for another route",
    Unusable.UNPAID: "This L402 credential's invoice is not paid",
    Unusable.SHORT: "This L402 credential's remaining balance cannot cover this request",
}


def refusal(
    route_id: str, amount_sats: int, reason: Unusable, *, account_id: str | None = None
) -> L402Challenge:
    """The fresh challenge that answers an unusable credential (lnget and Alby re-pay on it)."""
    said = _REASONS[reason]
    return challenge(
        route_id,
        amount_sats,
        account_id=account_id,
        message=f"{said}: pay the invoice of this new credential and retry with it.",
    )


def pay(
    tx: Db, found: Credential, amount_sats: int, *, reason: L402LedgerReason, reference: str
) -> int:
    """Debit a flat price from the credential in the caller's transaction; the balance left.
    :class:`CredentialUnusable` (``short``) when another request spent it meanwhile."""
    left = data.debit(tx, found.token_id, amount_sats, reason=reason, reference=reference)
    if left is None:
        raise CredentialUnusable(Unusable.SHORT, account_id=found.account_id)
    return left


def on_invoice_paid(tx: Db, invoice: Invoice) -> None:
    """The on-paid handler of ``PaymentPurpose.L402``: funds the token once (flip transaction)."""
    data.fund(tx, invoice.owner_id, invoice.amount_sats, payment_hash=invoice.payment_hash)
