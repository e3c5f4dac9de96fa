"""Alby's own ``fetchWithL402`` (the npm package ``@getalby/lightning-tools``, run by Node)
against the local gateway: it reads the challenge out of the one ``WWW-Authenticate`` line,
decodes the invoice's amount with its own BOLT11 decoder, pays with the dev wallet, retries
with the scheme it was challenged with (``LSAT``, which comes first) and gets the completion
and the marketplace post."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx

from timmy.data import l402 as l402_data
from timmy.data.l402 import L402LedgerReason
from timmy.db.connection import db, transaction

CLIENTS = Path(__file__).resolve().parents[2] / "clients"


def alby(base_url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    node = shutil.which("node")
    assert node is not None, "make test installs Node.js for the real-client tests"
    assert (CLIENTS / "node_modules" / "@getalby" / "lightning-tools").is_dir(), (
        "make test installs tests/clients (npm ci)"
    )
    done = subprocess.run(
        [node, str(CLIENTS / "alby_l402.mjs"), base_url, path, json.dumps(body)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_alby_pays_a_completion(gateway_url: str, api: httpx.Client, free_model: None) -> None:
    body = {"model": "stub", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8}
    result = alby(gateway_url, "/v1/chat/completions", body)
    assert result["status"] == 200, result
    assert result["body"]["object"] == "chat.completion"
    assert (result["cost"], result["balance"]) == ("1", "0")
    assert result["paid_invoices"] == 1
    assert result["amount_sat"] == 1  # Alby's BOLT11 decoder read our invoice's amount
    assert result["credentials"]["header"] == "Authorization"
    assert result["credentials"]["value"].startswith("LSAT ")
    tokens = db().all("SELECT token_id FROM l402_tokens")
    assert len(tokens) == 1
    with transaction() as tx:
        entries = l402_data.ledger(tx, tokens[0]["token_id"])
    assert [(e.reason, e.amount_sats) for e in entries] == [
        (L402LedgerReason.FUNDED, 1),
        (L402LedgerReason.CHAT_HOLD, -1),
    ]


def test_alby_posts_a_task_as_the_account_the_challenge_was_bound_to(
    gateway_url: str, api: httpx.Client
) -> None:
    task = {"title": "Translate", "description": "Ten words", "budget_sats": 100}
    result = alby(gateway_url, "/api/v1/ai-for-hire/tasks", task)
    assert result["status"] == 201, result
    assert result["amount_sat"] == 50
    owner = db().scalar("SELECT account_id::text FROM l402_tokens")
    assert result["body"]["buyer_account_id"] == owner
