"""A small client for AWS JSON-protocol APIs (Step Functions), signed with SigV4.

Importing boto3 costs about 250 ms of a Lambda cold start; the handlers that start a workflow
or resume one need only two or three Step Functions calls, so in Lambda they make them with
this client over httpx (already loaded) instead. Locally and in tests boto3 is used, so that
moto serves the calls; this client is tested against botocore's own signer and a moto server.
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

_ALGORITHM = "AWS4-HMAC-SHA256"
_CONTENT_TYPE = "application/x-amz-json-1.0"


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
    ) -> None:
        self._service = service
        self._target_prefix = target_prefix
        self._region = region
        self._endpoint = (endpoint or f"https://{service}.{region}.amazonaws.com").rstrip("/")
        self._host = httpx.URL(self._endpoint).netloc.decode()
        self._credentials = credentials
        self._client = client or httpx.Client(timeout=httpx.Timeout(10.0, connect=3.0))
        self._clock = clock

    def call(self, operation: str, payload: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(payload, separators=(",", ":")).encode()
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
        response = self._client.post(self._endpoint + "/", content=body, headers=headers)
        answer: dict[str, Any] = response.json() if response.content else {}
        if response.status_code >= 400:
            # "__type" may carry a namespace: "com.amazonaws...#TaskDoesNotExist".
            code = str(answer.get("__type", f"HTTP{response.status_code}")).rsplit("#", 1)[-1]
            message = str(answer.get("message") or answer.get("Message") or "")
            raise AwsApiError(code, message, response.status_code)
        return answer
