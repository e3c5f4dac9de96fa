"""L402 on ``/v1/chat/completions`` through the local gateway, as lnget and Alby pay it: the
challenge, the paid retry, reuse until the credential is spent and a fresh 402 then; forged,
tampered, widened, expired, wrong-route, replayed and unpaid credentials are refused (401 or a
fresh 402) and charged nothing; parallel requests never overspend a credential."""

from __future__ import annotations

import base64
import os
from collections import Counter
from typing import Any

import httpx
import openai
import pymacaroons
import pytest
from concurrency import outcomes
from l402_client import CHALLENGE, L402Client, Token, identifier_of, parse_challenge
from pymacaroons.serializers import BinarySerializer

from timmy.ai.base import ChatMessage, chat_input_tokens
from timmy.data import l402 as l402_data
from timmy.data.l402 import L402LedgerReason
from timmy.db.connection import db, transaction
from timmy.l402 import credentials
from timmy.macaroons import to_base64
from timmy.runtime import reset_caches

MESSAGES: list[Any] = [{"role": "user", "content": "Say hello."}]
INPUT = chat_input_tokens([ChatMessage("user", "Say hello.")])
CHAT = "/v1/chat/completions"


def chat(max_tokens: int, content: str = "Say hello.") -> dict[str, Any]:
    return {
        "model": "stub",
        "messages": [{"role": "user", "content": content}],
        "max_tokens": max_tokens,
    }


def balance_of(token: Token) -> int:
    with transaction() as tx:
        return l402_data.balance(tx, token.token_id.hex())


def ledger_of(token: Token) -> list[tuple[L402LedgerReason, int]]:
    with transaction() as tx:
        return [(e.reason, e.amount_sats) for e in l402_data.ledger(tx, token.token_id.hex())]


def chat_requests() -> int:
    return int(db().scalar("SELECT count(*) FROM account_chat_requests"))


def narrowed(token: Token, condition: str) -> str:
    """The token's macaroon with a caveat appended by pymacaroons (as any holder can)."""
    theirs = pymacaroons.Macaroon.deserialize(token.macaroon, serializer=BinarySerializer())
    theirs.add_first_party_caveat(condition)
    raw = base64.urlsafe_b64decode(theirs.serialize(serializer=BinarySerializer()) + "===")
    return base64.b64encode(raw).decode()


@pytest.fixture
def lnget(api: httpx.Client) -> L402Client:
    return L402Client(api)


def test_an_unpaid_request_gets_both_challenges_and_the_l402_body(
    api: httpx.Client, sat_per_token: None
) -> None:
    answer = api.post(CHAT, json=chat(50))
    assert answer.status_code == 402
    assert answer.headers["cache-control"] == "no-store"
    assert "www-authenticate" in answer.headers["access-control-expose-headers"]
    challenges = CHALLENGE.findall(answer.headers["www-authenticate"])
    assert [scheme for scheme, _, _ in challenges] == ["LSAT", "L402"]
    body = answer.json()
    assert body["error"]["code"] == "payment_required"
    assert body["error"]["type"] == "insufficient_quota"
    l402 = body["l402"]
    assert challenges[1][1:] == (l402["macaroon"], l402["invoice"])
    assert l402["amount_sats"] == INPUT + 50  # the request's maximum cost, 1 sat per token
    version, payment_hash, _ = identifier_of(l402["macaroon"])
    assert (version, payment_hash.hex()) == (0, l402["payment_hash"])
    assert l402["expires_at"].endswith("Z")


def test_lnget_pays_reuses_the_credential_until_spent_then_pays_a_fresh_one(
    lnget: L402Client, sat_per_token: None
) -> None:
    first = lnget.request("POST", CHAT, json=chat(50))
    assert first.status_code == 200, first.text
    token = lnget.token
    assert token is not None
    usage = first.json()["usage"]
    cost = usage["total_tokens"]
    assert first.headers["x-timmy-cost-sats"] == str(cost)
    left = INPUT + 50 - cost
    assert first.headers["x-timmy-balance-sats"] == str(left)
    assert balance_of(token) == left

    # Reused while its remainder covers the next request's maximum cost.
    small = chat(left - INPUT)
    second = lnget.request("POST", CHAT, json=small)
    assert second.status_code == 200, second.text
    assert lnget.token == token
    assert len(lnget.paid_sats) == 1
    left -= int(second.headers["x-timmy-cost-sats"])
    assert second.headers["x-timmy-balance-sats"] == str(left)

    # Now short: a fresh challenge (a new macaroon), which lnget pays, then the request runs.
    third = lnget.request("POST", CHAT, json=chat(50))
    assert third.status_code == 200, third.text
    assert lnget.token != token
    assert len(lnget.paid_sats) == 2
    assert balance_of(token) == left  # the old credential keeps its remainder
    assert sum(amount for _, amount in ledger_of(token)) == balance_of(token)
    with transaction() as tx:
        assert l402_data.ledger_mismatches(tx) == []


def test_alby_retries_with_the_legacy_lsat_scheme(api: httpx.Client, free_model: None) -> None:
    alby = L402Client(api, lsat=True)
    answer = alby.request("POST", CHAT, json=chat(16))
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-timmy-cost-sats"] == "1"
    assert alby.paid_sats == [1]


def test_the_openai_sdk_pays_with_an_l402_header(
    lnget: L402Client, gateway_url: str, sat_per_token: None
) -> None:
    refused = lnget.http.post(CHAT, json=chat(64))
    token = lnget.pay(refused)
    client = openai.OpenAI(
        base_url=f"{gateway_url}/v1",
        api_key="unused",
        default_headers={"Authorization": token.header()},
        max_retries=0,
    )
    completion = client.chat.completions.create(model="stub", messages=MESSAGES, max_tokens=64)
    assert completion.choices[0].message.content
    assert completion.usage is not None
    assert balance_of(token) == INPUT + 64 - completion.usage.total_tokens


def test_a_stream_paid_by_l402_carries_the_credential_s_remainder(
    lnget: L402Client, sat_per_token: None
) -> None:
    answer = lnget.request(
        "POST", CHAT, json={**chat(40), "stream": True, "stream_options": {"include_usage": True}}
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert answer.text.endswith("data: [DONE]\n\n")
    assert lnget.token is not None
    assert answer.headers["x-timmy-balance-sats"] == str(balance_of(lnget.token))


@pytest.fixture
def paid(lnget: L402Client, sat_per_token: None) -> Token:
    """A paid, used credential with at least 40 sats left."""
    answer = lnget.request("POST", CHAT, json=chat(200))
    assert answer.status_code == 200, answer.text
    assert lnget.token is not None
    assert balance_of(lnget.token) >= 40
    return lnget.token


def refused_and_charged_nothing(
    api: httpx.Client, token: Token, authorization: str, status: int, body: Any = None
) -> httpx.Response:
    before = (balance_of(token), ledger_of(token), chat_requests())
    answer = api.post(CHAT, json=body or chat(8), headers={"Authorization": authorization})
    assert answer.status_code == status, answer.text
    assert (balance_of(token), ledger_of(token), chat_requests()) == before
    if status == 401:
        assert answer.json()["error"]["code"] == "invalid_l402"
        assert answer.json()["error"]["type"] == "authentication_error"
    else:
        assert answer.json()["error"]["code"] == "payment_required"
        _, fresh, _ = parse_challenge(answer)
        assert fresh != token.macaroon
        assert answer.headers["cache-control"] == "no-store"
    return answer


def test_a_forged_credential_is_401(api: httpx.Client, paid: Token) -> None:
    # The real identifier and preimage, signed with a key that is not the token's.
    forged = credentials.mint(
        os.urandom(32),
        credentials.Identifier(paid.payment_hash, paid.token_id),
        capability="chat",
        valid_until=2_000_000_000,
    )
    refused_and_charged_nothing(api, paid, f"L402 {to_base64(forged)}:{paid.preimage}", 401)


def test_a_tampered_preimage_is_401(api: httpx.Client, paid: Token) -> None:
    tampered = paid.preimage[:-1] + ("0" if paid.preimage[-1] != "0" else "1")
    refused_and_charged_nothing(api, paid, f"L402 {paid.macaroon}:{tampered}", 401)


def test_an_unknown_identifier_is_401(api: httpx.Client, paid: Token) -> None:
    stranger = credentials.mint(
        os.urandom(32),
        credentials.Identifier(paid.payment_hash, os.urandom(32)),
        capability="chat",
        valid_until=2_000_000_000,
    )
    refused_and_charged_nothing(api, paid, f"L402 {to_base64(stranger)}:{paid.preimage}", 401)


def test_a_widened_credential_is_not_wider(api: httpx.Client, paid: Token) -> None:
    # An appended capability for another route narrows this one away: a fresh 402.
    elsewhere = narrowed(paid, "timmy_capabilities=hire")
    refused_and_charged_nothing(api, paid, f"L402 {elsewhere}:{paid.preimage}", 402)
    # An appended unknown condition grants nothing (and takes nothing away).
    victim = narrowed(paid, "account_id=00000000-0000-0000-0000-000000000001")
    answer = api.post(
        CHAT, json=chat(8), headers={"Authorization": f"L402 {victim}:{paid.preimage}"}
    )
    assert answer.status_code == 200, answer.text


def test_an_expired_credential_gets_a_fresh_402(api: httpx.Client, paid: Token) -> None:
    expired = narrowed(paid, "timmy_valid_until=1700000000")
    refused_and_charged_nothing(api, paid, f"L402 {expired}:{paid.preimage}", 402)
    # Appending a later expiry after that earlier one cannot bring it back.
    pymac = pymacaroons.Macaroon.deserialize(expired, serializer=BinarySerializer())
    pymac.add_first_party_caveat("timmy_valid_until=4000000000")
    raw = base64.urlsafe_b64decode(pymac.serialize(serializer=BinarySerializer()) + "===")
    later = base64.b64encode(raw).decode()
    refused_and_charged_nothing(api, paid, f"L402 {later}:{paid.preimage}", 402)


def test_a_replayed_spent_credential_gets_a_fresh_402(api: httpx.Client, paid: Token) -> None:
    # Spend it down to less than the next request's maximum, then replay it.
    left = balance_of(paid)
    spend = api.post(CHAT, json=chat(left - INPUT), headers={"Authorization": paid.header()})
    assert spend.status_code == 200, spend.text
    answer = refused_and_charged_nothing(api, paid, paid.header(), 402, chat(left))
    assert "cannot cover" in answer.json()["error"]["message"]


def test_a_chat_credential_on_a_marketplace_route_gets_a_fresh_402(
    api: httpx.Client, paid: Token
) -> None:
    before = (balance_of(paid), ledger_of(paid))
    answer = api.post(
        "/api/v1/ai-for-hire/tasks",
        json={"title": "t", "description": "d", "budget_sats": 100},
        headers={"Authorization": paid.header()},
    )
    assert answer.status_code == 402, answer.text
    assert parse_challenge(answer)[1] != paid.macaroon
    assert (balance_of(paid), ledger_of(paid)) == before
    assert db().scalar("SELECT count(*) FROM hire_tasks") == 0


def test_an_unpaid_credential_is_not_funded_by_a_leaked_preimage(
    api: httpx.Client, free_model: None
) -> None:
    # LNbits shows a preimage before payment: knowing it must not fund the credential.
    refused = api.post(CHAT, json=chat(8))
    _, macaroon, _ = parse_challenge(refused)
    _, payment_hash, token_id = identifier_of(macaroon)
    preimage = db().scalar(
        "SELECT preimage FROM stub_lightning_invoices WHERE payment_hash = :h",
        h=payment_hash.hex(),
    )
    token = Token(macaroon, str(preimage), payment_hash, token_id)
    refused_and_charged_nothing(api, token, token.header(), 402)
    with transaction() as tx:
        found = l402_data.get(tx, token_id.hex())
    assert found is not None
    assert not found.funded


def test_a_provider_failure_charges_the_credential_nothing(api: httpx.Client, paid: Token) -> None:
    before = balance_of(paid)
    answer = api.post(
        CHAT,
        json=chat(8, "[[fail-work:retryable]]"),
        headers={"Authorization": paid.header()},
    )
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"]["code"] == "ai_unavailable"
    assert balance_of(paid) == before
    hold, release = ledger_of(paid)[-2:]
    assert (hold[0], release[0]) == (L402LedgerReason.CHAT_HOLD, L402LedgerReason.CHAT_RELEASE)
    assert hold[1] == -release[1]


def test_twenty_parallel_requests_on_one_credential_never_overspend_it(
    api: httpx.Client, gateway_url: str, free_model: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A credential of exactly five 1-sat completions.
    monkeypatch.setenv("L402_MIN_SATS", "5")
    lnget = L402Client(api)
    first = lnget.request("POST", CHAT, json=chat(4))
    assert first.status_code == 200, first.text
    token = lnget.token
    assert token is not None
    assert balance_of(token) == 4
    clients = [httpx.Client(base_url=gateway_url, timeout=60) for _ in range(20)]
    for client in clients:  # connect first: the race belongs in the handlers and the database
        assert client.get("/v1/models").status_code == 200

    def one(client: httpx.Client) -> Any:
        def call() -> int:
            answer = client.post(CHAT, json=chat(4), headers={"Authorization": token.header()})
            return answer.status_code

        return call

    results = outcomes([one(client) for client in clients])
    for client in clients:
        client.close()
    assert Counter(results) == {200: 4, 402: 16}
    assert balance_of(token) == 0
    assert sum(amount for _, amount in ledger_of(token)) == 0
    with transaction() as tx:
        assert l402_data.ledger_mismatches(tx) == []


def test_the_remainder_of_a_credential_is_redeemed_into_an_account_once(
    api: httpx.Client, paid: Token
) -> None:
    # Expired by a caveat the holder appended: the remainder is still theirs to take out.
    expired = narrowed(paid, "timmy_valid_until=1700000000")
    left = balance_of(paid)
    redeemed = api.post(
        "/api/v1/l402/redeem", headers={"Authorization": f"LSAT {expired}:{paid.preimage}"}
    )
    assert redeemed.status_code == 200, redeemed.text
    body = redeemed.json()
    assert body["redeemed_sats"] == left
    assert body["balance_sats"] == left
    assert body["token"].startswith("tmy_")
    account = api.get("/api/v1/account", headers={"X-Token": body["token"]}).json()
    assert account["balance_sats"] == left
    assert balance_of(paid) == 0
    assert ledger_of(paid)[-1] == (L402LedgerReason.REDEEMED, -left)

    # Again, into the same account this time: nothing left, nothing moves.
    again = api.post(
        "/api/v1/l402/redeem",
        headers={"Authorization": paid.header(), "X-Token": body["token"]},
    )
    assert again.status_code == 200, again.text
    assert again.json() == {
        "account_id": body["account_id"],
        "redeemed_sats": 0,
        "balance_sats": left,
        "token": None,
    }
    # The spent credential now gets a fresh challenge on its route.
    assert api.post(CHAT, json=chat(8), headers={"Authorization": paid.header()}).status_code == 402


def test_redeeming_a_forged_credential_is_401_and_moves_nothing(
    api: httpx.Client, paid: Token
) -> None:
    forged = credentials.mint(
        os.urandom(32),
        credentials.Identifier(paid.payment_hash, paid.token_id),
        capability="chat",
        valid_until=2_000_000_000,
    )
    before = balance_of(paid)
    for authorization in (f"L402 {to_base64(forged)}:{paid.preimage}", None, "Bearer tmy_x"):
        headers = {"Authorization": authorization} if authorization else {}
        answer = api.post("/api/v1/l402/redeem", headers=headers)
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]["code"] in {"invalid_l402"}
    assert balance_of(paid) == before
    assert db().scalar("SELECT count(*) FROM accounts") == 0


def test_a_request_that_cannot_succeed_is_400_before_any_invoice(api: httpx.Client) -> None:
    for body in (
        {"model": "gpt-9", "messages": MESSAGES},
        {"model": "stub", "messages": MESSAGES, "max_tokens": 100_000},
        {"model": "stub", "messages": []},
    ):
        answer = api.post(CHAT, json=body)
        assert answer.status_code == 400, answer.text
        assert "www-authenticate" not in answer.headers
    assert db().scalar("SELECT count(*) FROM invoices") == 0
    assert db().scalar("SELECT count(*) FROM l402_tokens") == 0


def test_twenty_parallel_redeems_move_the_remainder_once(
    api: httpx.Client, gateway_url: str, paid: Token
) -> None:
    left = balance_of(paid)
    clients = [httpx.Client(base_url=gateway_url, timeout=60) for _ in range(20)]
    for client in clients:  # connect first: the race belongs in the handlers and the database
        assert client.get("/v1/models").status_code == 200

    def one(client: httpx.Client) -> Any:
        def call() -> dict[str, Any]:
            answer = client.post("/api/v1/l402/redeem", headers={"Authorization": paid.header()})
            assert answer.status_code == 200, answer.text
            body: dict[str, Any] = answer.json()
            return body

        return call

    results = outcomes([one(client) for client in clients])
    for client in clients:
        client.close()
    moved = [r for r in results if r["redeemed_sats"]]
    assert [r["redeemed_sats"] for r in moved] == [left]
    # Only the one that moved something made an account; the others name none.
    assert all(r["account_id"] is None and r["token"] is None for r in results if r not in moved)
    assert db().scalar("SELECT count(*) FROM accounts") == 1
    assert db().scalar("SELECT sum(balance_sats) FROM accounts") == left
    assert balance_of(paid) == 0
    with transaction() as tx:
        assert l402_data.ledger_mismatches(tx) == []


def test_redeeming_an_unpaid_credential_moves_nothing_and_makes_no_account(
    api: httpx.Client, free_model: None
) -> None:
    refused = api.post(CHAT, json=chat(8))
    _, macaroon, _ = parse_challenge(refused)
    _, payment_hash, _ = identifier_of(macaroon)
    preimage = db().scalar(  # as LNbits would show it before payment
        "SELECT preimage FROM stub_lightning_invoices WHERE payment_hash = :h",
        h=payment_hash.hex(),
    )
    answer = api.post(
        "/api/v1/l402/redeem", headers={"Authorization": f"L402 {macaroon}:{preimage}"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "account_id": None,
        "redeemed_sats": 0,
        "balance_sats": None,
        "token": None,
    }
    assert db().scalar("SELECT count(*) FROM accounts") == 0


def test_a_backend_down_at_first_use_is_503_and_the_paid_credential_works_after(
    api: httpx.Client, free_model: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    # Paid at the node, but the news never reached Timmy (no webhook, no dev-wallet confirm).
    _, macaroon, _ = parse_challenge(api.post(CHAT, json=chat(8)))
    _, payment_hash, token_id = identifier_of(macaroon)
    preimage = db().scalar(
        "UPDATE stub_lightning_invoices SET paid = true WHERE payment_hash = :h RETURNING preimage",
        h=payment_hash.hex(),
    )
    token = Token(macaroon, str(preimage), payment_hash, token_id)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    # The settlement check of the first use cannot reach the Lightning backend.
    monkeypatch.setenv("LNBITS_URL", f"http://127.0.0.1:{closed_port}")
    monkeypatch.setenv("LNBITS_API_KEY", "invoice-key")
    reset_caches()
    down = api.post(CHAT, json=chat(8), headers={"Authorization": token.header()})
    assert down.status_code == 503, down.text
    assert down.json()["error"]["code"] == "lightning_unavailable"
    with transaction() as tx:
        found = l402_data.get(tx, token.token_id.hex())
    assert found is not None
    assert not found.funded
    assert chat_requests() == 0

    monkeypatch.delenv("LNBITS_URL")
    monkeypatch.delenv("LNBITS_API_KEY")
    reset_caches()
    back = api.post(CHAT, json=chat(8), headers={"Authorization": token.header()})
    assert back.status_code == 200, back.text
    assert ledger_of(token)[0] == (L402LedgerReason.FUNDED, 1)
