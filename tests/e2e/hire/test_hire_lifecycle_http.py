"""The peer's e2e-test-hire lifecycle over HTTP through the local gateway: three funded
accounts, two quotes, a price update, access-control 403s, messages, accept, 409 on the
rejected quote, deliver, confirm, exact balances."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from hire_http import HIRE, balance, post


def test_the_peers_lifecycle(api: httpx.Client, account: Callable[[int], str]) -> None:
    buyer, worker1, worker2 = account(1000), account(200), account(200)
    start = {t: balance(api, t) for t in (buyer, worker1, worker2)}

    assert api.get(f"{HIRE}/tasks").status_code == 200
    created = post(
        api,
        "/tasks",
        buyer,
        {
            "title": "E2E Test Task",
            "description": "Automated e2e-test-hire task",
            "budget_sats": 500,
        },
    )
    assert created.status_code == 201, created.text
    task_id = created.json()["id"]
    detail = api.get(f"{HIRE}/tasks/{task_id}")
    assert detail.status_code == 200
    assert detail.json()["status"] == "open"

    q1 = post(api, f"/tasks/{task_id}/quotes", worker1, {"price_sats": 400, "description": "w1"})
    assert q1.status_code == 201, q1.text
    q2 = post(api, f"/tasks/{task_id}/quotes", worker2, {"price_sats": 350, "description": "w2"})
    assert q2.status_code == 201, q2.text
    q1_id, q2_id = q1.json()["id"], q2.json()["id"]

    updated = api.patch(
        f"{HIRE}/tasks/{task_id}/quotes/{q1_id}",
        json={"price_sats": 300, "description": "Updated: will do it for 300"},
        headers={"X-Token": worker1},
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["price_sats"] == 300
    outsider = api.patch(
        f"{HIRE}/tasks/{task_id}/quotes/{q1_id}",
        json={"price_sats": 250},
        headers={"X-Token": worker2},
    )
    assert outsider.status_code == 403

    msgs = f"{HIRE}/tasks/{task_id}/quotes"
    sent = post(
        api, f"/tasks/{task_id}/quotes/{q1_id}/messages", buyer, {"body": "Can you start today?"}
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["body"] == "Can you start today?"
    read = api.get(f"{msgs}/{q1_id}/messages", headers={"X-Token": worker1})
    assert read.status_code == 200
    assert len(read.json()["messages"]) >= 1
    assert (
        post(
            api, f"/tasks/{task_id}/quotes/{q2_id}/messages", buyer, {"body": "Timeline?"}
        ).status_code
        == 201
    )
    assert api.get(f"{msgs}/{q2_id}/messages", headers={"X-Token": worker1}).status_code == 403
    assert api.get(f"{msgs}/{q1_id}/messages", headers={"X-Token": worker2}).status_code == 403

    quotes = {q["id"]: q for q in api.get(f"{HIRE}/tasks/{task_id}").json()["quotes"]}
    assert quotes[q1_id]["message_count"] >= 1
    assert quotes[q2_id]["message_count"] >= 1

    accepted = post(api, f"/tasks/{task_id}/quotes/{q1_id}/accept", buyer, {})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["escrowed_sats"] == 300
    assert accepted.json()["status"] == "in_escrow"
    assert api.get(f"{HIRE}/tasks/{task_id}").json()["status"] == "in_escrow"

    rejected = post(
        api, f"/tasks/{task_id}/quotes/{q2_id}/messages", worker2, {"body": "Still in?"}
    )
    assert rejected.status_code == 409

    delivered = post(
        api,
        f"/tasks/{task_id}/deliver",
        worker1,
        {"filename": "result.txt", "content_base64": "RTJFIFRLC3QgZGVsaXZlcnk=", "notes": "E2E"},
    )
    assert delivered.status_code == 201, delivered.text
    assert api.get(f"{HIRE}/tasks/{task_id}").json()["status"] == "delivered"

    confirmed = post(api, f"/tasks/{task_id}/confirm", buyer, {})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["released_sats"] == 300
    assert api.get(f"{HIRE}/tasks/{task_id}").json()["status"] == "completed"

    assert balance(api, buyer) == start[buyer] - 50 - 300
    assert balance(api, worker1) == start[worker1] - 10 + 300
    assert balance(api, worker2) == start[worker2] - 10


def test_deliveries_show_content_to_the_parties_only(
    api: httpx.Client, account: Callable[[int], str]
) -> None:
    buyer, worker, other = account(500), account(50), account(50)
    task_id = post(
        api, "/tasks", buyer, {"title": "t", "description": "d", "budget_sats": 100}
    ).json()["id"]
    quote_id = post(api, f"/tasks/{task_id}/quotes", worker, {"price_sats": 100}).json()["id"]
    assert post(api, f"/tasks/{task_id}/quotes/{quote_id}/accept", buyer).status_code == 200
    text = "<script>alert(1)</script> stored as given"
    import base64

    encoded = base64.b64encode(text.encode()).decode()
    body = {"filename": "a.html", "content_base64": encoded, "notes": "<b>n</b>"}
    assert post(api, f"/tasks/{task_id}/deliver", worker, body).status_code == 201
    for token, sees in ((buyer, True), (worker, True), (other, False), (None, False)):
        headers = {"X-Token": token} if token else {}
        (delivery,) = api.get(f"{HIRE}/tasks/{task_id}", headers=headers).json()["deliveries"]
        assert delivery["notes"] == "<b>n</b>"
        assert delivery["content_base64"] == (encoded if sees else None)


def test_a_paid_post_without_credentials_is_402_with_a_new_token(api: httpx.Client) -> None:
    answer = api.post(f"{HIRE}/tasks", json={"title": "t", "description": "d", "budget_sats": 10})
    assert answer.status_code == 402, answer.text
    body = answer.json()
    assert body["error"]["code"] == "payment_required"
    assert body["token"].startswith("tmy_")
    assert body["topup_url"].endswith("/api/v1/topup")
    assert balance(api, body["token"]) == 0
    short = post(
        api, "/tasks", body["token"], {"title": "t", "description": "d", "budget_sats": 10}
    )
    assert short.status_code == 402
    assert short.json()["error"]["code"] == "insufficient_balance"
    assert short.json()["topup_url"].endswith("/api/v1/topup")
    # Validation comes first: a bad body is 400, not 402.
    bad = api.post(f"{HIRE}/tasks", json={"title": "t"})
    assert bad.status_code == 400
