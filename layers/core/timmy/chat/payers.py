"""Who pays for a completion, and how sats move on each kind of payer.

THE PAYER SEAM. :func:`resolve` turns a request's credentials into a typed :data:`Payer`;
each kind holds, settles and releases on its own balance with its own ledger:

* :class:`AccountPayer`: ``Authorization: Bearer tmy_…`` or ``X-Token``; the hold is an
  ``account_ledger`` row (``chat_hold``) and an ``account_chat_requests`` row;
* :class:`SessionPayer`: ``Authorization: Bearer <session macaroon>``; the session's own
  hold mechanism (its balance and ``session_requests``);
* :class:`L402Payer`: ``Authorization: L402|LSAT <macaroon>:<preimage>``; the hold is an
  ``l402_ledger`` row on the credential's prepaid balance and an ``account_chat_requests`` row
  naming the credential. A credential that cannot cover the hold is answered with a fresh
  challenge (:mod:`timmy.l402.service`), never a 400.

Lock order in every transaction (the sessions' rule): the payer's row, then the caller's
``nostr_identities`` row, then the generosity pool.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar

from timmy import macaroons
from timmy.accounts import tokens
from timmy.accounts.errors import InvalidToken
from timmy.accounts.service import authenticate
from timmy.chat.errors import InsufficientBalance, SessionUnusable
from timmy.data import accounts as account_data
from timmy.data import chat as chat_data
from timmy.data import l402 as l402_data
from timmy.data import sessions as session_data
from timmy.data.accounts import LedgerReason
from timmy.data.l402 import L402LedgerReason
from timmy.data.pool import Serve
from timmy.db.connection import Db, transaction
from timmy.errors import PaymentRequired
from timmy.l402 import credentials as l402_credentials
from timmy.l402 import service as l402
from timmy.l402.errors import CredentialUnusable, Unusable
from timmy.sessions import auth as session_auth
from timmy.sessions.settings import session_settings

TOPUP_PATH = "/api/v1/topup"
ROUTE_ID = "chat_completions"  # the catalog's route: its capability is what an L402 grants


class PayerKind(StrEnum):
    ACCOUNT = "account"
    SESSION = "session"
    L402 = "l402"


@dataclass(frozen=True, slots=True)
class Held:
    """What a request holds: from the payer's balance, and from the generosity pool."""

    reserved_sats: int
    pool_reserved_sats: int


@dataclass(frozen=True, slots=True)
class HoldRecord:
    """The request row written with the hold."""

    request_id: str
    model: str
    btc_price_usd: Decimal
    input_tokens: int  # estimated
    output_tokens: int  # the most it may produce
    max_cost_sats: int
    reserved_sats: int
    free_tier: Serve
    pool_reserved_sats: int


@dataclass(frozen=True, slots=True)
class Outcome:
    input_tokens: int
    output_tokens: int
    cost_sats: int
    charged_sats: int
    absorbed_sats: int


class _RequestRowPayer:
    """A payer whose hold is a debit of its own balance with a ledger row (``chat_hold``) and
    an ``account_chat_requests`` row naming it; settling or failing the row returns the
    unused part (``chat_release``). Accounts and L402 credentials differ only in the balance
    they move and in what a short balance answers."""

    __slots__ = ()

    def _columns(self) -> tuple[str | None, str | None]:
        """(account_id, l402_token_id) of the request row."""
        raise NotImplementedError

    def _debit(self, tx: Db, amount_sats: int, request_id: str) -> bool:
        raise NotImplementedError

    def _credit(self, tx: Db, amount_sats: int, request_id: str) -> int:
        raise NotImplementedError

    def _balance(self, tx: Db) -> int:
        raise NotImplementedError

    def _short(self, tx: Db, needed_sats: int, base_url: str) -> Exception:
        raise NotImplementedError

    def take(self, tx: Db, record: HoldRecord, *, base_url: str) -> None:
        """Hold the caller's part and write the request row, or raise what a short balance
        answers."""
        if record.reserved_sats > 0 and not self._debit(
            tx, record.reserved_sats, record.request_id
        ):
            raise self._short(tx, record.reserved_sats, base_url)
        account_id, l402_token_id = self._columns()
        chat_data.insert(
            tx,
            request_id=record.request_id,
            account_id=account_id,
            l402_token_id=l402_token_id,
            model=record.model,
            btc_price_usd=record.btc_price_usd,
            max_cost_sats=record.max_cost_sats,
            reserved_sats=record.reserved_sats,
            free_tier=record.free_tier,
            pool_reserved_sats=record.pool_reserved_sats,
        )

    def settle(self, tx: Db, request_id: str, outcome: Outcome) -> int:
        """Record the outcome and release the unused hold; the balance after it."""
        settled = chat_data.complete(
            tx,
            request_id,
            input_tokens=outcome.input_tokens,
            output_tokens=outcome.output_tokens,
            cost_sats=outcome.cost_sats,
            charged_sats=outcome.charged_sats,
            absorbed_sats=outcome.absorbed_sats,
        )
        assert settled is not None, "a reserved request is settled only by its own call"
        return self._release(tx, request_id, settled.reserved_sats - outcome.charged_sats)

    def fail(self, tx: Db, request_id: str, error_code: str) -> Held | None:
        """Release the whole hold of a failed request (once); what it held, None if done."""
        failed = chat_data.fail(tx, request_id, error_code=error_code)
        if failed is None:
            return None
        self._release(tx, request_id, failed.reserved_sats)
        return Held(failed.reserved_sats, failed.pool_reserved_sats)

    def _release(self, tx: Db, request_id: str, amount_sats: int) -> int:
        if amount_sats > 0:
            return self._credit(tx, amount_sats, request_id)
        return self._balance(tx)


@dataclass(frozen=True, slots=True)
class AccountPayer(_RequestRowPayer):
    kind: ClassVar[PayerKind] = PayerKind.ACCOUNT
    account_id: str
    nostr_pubkey: str | None

    def lock(self, tx: Db) -> None:
        tx.execute("SELECT 1 FROM accounts WHERE id = :id FOR NO KEY UPDATE", id=self.account_id)

    def _columns(self) -> tuple[str | None, str | None]:
        return self.account_id, None

    def _debit(self, tx: Db, amount_sats: int, request_id: str) -> bool:
        left = account_data.debit(
            tx, self.account_id, amount_sats, reason=LedgerReason.CHAT_HOLD, reference=request_id
        )
        return left is not None

    def _credit(self, tx: Db, amount_sats: int, request_id: str) -> int:
        balance = account_data.credit(
            tx,
            self.account_id,
            amount_sats,
            reason=LedgerReason.CHAT_RELEASE,
            reference=request_id,
        )
        assert balance is not None
        return balance

    def _balance(self, tx: Db) -> int:
        current = account_data.get(tx, self.account_id)
        assert current is not None
        return current.balance_sats

    def _short(self, tx: Db, needed_sats: int, base_url: str) -> Exception:
        return InsufficientBalance(
            f"The account's balance ({self._balance(tx)} sats) cannot cover this request's"
            f" maximum cost ({needed_sats} sats); top the account up.",
            fields={"topup_url": f"{base_url}{TOPUP_PATH}"},
        )


@dataclass(frozen=True, slots=True)
class SessionPayer:
    kind: ClassVar[PayerKind] = PayerKind.SESSION
    session_id: str
    nostr_pubkey: str | None

    def lock(self, tx: Db) -> None:
        tx.execute("SELECT 1 FROM sessions WHERE id = :id FOR NO KEY UPDATE", id=self.session_id)

    def take(self, tx: Db, record: HoldRecord, *, base_url: str) -> None:
        """Hold the caller's part (zero still proves the session paid and alive) and write
        the request row, or raise 402."""
        idle = session_settings().session_idle_seconds
        left = session_data.reserve(
            tx, self.session_id, amount_sats=record.reserved_sats, idle_seconds=idle
        )
        if left is None:
            raise self._refusal(tx, record.reserved_sats, idle, base_url)
        session_data.insert_request(
            tx,
            request_id=record.request_id,
            session_id=self.session_id,
            model=record.model,
            btc_price_usd=record.btc_price_usd,
            estimated_input_tokens=record.input_tokens,
            estimated_output_tokens=record.output_tokens,
            estimate_sats=record.max_cost_sats,
            reserved_sats=record.reserved_sats,
            free_tier=record.free_tier,
            pool_reserved_sats=record.pool_reserved_sats,
        )

    def _refusal(self, tx: Db, needed: int, idle: int, base_url: str) -> PaymentRequired:
        current = session_data.get(tx, self.session_id, idle_seconds=idle)
        if current is None or not current.paid:
            return SessionUnusable("This session's deposit has not been paid yet.")
        if current.expired:
            return SessionUnusable("This session has expired.", code="session_expired")
        return InsufficientBalance(
            f"The session's balance ({current.balance_sats} sats) cannot cover this request's"
            f" maximum cost ({needed} sats); top the session up.",
            fields={"topup_url": f"{base_url}/api/sessions/{self.session_id}/topup"},
        )

    def settle(self, tx: Db, request_id: str, outcome: Outcome) -> int:
        settled = session_data.complete_request(
            tx,
            request_id,
            input_tokens=outcome.input_tokens,
            output_tokens=outcome.output_tokens,
            cost_sats=outcome.cost_sats,
            charged_sats=outcome.charged_sats,
            absorbed_sats=outcome.absorbed_sats,
        )
        assert settled is not None, "a reserved request is settled only by its own call"
        return session_data.give_back(
            tx,
            self.session_id,
            amount_sats=settled.reserved_sats - outcome.charged_sats,
            absorbed_sats=outcome.absorbed_sats,
        )

    def fail(self, tx: Db, request_id: str, error_code: str) -> Held | None:
        failed = session_data.fail_request(tx, request_id, error_code=error_code)
        if failed is None:
            return None
        session_data.give_back(tx, self.session_id, amount_sats=failed.reserved_sats)
        return Held(failed.reserved_sats, failed.pool_reserved_sats)


@dataclass(frozen=True, slots=True)
class L402Payer(_RequestRowPayer):
    kind: ClassVar[PayerKind] = PayerKind.L402
    token_id: str
    nostr_pubkey: str | None = None  # a credential is no identity: it earns no free tier

    def lock(self, tx: Db) -> None:
        l402_data.lock(tx, self.token_id)

    def _columns(self) -> tuple[str | None, str | None]:
        return None, self.token_id

    def _debit(self, tx: Db, amount_sats: int, request_id: str) -> bool:
        left = l402_data.debit(
            tx, self.token_id, amount_sats, reason=L402LedgerReason.CHAT_HOLD, reference=request_id
        )
        return left is not None

    def _credit(self, tx: Db, amount_sats: int, request_id: str) -> int:
        return l402_data.credit(
            tx,
            self.token_id,
            amount_sats,
            reason=L402LedgerReason.CHAT_RELEASE,
            reference=request_id,
        )

    def _balance(self, tx: Db) -> int:
        return l402_data.balance(tx, self.token_id)

    def _short(self, tx: Db, needed_sats: int, base_url: str) -> Exception:
        # Spent by a parallel request meanwhile: the route answers a fresh challenge.
        return CredentialUnusable(Unusable.SHORT)


Payer = AccountPayer | SessionPayer | L402Payer


def of_request(held: chat_data.HeldChatRequest) -> AccountPayer | L402Payer:
    """The payer of a held completion (the reconciler releases it)."""
    if held.l402_token_id is not None:
        return L402Payer(token_id=held.l402_token_id)
    assert held.account_id is not None
    return AccountPayer(account_id=held.account_id, nostr_pubkey=held.nostr_pubkey)


def resolve(authorization: str | None, x_token: str | None, *, max_cost_sats: int) -> Payer | None:
    """The payer the request's credentials name; None when it carries none.

    ``X-Token`` or ``Bearer tmy_…`` is an account token, any other bearer a session macaroon,
    ``L402``/``LSAT`` an L402 credential. A credential that is present but forged, unknown or
    expired is 401 (a genuine macaroon of a session that is unpaid or spent is a payment
    problem: 402 at the hold); a genuine L402 credential that cannot pay ``max_cost_sats``
    (expired, spent, short, another route, unpaid) is answered with a fresh 402 challenge.
    """
    if x_token is not None and x_token.strip():
        return _account(tokens.presented(x_token, None))
    if authorization is None or not authorization.strip():
        return None
    if l402_credentials.is_l402(authorization):
        found = l402.require(authorization, route_id=ROUTE_ID, amount_sats=max_cost_sats)
        return L402Payer(token_id=found.token_id)
    scheme, _, credential = authorization.strip().partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        raise InvalidToken(
            "Authorization must be: Bearer <account token or session macaroon>, or"
            " L402 <macaroon>:<preimage>."
        )
    if credential.startswith(tokens.PREFIX):
        return _account(tokens.presented(None, f"Bearer {credential}"))
    return _session(credential)


def _account(token: str | None) -> AccountPayer:
    assert token is not None
    account = authenticate(token)
    return AccountPayer(account_id=account.id, nostr_pubkey=account.nostr_pubkey)


def _session(macaroon: str) -> SessionPayer:
    session_id = macaroons.session_of_token(macaroon)
    session_auth.authorize(f"Bearer {macaroon}", session_id, now=int(time.time()))
    idle = session_settings().session_idle_seconds
    with transaction() as tx:
        session = session_data.get(tx, session_id, idle_seconds=idle)
    if session is None:
        raise macaroons.InvalidMacaroon("This macaroon names no session.")
    return SessionPayer(session_id=session_id, nostr_pubkey=session.nostr_pubkey)
