"""Who pays a paid marketplace POST (post a task, submit a quote): the one place it is decided.

* An account token (``X-Token`` or ``Authorization: Bearer``) pays the fee from its balance.
* An L402 credential (``Authorization: L402|LSAT``) pays it from the credential's prepaid
  balance and acts as the account the server bound it to when it minted it (the identifier
  names the token, the token names the account: no caveat a client appends can change it).
* No credential at all is a 402 that creates a new, empty account (the peer's auto-account
  creation) and offers both ways to pay: its ``token`` to top up, and an L402 challenge for
  this request's fee bound to that account.
* A genuine credential that cannot pay (expired, spent, short, for another route) gets a fresh
  challenge bound to the same account.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from timmy.accounts import tokens
from timmy.accounts.service import authenticate
from timmy.data import accounts
from timmy.data.accounts import Account
from timmy.db.connection import transaction
from timmy.hire.errors import CredentialsRequired
from timmy.hire.fees import fees
from timmy.l402 import credentials
from timmy.l402 import service as l402
from timmy.l402.errors import CredentialUnusable, InvalidL402, L402Challenge, Unusable
from timmy.l402.service import Credential

TOPUP_PATH = "/api/v1/topup"
TASK_ROUTE = "hire_task"
QUOTE_ROUTE = "hire_quote"


@dataclass(frozen=True, slots=True)
class HirePayer:
    """The account that acts, and the L402 credential that pays its fee (None: its balance)."""

    account: Account
    credential: Credential | None = None


def topup_url(base_url: str) -> str:
    return f"{base_url}{TOPUP_PATH}"


def fee_of(route_id: str) -> int:
    charged = fees()
    return charged.task_fee_sats if route_id == TASK_ROUTE else charged.quote_fee_sats


def payer(
    x_token: str | None, authorization: str | None, *, route_id: str, base_url: str
) -> HirePayer:
    """Who pays this request: 401 for a forged or unknown credential; 402 (with a new
    account's token and an L402 challenge) when none was sent; a fresh L402 challenge when a
    genuine credential cannot pay."""
    if not (x_token and x_token.strip()) and credentials.is_l402(authorization):
        assert authorization is not None
        return _by_l402(authorization, route_id=route_id, base_url=base_url)
    token = tokens.presented(x_token, authorization)
    if token is None:
        raise refusal(route_id, base_url=base_url, account_id=None)
    return HirePayer(authenticate(token))


def _by_l402(authorization: str, *, route_id: str, base_url: str) -> HirePayer:
    try:
        found = l402.credential(authorization, route_id=route_id)
    except CredentialUnusable as unusable:
        raise refusal(
            route_id, base_url=base_url, account_id=unusable.account_id, reason=unusable.reason
        ) from None
    if found.account_id is None:
        # Minted for a route that acts as nobody: it cannot say who posts or quotes.
        raise refusal(route_id, base_url=base_url, account_id=None, reason=Unusable.WRONG_ROUTE)
    if found.balance_sats < fee_of(route_id):
        raise refusal(
            route_id, base_url=base_url, account_id=found.account_id, reason=Unusable.SHORT
        )
    with transaction() as tx:
        account = accounts.get(tx, found.account_id)
    if account is None:  # the foreign key makes this impossible; refuse rather than guess
        raise InvalidL402("This L402 credential names no account.")
    return HirePayer(account, found)


def refusal(
    route_id: str, *, base_url: str, account_id: str | None, reason: Unusable | None = None
) -> L402Challenge:
    """The 402 for ``route_id``'s fee: an L402 challenge bound to ``account_id`` (a fresh one
    for an unusable credential's ``reason``), or, when there is no account, to a new account
    whose token the answer carries."""
    fee = fee_of(route_id)
    if account_id is not None:
        assert reason is not None, "a bound account's credential was refused for a reason"
        return l402.refusal(route_id, fee, reason, account_id=account_id)
    new_token = tokens.new_token()
    new_account = str(uuid.uuid4())
    with transaction() as tx:
        accounts.insert(
            tx, account_id=new_account, token_sha256=tokens.token_hash(new_token), nostr_pubkey=None
        )
    challenge = l402.challenge(
        route_id,
        fee,
        account_id=new_account,
        message="This request is paid: pay the L402 invoice and retry with Authorization:"
        " L402 <macaroon>:<preimage>, or top up the new account whose token is in this answer"
        " (or send your own X-Token) and retry.",
    )
    return CredentialsRequired(
        challenge.message,
        challenge=challenge.challenge,
        token=new_token,
        account_id=new_account,
        topup_url=topup_url(base_url),
    )
