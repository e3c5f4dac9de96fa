"""A small client for AWS JSON-protocol APIs (Step Functions), signed with SigV4.

Importing boto3 costs about 250 ms of a Lambda cold start; the handlers that start a workflow
or resume one need only two or three Step Functions calls, so they make them with this client
over httpx (already loaded) instead. It is tested against botocore's own signer and a moto
server reached over HTTP.

Retries are botocore's "standard" mode, through :mod:`timmy.upstream`: at most 3 attempts;
retried are connection errors and lost answers, HTTP 500/502/503/504, and the throttling and
transient error codes botocore knows (``ThrottlingException`` and its kin); the wait before
retry ``i`` is ``rand(0, 1) * min(base * 2**i, 20 s)`` with ``base`` 1 s after throttling and
50 ms otherwise. (botocore's process-wide retry quota is left out: a Lambda container serves
one event at a time and makes a handful of calls.) Each attempt is signed afresh.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from timmy import upstream

_ALGORITHM = "AWS4-HMAC-SHA256"
_CONTENT_TYPE = "application/x-amz-json-1.0"

# botocore.retries.standard: ThrottledRetryableChecker and TransientRetryableChecker.
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
TRANSIENT_CODES = frozenset(
    {"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete"}
)
TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})

STANDARD_RETRY = upstream.RetryPolicy(
    attempts=3, base_delay=0.05, throttle_base_delay=1.0, max_delay=20.0, jitter=True
)


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    token: str | None = None

    @classmethod
    def from_environment(cls) -> Credentials:
        """The credentials Lambda puts in every function's environment."""
        return cls(
            os.environ["AWS_ACCESS_KEY_ID"],
            os.environ["AWS_SECRET_ACCESS_KEY"],
            os.environ.get("AWS_SESSION_TOKEN") or None,
        )


class AwsApiError(Exception):
    """An error answer from the API; ``response`` has botocore's shape for ``Error.Code``."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.status = status
        self.response = {"Error": {"Code": code, "Message": message}}


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def sign(
    *,
    credentials: Credentials,
    region: str,
    service: str,
    host: str,
    headers: dict[str, str],
    body: bytes,
    now: dt.datetime,
) -> dict[str, str]:
    """The headers of a SigV4-signed ``POST /`` with ``body`` (``headers`` included)."""
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    date = amz_date[:8]
    signed = {**{k.lower(): v.strip() for k, v in headers.items()}, "host": host}
    signed["x-amz-date"] = amz_date
    if credentials.token:
        signed["x-amz-security-token"] = credentials.token
    names = sorted(signed)
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",
            "".join(f"{name}:{signed[name]}\n" for name in names),
            ";".join(names),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        [_ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = _hmac(("AWS4" + credentials.secret_key).encode(), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    signed["authorization"] = (
        f"{_ALGORITHM} Credential={credentials.access_key}/{scope},"
        f" SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return signed


class AwsJsonClient:
    """``call(operation, payload)`` for one AWS JSON 1.0 service, e.g. Step Functions."""

    def __init__(
        self,
        *,
        service: str,
        target_prefix: str,
        region: str,
        endpoint: str | None = None,
        credentials: Callable[[], Credentials] = Credentials.from_environment,
        client: httpx.Client | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        retry: upstream.RetryPolicy = STANDARD_RETRY,
    ) -> None:
        self._service = service
        self._target_prefix = target_prefix
        self._region = region
        self._endpoint = (endpoint or f"https://{service}.{region}.amazonaws.com").rstrip("/")
        self._host = httpx.URL(self._endpoint).netloc.decode()
        self._credentials = credentials
        self._client = client or upstream.new_client(timeout=10.0, connect_timeout=3.0)
        self._clock = clock
        self._retry = retry

    def call(self, operation: str, payload: dict[str, Any]) -> dict[str, Any]:
        """The operation's answer; raises :class:`AwsApiError` for an error answer (after the
        retries above) and httpx's error when the endpoint could not be reached."""
        body = json.dumps(payload, separators=(",", ":")).encode()

        def signed() -> httpx.Request:
            headers = sign(
                credentials=self._credentials(),
                region=self._region,
                service=self._service,
                host=self._host,
                headers={
                    "content-type": _CONTENT_TYPE,
                    "x-amz-target": f"{self._target_prefix}.{operation}",
                },
                body=body,
                now=self._clock(),
            )
            return self._client.build_request(
                "POST", self._endpoint + "/", content=body, headers=headers
            )

        # As botocore does, every operation is retried, lost answers included: the calls made
        # here are idempotent (an execution is started by name; a task is resumed at most once).
        response = upstream.send(
            self._client,
            signed,
            policy=self._retry,
            idempotent=True,
            retryable=_retryable,
            throttled=_throttled,
            service=self._service,
        )
        if response.status_code >= 400:
            raise AwsApiError(_error_code(response), _error_message(response), response.status_code)
        return response.json() if response.content else {}


def _error_code(response: httpx.Response) -> str:
    # "__type" may carry a namespace: "com.amazonaws...#TaskDoesNotExist".
    answer = upstream.json_object(response)
    return str(answer.get("__type", f"HTTP{response.status_code}")).rsplit("#", 1)[-1]


def _error_message(response: httpx.Response) -> str:
    answer = upstream.json_object(response)
    return str(answer.get("message") or answer.get("Message") or "")


def _throttled(response: httpx.Response) -> bool:
    return response.status_code == 429 or _error_code(response) in THROTTLING_CODES


def _retryable(response: httpx.Response) -> bool:
    if response.status_code < 400:
        return False
    if response.status_code in TRANSIENT_STATUSES:
        return True
    code = _error_code(response)
    return code in THROTTLING_CODES or code in TRANSIENT_CODES
