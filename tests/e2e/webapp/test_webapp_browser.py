"""The web app in a real browser, over the whole local stack: a new user asks Timmy and pays
both invoices with the dev-wallet button, tops up an account, signs in with a NIP-07
extension, and every page renders (a screenshot of each under .test-output/screenshots/)."""

from __future__ import annotations

import re
from typing import Any

import httpx
from nostr_keys import NostrKey
from playwright.sync_api import expect


def test_ask_timmy_end_to_end_with_the_dev_wallet(tab: Any) -> None:
    page = tab.page
    tab.open()
    page.get_by_label("What should Timmy do?").fill("Write a haiku about the Lightning Network")
    # The live estimate, before anything is paid.
    expect(page.locator(".estimate-sats")).to_have_text(re.compile(r"^\d[\d,]* sats?$"))
    page.get_by_role("button", name="Ask Timmy").click()

    eval_box = page.get_by_role("region", name="Pay the evaluation fee")
    expect(eval_box.get_by_role("img")).to_have_attribute(
        "src", re.compile(r"^/api/qr\.svg\?data=ln")
    )
    expect(eval_box.locator(".countdown")).to_have_text(re.compile(r"^\d+:\d\d$"))
    qr = eval_box.get_by_role("img").element_handle()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=qr)  # it drew
    tab.shot("ask-invoice")
    eval_box.get_by_role("button", name="Pay with dev wallet").click()

    work_box = page.get_by_role("region", name="Pay for the work")
    expect(page.locator(".job-state")).to_have_attribute("data-state", "awaiting_work_payment")
    work_box.get_by_role("button", name="Pay with dev wallet").click()

    expect(page.locator(".job-state")).to_have_attribute("data-state", "complete")
    expect(page.locator("pre.result")).to_contain_text("Write a haiku about the Lightning Network")
    expect(page.locator(".steps [aria-current=step]")).to_have_text(re.compile("done"))
    # The job's id is in the URL: a reload shows the same finished job.
    assert "job=" in page.url
    page.reload()
    expect(page.locator(".job-state")).to_have_attribute("data-state", "complete")
    tab.shot("ask")


def test_top_up_an_account_with_the_dev_wallet(tab: Any) -> None:
    page = tab.page
    tab.open("#/account")
    page.get_by_label("Amount (sats)").fill("250")
    page.get_by_role("button", name="Create and top up").click()

    warning = page.get_by_role("alert").filter(has_text="Save your account token now")
    token = warning.locator("code.token").inner_text()
    assert re.fullmatch(r"tmy_[A-Za-z0-9_-]{43}", token), token
    stored = page.evaluate("() => JSON.parse(localStorage.getItem('timmy.account_token'))")
    assert stored == token

    page.get_by_role("region", name="Top up 250 sats").get_by_role(
        "button", name="Pay with dev wallet"
    ).click()
    expect(page.get_by_text("Top-up credited. Balance: 250 sats.")).to_be_visible()
    expect(page.locator(".balance-sats")).to_have_text("250 sats")
    tab.shot("account")

    # Shown once: the next visit has the balance and no token on screen.
    page.reload()
    expect(page.locator(".balance-sats")).to_have_text("250 sats")
    expect(page.locator("code.token")).to_have_count(0)


def test_withdraw_from_an_account_to_a_dev_wallet_invoice(tab: Any) -> None:
    page = tab.page
    tab.open("#/account")
    page.get_by_label("Amount (sats)").fill("300")
    page.get_by_role("button", name="Create and top up").click()
    page.get_by_role("region", name="Top up 300 sats").get_by_role(
        "button", name="Pay with dev wallet"
    ).click()
    expect(page.locator(".balance-sats")).to_have_text("300 sats")

    withdraw = page.get_by_role("form", name="Withdraw")
    withdraw.get_by_label("Amount (sats, optional: must match the invoice)").fill("120")
    withdraw.get_by_role("button", name="Make an invoice with the dev wallet").click()
    expect(withdraw.get_by_label("Lightning invoice (BOLT11) to pay out")).to_have_value(
        re.compile(r"^lnbcrt1200n1")
    )
    withdraw.get_by_role("button", name="Withdraw").click()

    expect(withdraw.get_by_text("Paid: 120 sats (fee 0 sats). Balance: 180 sats.")).to_be_visible()
    expect(page.locator(".balance-sats")).to_have_text("180 sats")
    tab.shot("account-withdraw")


def test_the_hire_board_shows_its_tasks_or_says_it_is_not_there(tab: Any, gateway_url: str) -> None:
    page = tab.page
    tasks = httpx.get(f"{gateway_url}/api/v1/ai-for-hire/tasks")
    if tasks.status_code == 404:
        tab.open("#/hire")
        expect(page.locator(".board")).to_contain_text("not available on this server yet")
    else:
        title = _post_a_task(gateway_url)
        tab.open("#/hire")
        expect(page.locator(".board .task-title")).to_contain_text([title])
    expect(page.get_by_role("form", name="Post a task")).to_be_visible()
    tab.shot("hire")


def _post_a_task(gateway_url: str) -> str:
    """A task on the board, posted by an account topped up with the dev wallet."""
    with httpx.Client(base_url=gateway_url, timeout=30) as api:
        challenge = api.post("/api/v1/topup", json={"amount_sats": 500}).json()
        paid = api.post("/api/dev/wallet/pay", json={"invoice": challenge["invoice"]}).json()
        token = challenge["token"]
        claimed = api.post(
            "/api/v1/topup/claim", json={"preimage": paid["preimage"]}, headers={"X-Token": token}
        )
        assert claimed.status_code == 200, claimed.text
        title = "Translate a README into Spanish"
        posted = api.post(
            "/api/v1/ai-for-hire/tasks",
            json={"title": title, "description": "About 300 words.", "budget_sats": 100},
            headers={"X-Token": token},
        )
        assert posted.status_code == 201, posted.text
        return title


HOSTILE = '<img src=x onerror="window.__owned = true">'


def test_text_from_others_is_shown_as_text_never_as_markup(tab: Any) -> None:
    """A task in the API.md shape whose title and description carry markup: shown literally."""
    page = tab.page
    task = {
        "id": "0b5c6c1e-0000-4000-8000-000000000001",
        "buyer_account_id": "0b5c6c1e-0000-4000-8000-000000000002",
        "title": "Fix my site " + HOSTILE,
        "description": "It breaks on <script>window.__owned = true</script>",
        "budget_sats": 1234,
        "status": "open",
        "quote_count": 0,
        "created_at": "2026-12-01T08:00:00Z",
        "updated_at": "2026-12-01T08:00:00Z",
    }
    page.route(
        "**/api/v1/ai-for-hire/tasks",
        lambda route: route.fulfill(json={"tasks": [task]}, status=200),
    )
    tab.open("#/hire")
    expect(page.locator(".board .task-title")).to_have_text("Fix my site " + HOSTILE)
    expect(page.locator(".board .task-description")).to_contain_text("<script>")
    assert page.locator(".board img").count() == 0
    assert page.evaluate("() => window.__owned") is None


def test_the_catalog_is_a_table_of_prices(tab: Any) -> None:
    """The catalog in the shape API.md describes (models with sats and USD prices)."""
    page = tab.page
    catalog = {
        "btc_price_usd": 100000,
        "models": [
            {
                "id": "claude-sonnet",
                "provider": "anthropic",
                "usd_per_mtok": {"input": 3.0, "output": 15.0},
                "sats_per_mtok": {"input": 3000, "output": 15000},
                "max_output_tokens": 8192,
            }
        ],
    }
    page.route("**/api/v1/catalog", lambda route: route.fulfill(json=catalog, status=200))
    tab.open("#/models")
    table = page.get_by_role("table")
    expect(table).to_contain_text("claude-sonnet")
    expect(table.get_by_role("columnheader", name="sats per mtok · input")).to_be_visible()
    expect(table).to_contain_text("15,000")
    expect(page.locator(".facts")).to_contain_text("100,000")


def test_nostr_sign_in_with_a_nip07_extension(tab: Any) -> None:
    page = tab.page
    key = NostrKey()

    def sign(event: dict[str, Any]) -> dict[str, Any]:
        return key.sign_event(event["kind"], event["content"], event["tags"], event["created_at"])

    # What a NIP-07 extension (nos2x, Alby) puts in the page; the key stays in Python.
    page.expose_function("__testSignEvent", sign)
    page.add_init_script(
        "window.nostr = {"
        f" getPublicKey: async () => '{key.pubkey_hex}',"
        " signEvent: async (event) => window.__testSignEvent(event) };"
    )
    tab.open()
    page.get_by_role("button", name="Sign in with Nostr").click()
    expect(page.locator("#identity .who")).to_contain_text(key.pubkey_hex[:8])
    login = page.evaluate("() => JSON.parse(localStorage.getItem('timmy.nostr'))")
    assert login["pubkey"] == key.pubkey_hex
    # Estimates now carry the identity (X-Nostr-Token): the server answers for it.
    with page.expect_request(lambda r: "/api/estimate" in r.url) as sent:
        page.get_by_label("What should Timmy do?").fill("Hello")
    assert sent.value.headers.get("x-nostr-token") == login["nostr_token"]
    expect(page.locator(".estimate-sats")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in with Nostr")).to_be_visible()


def test_a_session_is_paid_then_spent_from(tab: Any) -> None:
    page = tab.page
    tab.open("#/sessions")
    page.get_by_label("Deposit (sats)").fill("500")
    page.get_by_role("button", name="Open session").click()
    page.get_by_role("region", name="Pay the deposit").get_by_role(
        "button", name="Pay with dev wallet"
    ).click()
    expect(page.locator(".session-state")).to_have_text("active")
    expect(page.locator(".session-balance")).to_have_text("500 sats")
    page.get_by_label("Request").fill("Name three Lightning wallets")
    page.get_by_role("button", name="Ask", exact=True).click()
    expect(page.locator(".session-result pre.result")).to_contain_text("Name three Lightning")
    expect(page.locator(".session-balance")).not_to_have_text("500 sats")
    tab.shot("sessions-active")


def test_every_page_renders(tab: Any) -> None:
    page = tab.page
    tab.open("#/sessions")
    expect(page.get_by_role("form", name="Open a session")).to_be_visible()
    tab.shot("sessions")

    tab.open("#/models")
    # The catalog when the server has one; else its notice and the /v1/models fallback.
    expect(page.locator("table, .notice").first).to_be_visible()
    tab.shot("models")

    tab.open("#/node")
    expect(page.get_by_role("button", name="Order a node")).to_be_visible()
    tab.shot("node")

    tab.open("#/api")
    expect(page.locator("details.operation").first).to_be_visible()
    operations = page.locator("details.operation")
    assert operations.count() > 20
    refund = page.locator("details.operation", has_text="/api/jobs/{job_id}/refund")
    refund.locator("summary").click()
    expect(refund.get_by_text("Request body (JSON)")).to_be_visible()
    tab.shot("api")


def test_a_node_order_shows_its_invoice_and_progress(tab: Any) -> None:
    page = tab.page
    tab.open("#/node")
    page.get_by_role("button", name="Order a node").click()
    box = page.get_by_role("region", name="Pay for the node")
    box.get_by_role("button", name="Pay with dev wallet").click()
    # The stub provisioner finishes at once: the key is offered exactly this once.
    expect(
        page.get_by_role("alert").filter(has_text="Save the node's SSH private key now")
    ).to_be_visible()
    expect(page.locator("pre.token")).to_contain_text("PRIVATE KEY")
    with page.expect_download() as download:
        page.get_by_role("button", name="Save key file").click()
    assert download.value.suggested_filename.startswith("timmy-node-")
    tab.shot("node-ready")


def test_asking_works_from_the_keyboard_alone(tab: Any) -> None:
    page = tab.page
    tab.open()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to the content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("What should Timmy do?")).to_be_focused()
    page.keyboard.type("Count to three")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Ask Timmy")).to_be_focused()
    page.keyboard.press("Enter")
    pay = page.get_by_role("region", name="Pay the evaluation fee").get_by_role(
        "button", name="Pay with dev wallet"
    )
    pay.focus()
    page.keyboard.press("Enter")
    expect(page.locator(".job-state")).to_have_attribute("data-state", "awaiting_work_payment")


def test_phone_width_has_no_sideways_scrolling(tab: Any, gateway_url: str) -> None:
    page = tab.page
    page.set_viewport_size({"width": 360, "height": 740})
    job = httpx.post(f"{gateway_url}/api/jobs", json={"request": "Hi"}, timeout=30).json()
    for fragment in ("", f"#/ask?job={job['job_id']}", "#/account", "#/hire", "#/api"):
        tab.open(fragment)
        page.wait_for_load_state("networkidle")
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, (fragment, overflow)
    tab.open(f"#/ask?job={job['job_id']}")
    expect(page.get_by_role("region", name="Pay the evaluation fee")).to_be_visible()
    tab.shot("ask-phone")
