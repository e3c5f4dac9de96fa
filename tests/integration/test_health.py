"""The health report: each dependency, a bounded Lightning probe, 503 when degraded."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from timmy import health
from timmy.btc_price import BtcPriceOracle, PriceFeedError
from timmy.lightning.lnbits import LNbitsBackend
from timmy.runtime import reset_caches

INVOICE_KEY = "health-invoice-key"


def wallet_answer(request: httpx.Request) -> httpx.Response:
    if request.method == "GET" and request.url.path == "/api/v1/wallet":
        if request.headers.get("X-Api-Key") == INVOICE_KEY:
            return httpx.Response(200, json={"id": "w", "name": "timmy", "balance": 0})
        return httpx.Response(401, json={"detail": "Invalid key."})
    return httpx.Response(404)


def lnbits_with(key: str) -> LNbitsBackend:
    client = httpx.Client(transport=httpx.MockTransport(wallet_answer))
    return LNbitsBackend("https://lnbits.test", key, None, client=client)


@pytest.fixture
def dripping_server() -> Iterator[str]:
    """An HTTP server that sends its headers one byte at a time and never finishes them."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            while not stop.wait(0.05):
                try:
                    conn.sendall(b"x")
                except OSError:
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    listener.close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_stub_mode_is_ok_with_every_dependency_reported(clean_db: None) -> None:
    report = health.report()
    assert report.status is health.Status.OK
    assert (report.database, report.lightning, report.lightning_mode) == ("up", "up", "stub")
    assert report.ai_configured is True
    assert report.price_feed is health.PriceFeed.FIXED
    assert report.price_feed_age_seconds is None


def test_lnbits_answering_with_our_key_is_up(
    clean_db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(health, "backend", lambda: lnbits_with(INVOICE_KEY))
    assert health.report().lightning == "up"
    # A rejected key is as good as no node: nothing could be invoiced.
    monkeypatch.setattr(health, "backend", lambda: lnbits_with("revoked"))
    report = health.report()
    assert (report.lightning, report.status) == ("down", health.Status.DEGRADED)


def test_unreachable_lnbits_degrades_the_service_with_503(
    api: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LNBITS_URL", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("LNBITS_API_KEY", INVOICE_KEY)
    monkeypatch.setenv("LNBITS_DEV_PAYER_KEY", "payer-key")
    reset_caches()
    response = api.get("/api/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert (body["database"], body["lightning"], body["lightning_mode"]) == ("up", "down", "lnbits")
    assert INVOICE_KEY not in response.text


def test_the_lightning_probe_is_bounded_in_time(
    api: httpx.Client, dripping_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each byte arrives within httpx's read timeout, so only the hard deadline can stop it.
    monkeypatch.setenv("LNBITS_URL", dripping_server)
    monkeypatch.setenv("LNBITS_API_KEY", INVOICE_KEY)
    monkeypatch.setenv("LNBITS_DEV_PAYER_KEY", "payer-key")
    monkeypatch.setenv("HEALTH_LIGHTNING_TIMEOUT_SECONDS", "0.5")
    reset_caches()
    started = time.monotonic()
    response = api.get("/api/healthz")
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.json()["lightning"] == "down"
    assert elapsed < 2.0, elapsed


class FakeFeed:
    name = "fake"

    def __init__(self, price: Decimal | None) -> None:
        self.price = price

    def fetch_usd(self, timeout_seconds: float) -> Decimal:
        if self.price is None:
            raise PriceFeedError("fake feed is down")
        return self.price


def test_price_feed_age_comes_from_the_oracle(
    clean_db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    feed = FakeFeed(Decimal(90_000))
    prices = BtcPriceOracle(
        [feed], fallback_price_usd=Decimal(100_000), cache_seconds=60, clock=lambda: now[0]
    )
    monkeypatch.setattr(health, "oracle", lambda: prices)
    assert (health.report().price_feed, health.report().price_feed_age_seconds) == ("live", 0.0)
    now[0] += 42.5
    assert health.report().price_feed_age_seconds == 42.5

    never = BtcPriceOracle([FakeFeed(None)], fallback_price_usd=Decimal(100_000))
    monkeypatch.setattr(health, "oracle", lambda: never)
    report = health.report()
    assert (report.price_feed, report.price_feed_age_seconds) == ("fallback", None)
    assert report.status is health.Status.OK  # pricing falls back; payments still work
