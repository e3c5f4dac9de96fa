"""GET /api/v1/catalog and GET /llms.txt through the local gateway."""

from __future__ import annotations

import httpx

from timmy.catalog.loader import load


def test_the_catalog_is_priced_in_sats_and_usd(api: httpx.Client) -> None:
    answer = api.get("/api/v1/catalog")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    bundled = load()
    assert [m["id"] for m in body["models"]] == [m.id for m in bundled.models]
    stub = next(m for m in body["models"] if m["id"] == "stub")
    # The stub's list price (1 and 5 USD per Mtok) with the 20 % markup at 100,000 USD/BTC.
    assert float(body["btc_price_usd"]) == 100_000
    assert (stub["sats_per_mtok_input"], stub["sats_per_mtok_output"]) == (1_200, 6_000)
    task = next(r for r in body["routes"] if r["id"] == "hire_task")
    assert (task["pricing"], task["sats"], float(task["usd"])) == ("flat", 50, 0.05)
    assert body["marketplace"]["task_fee_sats"] == 50
    # /v1/models prices the same models the same way
    listed = api.get("/v1/models").json()["data"]
    assert listed[0]["pricing"]["sats_per_mtok_input"] == stub["sats_per_mtok_input"]
    assert listed[0]["pricing"]["max_output_tokens"] == stub["max_output_tokens"]


def test_llms_txt_lists_prices_and_operations(api: httpx.Client) -> None:
    answer = api.get("/llms.txt")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    text = answer.text
    assert text.startswith("# Timmy\n")
    assert "- stub (stub): input 1200 sats, output 6000 sats" in text
    assert "- POST /api/v1/ai-for-hire/tasks: 50 sats" in text
    assert "- POST /v1/chat/completions:" in text
    assert "- GET /api/v1/catalog:" in text
