"""The one way Timmy calls an upstream over HTTP: timeouts, and retries that cannot duplicate.

Every upstream client (DigitalOcean, Tailscale, LNbits, the AI providers, the price feeds, the
Step Functions client) builds its ``httpx.Client`` with :func:`new_client` and sends with
:func:`send`, each with its own :class:`RetryPolicy`. What is retried:

* errors raised before the request left this machine (``ConnectError``, ``ConnectTimeout``,
  ``PoolTimeout``): always, nothing was sent;
* a 429: always, the upstream refused to look at the request; its ``Retry-After`` is honoured
  up to the policy's cap;
* a 5xx, a read/write timeout or a dropped connection: only when the request is idempotent,
  since it may have arrived and taken effect. Idempotence defaults from the method (GET, HEAD,
  PUT, DELETE, OPTIONS); a caller says ``idempotent=True`` for a POST that is safe to repeat.

When attempts run out, :func:`send` returns the last answer (a 429 or 5xx the caller maps to
its own error) or raises the last httpx error: callers keep the classification they already
need, and :func:`may_have_been_sent` tells a lost answer from a request that never left.

httpx is imported on first use, not with this module: importing it costs a cold start tens of
milliseconds, and a function whose success path calls no upstream (the stub Lightning node)
must not pay for it.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


@functools.cache
def not_sent_errors() -> tuple[type[httpx.HTTPError], ...]:
    """Raised before any byte of the request was written: repeating it duplicates nothing."""
    import httpx

    return (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@functools.cache
def maybe_sent_errors() -> tuple[type[httpx.HTTPError], ...]:
    """The request may have arrived: safe to repeat only when it is idempotent."""
    import httpx

    return (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many attempts, and how long to wait between them.

    The wait before retry ``n`` (0-based) is ``min(max_delay, base * 2**n)``, where ``base`` is
    ``throttle_base_delay`` after a throttling answer (when set) and ``base_delay`` otherwise;
    with ``jitter`` it is a uniform draw below that (the "full jitter" of AWS's standard retry
    mode), which spreads out callers that failed together. A 429's ``Retry-After`` replaces
    the backoff, capped at ``max_retry_after`` (Lambda time is finite: past that, the caller's
    workflow retries later). ``no_retry_statuses`` are 5xx answers that are a verdict, not an
    outage (LNbits' 520).
    """

    attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 30.0
    throttle_base_delay: float | None = None
    jitter: bool = False
    no_retry_statuses: frozenset[int] = frozenset()
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    random: Callable[[], float] = field(default=random.random, compare=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_retry_after < 0:
            raise ValueError("delays must not be negative")

    def backoff(self, retry: int, *, throttled: bool = False) -> float:
        base = self.base_delay
        if throttled and self.throttle_base_delay is not None:
            base = self.throttle_base_delay
        ceiling = float(min(self.max_delay, base * (2**retry)))
        return self.random() * ceiling if self.jitter else ceiling

    def delay_for(self, response: httpx.Response, retry: int, *, throttled: bool) -> float:
        if response.status_code == 429:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            if retry_after is not None:
                return min(retry_after, self.max_retry_after)
        return self.backoff(retry, throttled=throttled)


NO_RETRIES: Final = RetryPolicy(attempts=1)


def new_client(
    *,
    timeout: float,
    connect_timeout: float = 5.0,
    headers: dict[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """A client with a bounded connect and a total per-request ``timeout``.

    Redirects are never followed: an API key header must not travel to another host.
    """
    import httpx

    return httpx.Client(
        timeout=httpx.Timeout(timeout, connect=min(connect_timeout, timeout)),
        headers=headers,
        follow_redirects=False,
        transport=transport,
    )


def may_have_been_sent(error: httpx.HTTPError) -> bool:
    """Whether the request behind ``error`` may have reached the upstream."""
    return not isinstance(error, not_sent_errors())


def default_retryable(response: httpx.Response, *, idempotent: bool) -> bool:
    """429 always; 5xx only for a request that may be repeated."""
    status = response.status_code
    return status == 429 or (idempotent and 500 <= status < 600)


def send(
    client: httpx.Client,
    request: httpx.Request | Callable[[], httpx.Request],
    *,
    policy: RetryPolicy,
    idempotent: bool | None = None,
    retryable: Callable[[httpx.Response], bool] | None = None,
    throttled: Callable[[httpx.Response], bool] | None = None,
    service: str = "upstream",
) -> httpx.Response:
    """Send ``request``, retrying as the module docstring says; see there for what it returns.

    ``request`` may be a function that builds it, called for each attempt (a signed request
    is signed afresh). ``retryable`` replaces the status rule for upstreams that signal
    retryable failures in the body (AWS's 400 ``ThrottlingException``), and ``throttled``
    picks out the answers that wait on ``throttle_base_delay`` (default: a 429); both are
    only asked about answers, not errors.
    """
    build = request if callable(request) else (lambda: request)
    not_sent, maybe_sent = not_sent_errors(), maybe_sent_errors()
    for retry in range(policy.attempts):
        last = retry + 1 == policy.attempts
        attempt = build()
        safe = idempotent if idempotent is not None else attempt.method in IDEMPOTENT_METHODS
        try:
            response = client.send(attempt)
        except not_sent as error:
            if last:
                raise
            problem = type(error).__name__
            delay = policy.backoff(retry)
        except maybe_sent as error:
            if last or not safe:
                raise
            problem = type(error).__name__
            delay = policy.backoff(retry)
        else:
            if response.status_code in policy.no_retry_statuses:
                return response
            wanted = (
                retryable(response)
                if retryable is not None
                else default_retryable(response, idempotent=safe)
            )
            if last or not wanted:
                return response
            response.read()
            response.close()
            problem = f"HTTP {response.status_code}"
            slowed = throttled(response) if throttled is not None else response.status_code == 429
            delay = policy.delay_for(response, retry, throttled=slowed)
        # The path only: query strings and bodies can carry what logs must not.
        log.warning(
            "%s %s %s: %s; retrying in %.2fs",
            service,
            attempt.method,
            attempt.url.path,
            problem,
            delay,
        )
        policy.sleep(delay)
    raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover


def request(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    policy: RetryPolicy,
    idempotent: bool | None = None,
    retryable: Callable[[httpx.Response], bool] | None = None,
    service: str = "upstream",
    **build: Any,
) -> httpx.Response:
    """:func:`send` of ``client.build_request(method, url, **build)``."""
    built = client.build_request(method, url, **build)
    return send(
        client, built, policy=policy, idempotent=idempotent, retryable=retryable, service=service
    )


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        import email.utils

        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The body as a JSON object, or an empty dict when it is anything else."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def redact(text: str, secrets: Collection[str]) -> str:
    """``text`` with every non-empty secret replaced by ``***`` (upstreams echo credentials)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
