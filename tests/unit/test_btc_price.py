"""BTC price oracle and its two public feeds, over httpx.MockTransport with a fake clock."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from decimal import Decimal

import httpx
import pytest

from timmy import upstream
from timmy.btc_price import (
    RETRY,
    BtcPriceOracle,
    CoinbaseSpotFeed,
    KrakenTickerFeed,
    PriceFeedError,
    default_feeds,
)

FALLBACK = Decimal("50000")

Handler = Callable[[httpx.Request], httpx.Response]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Recorder:
    """A MockTransport handler that counts calls and answers with the given function."""

    def __init__(self, answer: Handler) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append(request)
        return self.answer(request)

    @property
    def calls(self) -> int:
        return len(self.requests)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))


def coinbase_ok(amount: str) -> Handler:
    return lambda request: httpx.Response(
        200, json={"data": {"amount": amount, "base": "BTC", "currency": "USD"}}
    )


def kraken_ok(price: str) -> Handler:
    body = {
        "error": [],
        "result": {
            "XXBTZUSD": {
                "a": [price, "1", "1.000"],
                "b": [price, "1", "1.000"],
                "c": [price, "0.00067643"],
                "v": ["4083.67001100", "4412.73601799"],
                "o": price,
            }
        },
    }
    return lambda request: httpx.Response(200, json=body)


def status(code: int) -> Handler:
    return lambda request: httpx.Response(code, json={"errors": [{"id": "x"}]})


def connect_error(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def never_called(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"unexpected network call to {request.url}")


def oracle(
    coinbase: Recorder, kraken: Recorder, clock: FakeClock, **kwargs: object
) -> BtcPriceOracle:
    # One attempt per feed: these tests count the oracle's rounds (feed retries: below).
    feeds = [
        CoinbaseSpotFeed(coinbase.client(), retry=upstream.NO_RETRIES),
        KrakenTickerFeed(kraken.client(), retry=upstream.NO_RETRIES),
    ]
    return BtcPriceOracle(feeds, fallback_price_usd=FALLBACK, clock=clock, **kwargs)  # type: ignore[arg-type]


# --- feeds --------------------------------------------------------------------------------


def test_coinbase_feed_requests_the_spot_endpoint_and_reads_the_amount() -> None:
    rec = Recorder(coinbase_ok("67012.34"))
    assert CoinbaseSpotFeed(rec.client()).fetch_usd(2.0) == Decimal("67012.34")
    assert rec.requests[0].method == "GET"
    assert str(rec.requests[0].url) == "https://api.coinbase.com/v2/prices/BTC-USD/spot"


def test_kraken_feed_requests_the_ticker_and_reads_the_last_trade() -> None:
    rec = Recorder(kraken_ok("30303.20000"))
    assert KrakenTickerFeed(rec.client()).fetch_usd(2.0) == Decimal("30303.20000")
    url = rec.requests[0].url
    assert (url.host, url.path, url.params["pair"]) == (
        "api.kraken.com",
        "/0/public/Ticker",
        "XBTUSD",
    )


@pytest.mark.parametrize("outage", [status(503), status(429), connect_error])
def test_a_feed_retries_an_outage_once_within_its_bound(outage: Handler) -> None:
    answers = [outage, coinbase_ok("67000")]
    rec = Recorder(lambda request: answers.pop(0)(request))
    slept: list[float] = []
    feed = CoinbaseSpotFeed(rec.client(), retry=dataclasses.replace(RETRY, sleep=slept.append))

    assert feed.fetch_usd(2.0) == Decimal("67000")
    assert rec.calls == 2
    assert slept == [0.1]


@pytest.mark.parametrize(
    "answer",
    [
        status(500),
        status(429),
        connect_error,
        lambda r: httpx.Response(200, text="<html>maintenance</html>"),
        lambda r: httpx.Response(200, json={"data": {}}),
        lambda r: httpx.Response(200, json={"data": {"amount": 67000}}),  # number, not string
        lambda r: httpx.Response(200, json={"data": {"amount": "lots"}}),
        lambda r: httpx.Response(200, json={"data": {"amount": "-5"}}),
        lambda r: httpx.Response(200, json={"data": {"amount": "0"}}),
        lambda r: httpx.Response(200, json={"data": {"amount": "NaN"}}),
        lambda r: httpx.Response(
            200, json={"data": {"amount": "3100", "base": "ETH", "currency": "USD"}}
        ),
        lambda r: httpx.Response(200, json=[1, 2]),
    ],
)
def test_coinbase_garbage_is_a_feed_error(answer: Handler) -> None:
    with pytest.raises(PriceFeedError):
        CoinbaseSpotFeed(Recorder(answer).client()).fetch_usd(2.0)


@pytest.mark.parametrize(
    "body",
    [
        {"error": ["EQuery:Unknown asset pair"]},
        {"error": [], "result": {}},
        {"error": [], "result": {"XXBTZUSD": {"c": []}}},
        {"error": [], "result": {"XXBTZUSD": {"c": "67000"}}},
        {"error": [], "result": {"XETHZUSD": {"c": ["3100.0", "1"]}}},
    ],
)
def test_kraken_garbage_is_a_feed_error(body: object) -> None:
    rec = Recorder(lambda r: httpx.Response(200, json=body))
    with pytest.raises(PriceFeedError):
        KrakenTickerFeed(rec.client()).fetch_usd(2.0)


def test_default_feeds_are_coinbase_then_kraken() -> None:
    assert [feed.name for feed in default_feeds()] == ["coinbase", "kraken"]


# --- oracle -------------------------------------------------------------------------------


def test_fixed_price_never_calls_the_network() -> None:
    coinbase, kraken = Recorder(never_called), Recorder(never_called)
    fixed = Decimal("65000")
    subject = oracle(coinbase, kraken, FakeClock(), fixed_price_usd=fixed)
    assert subject.price_usd() == fixed
    assert subject.max_blocking_seconds == 0
    assert coinbase.calls == kraken.calls == 0


def test_price_is_cached_within_the_cache_window() -> None:
    # Given a working first feed
    clock = FakeClock()
    coinbase, kraken = Recorder(coinbase_ok("67000.00")), Recorder(never_called)
    subject = oracle(coinbase, kraken, clock, cache_seconds=60)
    # When asked repeatedly within 60 s
    first = subject.price_usd()
    clock.advance(59.9)
    second = subject.price_usd()
    # Then the feed was called once
    assert first == second == Decimal("67000.00")
    assert coinbase.calls == 1


def test_price_is_refetched_after_the_cache_expires() -> None:
    clock = FakeClock()
    amounts = iter(["67000.00", "68000.00"])
    coinbase = Recorder(lambda r: coinbase_ok(next(amounts))(r))
    subject = oracle(coinbase, Recorder(never_called), clock, cache_seconds=60)
    assert subject.price_usd() == Decimal("67000.00")
    clock.advance(60)
    assert subject.price_usd() == Decimal("68000.00")
    assert coinbase.calls == 2


def test_falls_back_to_the_second_feed_when_the_first_fails() -> None:
    coinbase, kraken = Recorder(status(503)), Recorder(kraken_ok("66000.5"))
    subject = oracle(coinbase, kraken, FakeClock())
    assert subject.price_usd() == Decimal("66000.5")
    assert (coinbase.calls, kraken.calls) == (1, 1)


@pytest.mark.parametrize("absurd", ["0.01", "999", "10000001", "1e30"])
def test_an_absurd_price_is_treated_as_a_failure(absurd: str) -> None:
    coinbase, kraken = Recorder(coinbase_ok(absurd)), Recorder(kraken_ok("66000"))
    assert oracle(coinbase, kraken, FakeClock()).price_usd() == Decimal("66000")


def test_all_feeds_failing_without_history_gives_the_configured_fallback() -> None:
    coinbase, kraken = Recorder(connect_error), Recorder(status(500))
    assert oracle(coinbase, kraken, FakeClock()).price_usd() == FALLBACK


def test_all_feeds_failing_after_a_success_gives_the_last_good_price() -> None:
    # Given a price fetched once, then both feeds go down
    clock = FakeClock()
    healthy = {"up": True}
    coinbase = Recorder(lambda r: coinbase_ok("67000")(r) if healthy["up"] else status(500)(r))
    kraken = Recorder(status(502))
    subject = oracle(coinbase, kraken, clock, cache_seconds=60)
    assert subject.price_usd() == Decimal("67000")
    healthy["up"] = False
    # When the cache has expired
    clock.advance(61)
    # Then the last good price is served, not the fallback
    assert subject.price_usd() == Decimal("67000")
    assert (coinbase.calls, kraken.calls) == (2, 1)


def test_after_a_total_failure_feeds_rest_for_the_backoff() -> None:
    clock = FakeClock()
    coinbase, kraken = Recorder(status(500)), Recorder(status(500))
    subject = oracle(coinbase, kraken, clock, failure_backoff_seconds=10)
    assert subject.price_usd() == FALLBACK
    clock.advance(9)
    assert subject.price_usd() == FALLBACK
    assert (coinbase.calls, kraken.calls) == (1, 1)
    clock.advance(1)
    subject.price_usd()
    assert (coinbase.calls, kraken.calls) == (2, 2)


def test_a_hanging_feed_blocks_no_longer_than_the_timeout() -> None:
    # Given a first feed that hangs far longer than the 0.2 s bound
    release = threading.Event()

    def hang(request: httpx.Request) -> httpx.Response:
        release.wait(5)
        return coinbase_ok("67000")(request)

    coinbase, kraken = Recorder(hang), Recorder(kraken_ok("66000"))
    subject = oracle(coinbase, kraken, FakeClock(), timeout_seconds=0.2)
    # When the price is asked for
    started = time.monotonic()
    price = subject.price_usd()
    elapsed = time.monotonic() - started
    release.set()
    # Then the second feed answered, within about one timeout
    assert price == Decimal("66000")
    assert elapsed < 1.0
    assert subject.max_blocking_seconds == pytest.approx(0.4)


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"fallback_price_usd": Decimal(0)}, "fallback_price_usd"),
        ({"fallback_price_usd": FALLBACK, "fixed_price_usd": Decimal("-1")}, "fixed_price_usd"),
        ({"fallback_price_usd": FALLBACK, "timeout_seconds": 0}, "timeout_seconds"),
        ({"fallback_price_usd": FALLBACK, "cache_seconds": -1}, "cache_seconds"),
    ],
)
def test_bad_configuration_is_rejected(kwargs: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        BtcPriceOracle([], **kwargs)  # type: ignore[arg-type]
