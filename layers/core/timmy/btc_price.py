"""The BTC/USD price used to turn USD costs into sats.

:class:`BtcPriceOracle` answers from, in order:

1. the fixed price, when configured (the local default: nothing waits on the network);
2. the cached price, while younger than ``cache_seconds``;
3. the feeds, tried in order, each bounded by ``timeout_seconds``; the first sane answer is
   cached;
4. when every feed fails: the last good price if there ever was one, else the configured
   fallback. Feeds are then left alone for ``failure_backoff_seconds`` so that an outage does
   not slow every request down.

Time bound: one call blocks at most ``len(feeds) * timeout_seconds`` (plus thread start-up),
and only when the cache is stale. Each feed's GET goes through :mod:`timmy.upstream` (one
quick retry of a failed connection, a 429 or a 5xx, inside the same bound). Each feed runs in
a worker thread that is abandoned when its time is up; httpx's own timeouts (set to the same
bound) end that thread soon after. A Lambda process handles one event at a time: the cache is
read and refreshed by one caller.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Final, Protocol

from timmy import upstream
from timmy.deadline import DeadlineExceeded, call_within
from timmy.errors import UpstreamUnavailable

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger(__name__)

# Outside this band a "price" is a broken feed, not a market move.
MIN_SANE_BTC_USD: Final = Decimal(1_000)
MAX_SANE_BTC_USD: Final = Decimal(10_000_000)
_MAX_BODY_BYTES: Final = 256 * 1024
# The feed's deadline bounds the whole call, retries included: keep the waits short.
RETRY: Final = upstream.RetryPolicy(attempts=2, base_delay=0.1, max_retry_after=0.5)

COINBASE_SPOT_URL: Final = "https://api.coinbase.com/v2/prices/BTC-USD/spot"
KRAKEN_TICKER_URL: Final = "https://api.kraken.com/0/public/Ticker"
_KRAKEN_PAIR: Final = "XBTUSD"
# Kraken answers with its own pair name; XBTUSD is reported as XXBTZUSD.
_KRAKEN_RESULT_KEYS: Final = ("XXBTZUSD", "XBTUSD")


class PriceFeedError(UpstreamUnavailable):
    """A price feed failed or answered with something that is not a usable price."""

    code = "price_feed_unavailable"


class PriceFeed(Protocol):
    name: str

    def fetch_usd(self, timeout_seconds: float) -> Decimal:
        """The current BTC price in USD; raises :class:`PriceFeedError` on any failure."""
        ...


class BtcPriceOracle:
    def __init__(
        self,
        feeds: Sequence[PriceFeed],
        *,
        fallback_price_usd: Decimal,
        fixed_price_usd: Decimal | None = None,
        cache_seconds: float = 60,
        timeout_seconds: float = 2.0,
        failure_backoff_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        _require_sane(fallback_price_usd, "fallback_price_usd")
        if fixed_price_usd is not None:
            _require_sane(fixed_price_usd, "fixed_price_usd")
        if cache_seconds < 0 or failure_backoff_seconds < 0:
            raise ValueError("cache_seconds and failure_backoff_seconds must not be negative")
        if timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")
        self._feeds = tuple(feeds)
        self._fallback = fallback_price_usd
        self._fixed = fixed_price_usd
        self._cache_seconds = cache_seconds
        self._timeout = timeout_seconds
        self._backoff = failure_backoff_seconds
        self._clock = clock
        self._last_good: Decimal | None = None
        self._fetched_at: float | None = None
        self._feeds_resume_at: float | None = None

    @property
    def max_blocking_seconds(self) -> float:
        """The longest one call to :meth:`price_usd` can wait on the feeds."""
        return 0.0 if self._fixed is not None else len(self._feeds) * self._timeout

    def price_usd(self) -> Decimal:
        """The BTC price in USD to price with now. Never raises; never blocks beyond the bound."""
        if self._fixed is not None:
            return self._fixed
        now = self._clock()
        if self._last_good is not None and self._is_fresh(now):
            return self._last_good
        if self._feeds_resume_at is None or now >= self._feeds_resume_at:
            fetched = self._fetch_first_good()
            if fetched is not None:
                self._last_good, self._fetched_at = fetched, self._clock()
                self._feeds_resume_at = None
                return fetched
            self._feeds_resume_at = self._clock() + self._backoff
        return self._last_good if self._last_good is not None else self._fallback

    @property
    def fixed(self) -> bool:
        return self._fixed is not None

    def age_seconds(self) -> float | None:
        """Seconds since a feed last gave this process a price; None if none ever has."""
        fetched_at = self._fetched_at
        return None if fetched_at is None else max(0.0, self._clock() - fetched_at)

    def _is_fresh(self, now: float) -> bool:
        return self._fetched_at is not None and now - self._fetched_at < self._cache_seconds

    def _fetch_first_good(self) -> Decimal | None:
        for feed in self._feeds:
            try:
                price = _run_bounded(feed, self._timeout)
                _require_sane(price, f"{feed.name} price")
                return price
            except (PriceFeedError, ValueError) as exc:
                # The feed name and error class only: upstream bodies are not worth logging.
                logger.warning("BTC price feed %s failed: %s", feed.name, type(exc).__name__)
        return None


def _run_bounded(feed: PriceFeed, timeout_seconds: float) -> Decimal:
    """``feed.fetch_usd`` with a hard deadline: the caller waits at most ``timeout_seconds``."""
    try:
        return call_within(
            lambda: feed.fetch_usd(timeout_seconds), timeout_seconds, name=f"price-feed-{feed.name}"
        )
    except DeadlineExceeded:
        raise PriceFeedError(f"{feed.name} did not answer within {timeout_seconds}s") from None
    except PriceFeedError:
        raise
    except Exception as exc:
        raise PriceFeedError(f"{feed.name} failed: {type(exc).__name__}") from exc


def _require_sane(price: Decimal, name: str) -> None:
    if not isinstance(price, Decimal) or not price.is_finite():
        raise ValueError(f"{name} must be a finite Decimal")
    if not MIN_SANE_BTC_USD <= price <= MAX_SANE_BTC_USD:
        raise ValueError(f"{name} {price} is outside {MIN_SANE_BTC_USD}..{MAX_SANE_BTC_USD} USD")


# --- feeds --------------------------------------------------------------------------------


class _HttpFeed:
    """Shared plumbing: a lazily created (or injected) client and a bounded JSON GET."""

    name = "http"

    def __init__(
        self, client: httpx.Client | None = None, *, retry: upstream.RetryPolicy = RETRY
    ) -> None:
        self._client = client
        self._retry = retry

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = upstream.new_client(
                timeout=5.0,  # each call passes its own, shorter, timeout
                headers={"Accept": "application/json", "User-Agent": "timmy-price/1"},
            )
        return self._client

    def _get_json(self, url: str, params: dict[str, str], timeout_seconds: float) -> object:
        import httpx

        try:
            response = upstream.request(
                self._http(),
                "GET",
                url,
                policy=self._retry,
                service=self.name,
                params=params,
                timeout=timeout_seconds,
            )
        except httpx.HTTPError as exc:
            raise PriceFeedError(f"{self.name} unreachable: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise PriceFeedError(f"{self.name} answered HTTP {response.status_code}")
        if len(response.content) > _MAX_BODY_BYTES:
            raise PriceFeedError(f"{self.name} answered with an oversized body")
        try:
            return response.json()
        except ValueError:
            raise PriceFeedError(f"{self.name} answered with a body that is not JSON") from None

    def _decimal(self, value: object) -> Decimal:
        # Prices arrive as strings; a JSON number would have gone through float already.
        if not isinstance(value, str):
            raise PriceFeedError(f"{self.name} price is not a decimal string")
        try:
            price = Decimal(value.strip())
        except InvalidOperation:
            raise PriceFeedError(f"{self.name} price is not a number") from None
        if not price.is_finite() or price <= 0:
            raise PriceFeedError(f"{self.name} price is not positive")
        return price


class CoinbaseSpotFeed(_HttpFeed):
    """``GET /v2/prices/BTC-USD/spot`` → ``{"data": {"amount": "...", "base": "BTC",
    "currency": "USD"}}`` (public, no key)."""

    name = "coinbase"

    def __init__(
        self,
        client: httpx.Client | None = None,
        *,
        url: str = COINBASE_SPOT_URL,
        retry: upstream.RetryPolicy = RETRY,
    ) -> None:
        super().__init__(client, retry=retry)
        self._url = url

    def fetch_usd(self, timeout_seconds: float) -> Decimal:
        body = self._get_json(self._url, {}, timeout_seconds)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise PriceFeedError("coinbase answer has no data object")
        # base/currency are checked when present so a misrouted pair is never taken for BTC-USD.
        if data.get("base", "BTC") != "BTC" or data.get("currency", "USD") != "USD":
            raise PriceFeedError("coinbase answered for another currency pair")
        return self._decimal(data.get("amount"))


class KrakenTickerFeed(_HttpFeed):
    """``GET /0/public/Ticker?pair=XBTUSD`` → ``{"error": [], "result": {"XXBTZUSD":
    {"c": ["<last trade price>", "<lot volume>"], ...}}}`` (public, no key)."""

    name = "kraken"

    def __init__(
        self,
        client: httpx.Client | None = None,
        *,
        url: str = KRAKEN_TICKER_URL,
        retry: upstream.RetryPolicy = RETRY,
    ) -> None:
        super().__init__(client, retry=retry)
        self._url = url

    def fetch_usd(self, timeout_seconds: float) -> Decimal:
        body = self._get_json(self._url, {"pair": _KRAKEN_PAIR}, timeout_seconds)
        if not isinstance(body, dict):
            raise PriceFeedError("kraken answer is not an object")
        # Kraken reports failures with HTTP 200 and a non-empty error list.
        if body.get("error"):
            raise PriceFeedError("kraken reported an error")
        result = body.get("result")
        ticker = _first_present(result, _KRAKEN_RESULT_KEYS)
        last_trade = ticker.get("c") if isinstance(ticker, dict) else None
        if not isinstance(last_trade, list) or not last_trade:
            raise PriceFeedError("kraken answer has no last-trade price")
        return self._decimal(last_trade[0])


def _first_present(mapping: object, keys: Sequence[str]) -> object:
    if isinstance(mapping, dict):
        for key in keys:
            if key in mapping:
                return mapping[key]
    return None


def default_feeds(client: httpx.Client | None = None) -> list[PriceFeed]:
    """Coinbase first, Kraken second; both may share one injected client."""
    return [CoinbaseSpotFeed(client), KrakenTickerFeed(client)]
