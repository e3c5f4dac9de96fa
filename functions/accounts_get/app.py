"""GET /api/v1/account and the peer's GET /api/v1/ai-for-hire/me: the token's account."""

from __future__ import annotations

from timmy.accounts import tokens
from timmy.accounts.service import get_account
from timmy.accounts.views import AccountView
from timmy.api import HttpApi, header, make_handler, response_doc

app = HttpApi()

_RESPONSES = {
    200: response_doc(
        "The account (pending top-ups confirmed with the backend first)", AccountView
    ),
    401: response_doc("missing_token; invalid_token: the token names no account"),
}


def _current() -> AccountView:
    return get_account(tokens.required(header(app, "x-token"), header(app, "authorization")))


@app.get("/api/v1/account", summary="The prepaid account", tags=["accounts"], responses=_RESPONSES)
def account() -> AccountView:
    return _current()


@app.get(
    "/api/v1/ai-for-hire/me",
    summary="The prepaid account (the peer's path)",
    tags=["accounts"],
    responses=_RESPONSES,
)
def hire_me() -> AccountView:
    return _current()


handler = make_handler(app)
