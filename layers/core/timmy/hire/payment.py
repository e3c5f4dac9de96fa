"""Who pays a paid marketplace POST (post a task, submit a quote): the one place it is decided.

An account token (``X-Token`` or ``Authorization: Bearer``) pays from its balance. No
credential at all is a 402 that creates a new, empty account and hands back its ``token`` (the
peer's auto-account creation) with the top-up URL. L402 is not built yet (issue 13); when it
is, the L402 challenge (``WWW-Authenticate`` lines and the ``l402`` body) joins that 402, and
an ``Authorization: L402`` credential is accepted here, bound to the account chosen at mint
time.
"""

from __future__ import annotations

import uuid

from timmy.accounts import tokens
from timmy.accounts.service import authenticate
from timmy.data import accounts
from timmy.data.accounts import Account
from timmy.db.connection import transaction
from timmy.hire.errors import CredentialsRequired

TOPUP_PATH = "/api/v1/topup"


def topup_url(base_url: str) -> str:
    return f"{base_url}{TOPUP_PATH}"


def payer(x_token: str | None, authorization: str | None, *, base_url: str) -> Account:
    """The account that pays this request; 401 for a forged or unknown token; 402 (with a new
    account's token) when no credential was sent."""
    token = tokens.presented(x_token, authorization)
    if token is None:
        raise _credentials_required(base_url)
    return authenticate(token)


def _credentials_required(base_url: str) -> CredentialsRequired:
    # L402 seam (issue 13): the challenge (headers and body) joins this answer once it exists.
    new_token = tokens.new_token()
    account_id = str(uuid.uuid4())
    with transaction() as tx:
        accounts.insert(
            tx, account_id=account_id, token_sha256=tokens.token_hash(new_token), nostr_pubkey=None
        )
    return CredentialsRequired(
        "This request is paid: top up the new account whose token is in this answer (or send"
        " your own X-Token) and retry.",
        token=new_token,
        account_id=account_id,
        topup_url=topup_url(base_url),
    )
