"""The marketplace's paid POSTs paid by L402: the unauthenticated 402 carries a new account's
token and a challenge bound to that account; the paid retry posts as that account (a caveat
appended by the client cannot change who), the fee comes from the credential, not the
balance; a spent credential gets a fresh challenge bound to the same account."""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Callable

import httpx
import pymacaroons
from concurrency import outcomes
from l402_client import CHALLENGE, L402Client, identifier_of
from pymacaroons.serializers import BinarySerializer

from timmy.data import l402 as l402_data
from timmy.data.l402 import L402LedgerReason
from timmy.db.connection import db, transaction

HIRE = "/api/v1/ai-for-hire"
TASK = {"title": "Translate", "description": "120 words to French", "budget_sats": 500}


def test_an_unauthenticated_post_offers_a_token_and_a_challenge_bound_to_it(
    api: httpx.Client,
) -> None:
    answer = api.post(f"{HIRE}/tasks", json=TASK)
    assert answer.status_code == 402, answer.text
    body = answer.json()
    assert body["error"]["code"] == "payment_required"
    assert body["token"].startswith("tmy_")
    assert body["topup_url"].endswith("/api/v1/topup")
    assert body["l402"]["amount_sats"] == 50  # the catalog's post fee
    assert answer.headers["cache-control"] == "no-store"
    assert [s for s, _, _ in CHALLENGE.findall(answer.headers["www-authenticate"])] == [
        "LSAT",
        "L402",
    ]
    _, _, token_id = identifier_of(body["l402"]["macaroon"])
    with transaction() as tx:
        minted = l402_data.get(tx, token_id.hex())
    assert minted is not None
    assert minted.account_id == body["account_id"]
    assert minted.capability == "hire"


def test_an_l402_paid_post_is_the_bound_account_s_and_its_fee_comes_from_the_credential(
    api: httpx.Client,
) -> None:
    lnget = L402Client(api)
    refused = api.post(f"{HIRE}/tasks", json=TASK)
    bound = refused.json()
    token = lnget.pay(refused)
    lnget.token = token
    posted = lnget.request("POST", f"{HIRE}/tasks", json=TASK)
    assert posted.status_code == 201, posted.text
    assert posted.json()["buyer_account_id"] == bound["account_id"]
    assert lnget.paid_sats == [50]
    me = api.get(f"{HIRE}/me", headers={"X-Token": bound["token"]})
    assert (me.json()["account_id"], me.json()["balance_sats"]) == (bound["account_id"], 0)
    with transaction() as tx:
        entries = l402_data.ledger(tx, token.token_id.hex())
    assert [(e.reason, e.amount_sats) for e in entries] == [
        (L402LedgerReason.FUNDED, 50),
        (L402LedgerReason.HIRE_TASK_FEE, -50),
    ]
    assert entries[1].reference == posted.json()["id"]

    # Spent: the next post gets a fresh challenge bound to the same account, no new token.
    again = api.post(f"{HIRE}/tasks", json=TASK, headers={"Authorization": token.header()})
    assert again.status_code == 402, again.text
    assert "token" not in again.json()
    _, _, fresh_id = identifier_of(again.json()["l402"]["macaroon"])
    with transaction() as tx:
        fresh = l402_data.get(tx, fresh_id.hex())
    assert fresh is not None
    assert fresh.account_id == bound["account_id"]
    assert db().scalar("SELECT count(*) FROM hire_tasks") == 1


def test_an_appended_account_caveat_cannot_post_as_another_account(api: httpx.Client) -> None:
    victim = api.post(f"{HIRE}/tasks", json=TASK).json()["account_id"]
    refused = api.post(f"{HIRE}/tasks", json=TASK)
    attacker = refused.json()["account_id"]
    token = L402Client(api).pay(refused)
    theirs = pymacaroons.Macaroon.deserialize(token.macaroon, serializer=BinarySerializer())
    theirs.add_first_party_caveat(f"account_id={victim}")
    raw = base64.urlsafe_b64decode(theirs.serialize(serializer=BinarySerializer()) + "===")
    widened = base64.b64encode(raw).decode()
    posted = api.post(
        f"{HIRE}/tasks", json=TASK, headers={"Authorization": f"L402 {widened}:{token.preimage}"}
    )
    assert posted.status_code == 201, posted.text
    assert posted.json()["buyer_account_id"] == attacker


def test_a_quote_paid_by_l402_is_the_bound_contractor_s(api: httpx.Client) -> None:
    buyer = L402Client(api)
    task = buyer.request("POST", f"{HIRE}/tasks", json=TASK)
    assert task.status_code == 201, task.text
    task_id = task.json()["id"]
    worker = L402Client(api)
    refused = api.post(f"{HIRE}/tasks/{task_id}/quotes", json={"price_sats": 300})
    assert refused.status_code == 402
    contractor = refused.json()["account_id"]
    assert refused.json()["l402"]["amount_sats"] == 10
    worker.token = worker.pay(refused)
    quote = worker.request("POST", f"{HIRE}/tasks/{task_id}/quotes", json={"price_sats": 300})
    assert quote.status_code == 201, quote.text
    assert quote.json()["contractor_account_id"] == contractor
    assert worker.paid_sats == [10]


def test_a_bad_body_is_400_before_any_invoice(api: httpx.Client) -> None:
    answer = api.post(f"{HIRE}/tasks", json={**TASK, "title": "x" * 10_000})
    assert answer.status_code == 400, answer.text
    assert db().scalar("SELECT count(*) FROM invoices") == 0
    assert db().scalar("SELECT count(*) FROM accounts") == 0


def test_ten_parallel_posts_on_a_credential_for_one_fee_post_exactly_one(
    api: httpx.Client, gateway_url: str
) -> None:
    refused = api.post(f"{HIRE}/tasks", json=TASK)
    token = L402Client(api).pay(refused)
    clients = [httpx.Client(base_url=gateway_url, timeout=60) for _ in range(10)]
    for client in clients:  # connect first: the race belongs in the handlers and the database
        assert client.get(f"{HIRE}/tasks").status_code == 200

    def one(client: httpx.Client) -> Callable[[], int]:
        def call() -> int:
            answer = client.post(
                f"{HIRE}/tasks", json=TASK, headers={"Authorization": token.header()}
            )
            return answer.status_code

        return call

    results = outcomes([one(client) for client in clients])
    for client in clients:
        client.close()
    assert Counter(results) == {201: 1, 402: 9}
    assert db().scalar("SELECT count(*) FROM hire_tasks") == 1
    with transaction() as tx:
        assert l402_data.balance(tx, token.token_id.hex()) == 0
        assert l402_data.ledger_mismatches(tx) == []
