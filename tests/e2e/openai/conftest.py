"""Helpers for the OpenAI-compatible API tests: funded accounts, prices, and the official
``openai`` SDK pointed at the local gateway (``base_url=<gateway>/v1``)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import openai
import pytest

from timmy import identity
from timmy.accounts import tokens
from timmy.data import accounts as account_data
from timmy.data.accounts import LedgerReason
from timmy.db.connection import db, transaction
from timmy.runtime import reset_caches


@dataclass
class Account:
    id: str
    token: str

    def balance(self) -> int:
        return int(db().scalar("SELECT balance_sats FROM accounts WHERE id = :id", id=self.id))

    def ledger(self) -> list[tuple[str, int]]:
        rows = db().all(
            "SELECT reason, amount_sats FROM account_ledger WHERE account_id = :id ORDER BY id",
            id=self.id,
        )
        return [(row["reason"], int(row["amount_sats"])) for row in rows]

    def requests(self) -> list[dict[str, Any]]:
        return db().all(
            "SELECT state, max_cost_sats, reserved_sats, cost_sats, charged_sats, absorbed_sats,"
            " pool_reserved_sats, free_tier, input_tokens, output_tokens, error_code"
            " FROM account_chat_requests WHERE account_id = :id ORDER BY created_at",
            id=self.id,
        )


def fund_account(balance_sats: int, nostr_pubkey: str | None = None) -> Account:
    """An account holding ``balance_sats`` from one (simulated) paid top-up."""
    token = tokens.new_token()
    account_id = str(uuid.uuid4())
    with transaction() as tx:
        if nostr_pubkey is not None:
            identity.ensure_identity(tx, nostr_pubkey)
        account_data.insert(
            tx,
            account_id=account_id,
            token_sha256=tokens.token_hash(token),
            nostr_pubkey=nostr_pubkey,
        )
        if balance_sats > 0:
            account_data.credit(
                tx,
                account_id,
                balance_sats,
                reason=LedgerReason.TOPUP,
                reference=hashlib.sha256(account_id.encode()).hexdigest(),
            )
    return Account(account_id, token)


@pytest.fixture
def accounts(clean_db: None) -> Callable[..., Account]:
    return fund_account


@pytest.fixture
def sat_per_token(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The stub model at 1 sat per token, in and out ($1,000/Mtok at the stack's $100,000/BTC,
    no markup): a completion's hold is its input estimate plus its output cap, in sats."""
    monkeypatch.setenv("MODEL_PRICES_JSON", json.dumps({"stub": [1000, 1000]}))
    monkeypatch.setenv("PRICE_MARKUP_PCT", "0")
    reset_caches()
    yield
    monkeypatch.undo()
    reset_caches()


@pytest.fixture
def free_model(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The stub model priced at zero: every completion holds and costs exactly 1 sat."""
    monkeypatch.setenv("MODEL_PRICES_JSON", json.dumps({"stub": [0, 0]}))
    reset_caches()
    yield
    monkeypatch.undo()
    reset_caches()


@dataclass
class Sdk:
    """Builds official SDK clients on the gateway, counting the HTTP requests they send."""

    base_url: str
    sent: list[httpx.Request] = field(default_factory=list)

    def client(self, api_key: str, *, max_retries: int = 2) -> openai.OpenAI:
        http = httpx.Client(event_hooks={"request": [self.sent.append]}, timeout=60)
        return openai.OpenAI(
            base_url=f"{self.base_url}/v1",
            api_key=api_key,
            max_retries=max_retries,
            http_client=http,
        )


@pytest.fixture
def sdk(gateway_url: str, clean_db: None) -> Sdk:
    return Sdk(gateway_url)
