"""Who may do what, on every AI-for-Hire route, over HTTP: the outsider, the other contractor,
the buyer acting as a contractor, the contractor acting as the buyer; wrong states are 409."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest
from hire_ledger import funded_account

from timmy.hire import service

HIRE = "/api/v1/ai-for-hire"


@dataclass
class Market:
    buyer: str
    worker: str
    other: str
    outsider: str
    task_id: str
    quote_id: str
    other_quote_id: str


@pytest.fixture
def market(api: httpx.Client) -> Market:
    (buyer, buyer_token), (worker, worker_token) = funded_account(1000), funded_account(100)
    (other, other_token), (_, outsider_token) = funded_account(100), funded_account(100)
    task = service.create_task(buyer, title="t", description="d", budget_sats=500, base_url="")
    q1 = service.create_quote(
        worker, task.id, price_sats=300, description="", delivery_hours=None, base_url=""
    )
    q2 = service.create_quote(
        other, task.id, price_sats=200, description="", delivery_hours=None, base_url=""
    )
    return Market(buyer_token, worker_token, other_token, outsider_token, task.id, q1.id, q2.id)


def call(api: httpx.Client, method: str, path: str, token: str | None, body: object = None):  # type: ignore[no-untyped-def]
    headers = {"X-Token": token} if token else {}
    return api.request(method, f"{HIRE}{path}", json={} if body is None else body, headers=headers)


def expect(answer: httpx.Response, status: int, code: str | None = None) -> None:
    assert answer.status_code == status, answer.text
    if code is not None:
        assert answer.json()["error"]["code"] == code


def test_before_the_accept(api: httpx.Client, market: Market) -> None:
    t, q1, q2 = market.task_id, market.quote_id, market.other_quote_id
    quote, thread = f"/tasks/{t}/quotes/{q1}", f"/tasks/{t}/quotes/{q1}/messages"
    for who in (market.outsider, market.other, market.buyer):
        expect(call(api, "PATCH", quote, who, {"price_sats": 1}), 403, "forbidden")
        expect(call(api, "POST", f"{quote}/withdraw", who), 403, "forbidden")
    for who in (market.outsider, market.other, market.worker):
        expect(call(api, "POST", f"{quote}/accept", who), 403, "forbidden")
        expect(call(api, "POST", f"/tasks/{t}/cancel", who), 403, "forbidden")
    for who in (market.outsider, market.other):
        expect(call(api, "POST", thread, who, {"body": "hi"}), 403, "forbidden")
        expect(call(api, "GET", thread, who), 403, "forbidden")
    # The buyer may not quote their own task.
    expect(
        call(api, "POST", f"/tasks/{t}/quotes", market.buyer, {"price_sats": 5}), 403, "forbidden"
    )
    # Nothing delivered, nothing accepted: the wrong state, or not the accepted contractor.
    expect(call(api, "POST", f"/tasks/{t}/confirm", market.buyer), 409, "invalid_state")
    expect(call(api, "POST", f"/tasks/{t}/dispute", market.buyer), 409, "invalid_state")
    expect(call(api, "POST", f"/tasks/{t}/deliver", market.worker, _delivery()), 403, "forbidden")
    # A token is needed (or, on the paid POSTs, a new account is handed out: 402).
    expect(call(api, "POST", thread, None, {"body": "x"}), 401, "missing_token")
    expect(call(api, "POST", f"{quote}/accept", None), 401, "missing_token")
    expect(
        call(api, "POST", f"/tasks/{t}/quotes", None, {"price_sats": 5}), 402, "payment_required"
    )
    expect(call(api, "POST", f"{quote}/accept", "tmy_" + "A" * 43), 401, "invalid_token")
    # Unknown ids.
    expect(call(api, "GET", "/tasks/not-a-uuid", None), 404, "not_found")
    expect(call(api, "POST", f"/tasks/{t}/quotes/{t}/accept", market.buyer), 404, "not_found")
    # The withdraw: only pending, only once.
    expect(call(api, "POST", f"/tasks/{t}/quotes/{q2}/withdraw", market.other), 200)
    expect(
        call(api, "POST", f"/tasks/{t}/quotes/{q2}/withdraw", market.other), 409, "invalid_state"
    )
    expect(call(api, "POST", f"/tasks/{t}/quotes/{q2}/messages", market.buyer, {"body": "x"}), 409)


def test_after_the_accept(api: httpx.Client, market: Market) -> None:
    t, q1, q2 = market.task_id, market.quote_id, market.other_quote_id
    quote = f"/tasks/{t}/quotes/{q1}"
    expect(call(api, "PATCH", quote, market.worker, {"price_sats": 250}), 200)
    expect(
        call(api, "POST", f"{quote}/accept", market.buyer, {"expected_price_sats": 300}),
        409,
        "price_changed",
    )
    expect(call(api, "POST", f"{quote}/accept", market.buyer, {"expected_price_sats": 250}), 200)
    expect(call(api, "POST", f"{quote}/accept", market.buyer), 409, "invalid_state")
    expect(call(api, "POST", f"/tasks/{t}/quotes/{q2}/accept", market.buyer), 409, "invalid_state")
    expect(call(api, "PATCH", quote, market.worker, {"price_sats": 1}), 409, "invalid_state")
    expect(call(api, "POST", f"/tasks/{t}/quotes", market.outsider, {"price_sats": 5}), 409)
    expect(call(api, "POST", f"/tasks/{t}/cancel", market.buyer), 409, "invalid_state")
    for who in (market.outsider, market.other, market.buyer):
        expect(call(api, "POST", f"/tasks/{t}/deliver", who, _delivery()), 403, "forbidden")
    expect(
        call(
            api,
            "POST",
            f"/tasks/{t}/deliver",
            market.worker,
            {**_delivery(), "content_base64": "%%"},
        ),
        400,
    )
    expect(call(api, "POST", f"/tasks/{t}/deliver", market.worker, _delivery()), 201)
    expect(
        call(api, "POST", f"/tasks/{t}/deliver", market.worker, _delivery()), 409, "invalid_state"
    )
    for who in (market.outsider, market.other, market.worker):
        expect(call(api, "POST", f"/tasks/{t}/confirm", who), 403, "forbidden")
        expect(call(api, "POST", f"/tasks/{t}/dispute", who), 403, "forbidden")
    expect(
        call(api, "POST", f"/tasks/{t}/quotes/{q1}/messages", market.worker, {"body": "done"}), 201
    )
    # The operator route answers only IAM-signed calls (the local gateway signs none).
    split = f"/operator/tasks/{t}/split"
    expect(call(api, "POST", split, market.buyer, {"contractor_sats": 1}), 403, "forbidden")
    expect(call(api, "POST", f"/tasks/{t}/confirm", market.buyer), 200)
    expect(call(api, "POST", f"/tasks/{t}/confirm", market.buyer), 409, "invalid_state")
    expect(call(api, "POST", f"/tasks/{t}/dispute", market.buyer), 409, "invalid_state")


def test_size_limits_and_text_as_given(api: httpx.Client, market: Market) -> None:
    thread = f"/tasks/{market.task_id}/quotes/{market.quote_id}/messages"
    expect(call(api, "POST", thread, market.buyer, {"body": "x" * 4001}), 400, "too_large")
    expect(call(api, "POST", thread, market.buyer, {"body": "   "}), 400, "invalid_content")
    expect(call(api, "POST", thread, market.buyer, {"body": "a\u0000b"}), 400, "invalid_content")
    odd = "<img src=x onerror=alert(1)> é 🙂"
    expect(call(api, "POST", thread, market.buyer, {"body": odd}), 201)
    (message,) = call(api, "GET", thread, market.worker).json()["messages"]
    assert message["body"] == odd
    big = {"title": "x" * 201, "description": "d", "budget_sats": 5}
    expect(call(api, "POST", "/tasks", market.buyer, big), 400, "too_large")
    expect(call(api, "GET", "/tasks?status=bogus", None), 400)
    listed = call(api, "GET", "/tasks?status=open", None).json()["tasks"]
    assert [task["id"] for task in listed] == [market.task_id]


def _delivery() -> dict[str, str]:
    return {"filename": "r.txt", "content_base64": "aGk=", "notes": ""}
