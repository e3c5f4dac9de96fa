"""A Lightning backend over phoenixd's HTTP API (the peer's node).

Facts this relies on (ACINQ/phoenixd: Api.kt, json/JsonSerializers.kt):

* HTTP basic auth with an empty user and the http-password (a 401 otherwise). Requests are
  forms, answers JSON.
* ``POST /createinvoice`` (``description``, ``amountSat``, ``expirySeconds``, ``externalId``,
  ``webhookUrl``) → ``{amountSat, paymentHash, serialized}``. ``expirySeconds`` defaults to an
  hour, so it is always sent. Descriptions over 128 characters are refused (400).
* ``GET /payments/incoming/{paymentHash}`` → ``{isPaid, preimage, receivedSat, ...}``, 404 if
  unknown. The preimage is shown before payment: only ``isPaid: true`` proves it.
* ``POST /payinvoice`` (``invoice``; ``amountSat`` would override the invoice's amount, so it is
  never sent) waits for the outcome and answers **HTTP 200 either way**:
  ``{recipientAmountSat, routingFeeSat, paymentId, paymentHash, paymentPreimage}`` when paid,
  ``{paymentHash, reason}`` when the payment failed (no money moved). A client that only looks
  at the status reports failed payouts as paid: the peer's bug.
* ``GET /payments/outgoingbyhash/{paymentHash}`` → ``{paymentId, paymentHash, preimage, isPaid,
  sent, fees, completedAt, ...}`` (``fees`` in msat), 404 when phoenixd never recorded the
  payment. ``completedAt`` is set once the payment is final, paid or failed (older phoenixd
  versions also set ``isPaid`` on failures, so a payment counts as paid only with a preimage
  that hashes to the payment hash).
* ``GET /getinfo`` → the node id and channels: the health probe.

A pay call's outcome is unknown once the request may have reached phoenixd (a timeout, a
dropped connection, a 5xx): PENDING, for :meth:`check_payment` to settle later. It is
definitely not paid when the connection was never made or phoenixd answered with a failure
(``reason``) or refused the request (4xx) and has no record of a successful payment.

Requests go through :mod:`timmy.upstream`: reads are retried on outages, a create or a pay only
when nothing was sent (or phoenixd answered 429). phoenixd's bodies never reach callers.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from typing import Any, Final

import httpx

from timmy import upstream
from timmy.lightning.bolt11 import decode_invoice
from timmy.lightning.checks import (
    check_create_args,
    created_invoice,
    is_int,
    normalise_hash,
    proven_preimage,
)
from timmy.lightning.errors import InvalidInvoice, LightningBadResponse, LightningUnavailable
from timmy.lightning.types import CreatedInvoice, InvoiceStatus, PaymentResult, PaymentState

log = logging.getLogger(__name__)

MAX_DESCRIPTION_CHARS: Final = 128  # phoenixd refuses longer descriptions
_MAX_REASON_CHARS: Final = 300
# Short waits: these calls answer an HTTP request that API Gateway ends after 29 s.
RETRY: Final = upstream.RetryPolicy(attempts=2, base_delay=0.25, max_delay=1.0, max_retry_after=2.0)


@dataclass(frozen=True, slots=True)
class _Outgoing:
    """What ``GET /payments/outgoingbyhash/{hash}`` said about one outgoing payment."""

    paid: bool  # settled, with a preimage that hashes to the payment hash
    preimage: str | None
    final: bool  # completedAt is set: paid, or failed for good
    fee_sats: int | None  # ``fees`` (msat) rounded up


class PhoenixdBackend:
    """:class:`timmy.lightning.types.LightningBackend` implemented with a phoenixd node."""

    mode = "phoenixd"

    def __init__(
        self,
        url: str,
        password: str,
        *,
        client: httpx.Client | None = None,
        timeout: float = 10.0,
        network: str = "bc",
        retry: upstream.RetryPolicy = RETRY,
    ) -> None:
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise ValueError("phoenixd url must start with https:// or http://")
        if not isinstance(password, str) or not password:
            raise ValueError("phoenixd password is required")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.network = network
        self._base = url.rstrip("/")
        self._password = password
        self._auth = "Basic " + base64.b64encode(f":{password}".encode()).decode("ascii")
        self._timeout = timeout
        self._retry = retry
        self._owns_client = client is None
        self._client = client or upstream.new_client(timeout=timeout)

    def __repr__(self) -> str:  # the password stays out of reprs, tracebacks and logs
        return f"PhoenixdBackend(url={self._base!r})"

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    # -- the LightningBackend protocol ---------------------------------------------------

    def create_invoice(
        self, amount_sats: int, memo: str, expiry: int, webhook_url: str | None = None
    ) -> CreatedInvoice:
        """Ask phoenixd for a new invoice and check what it returns.

        Raises ValueError for bad arguments, :class:`LightningUnavailable` when phoenixd cannot
        be reached, fails or rejects the password, :class:`LightningBadResponse` when it
        refuses the invoice or answers with anything we cannot verify.
        """
        check_create_args(amount_sats, memo, expiry, webhook_url)
        form = {
            # A longer memo would be refused outright; a shortened one still says what it is.
            "description": memo[:MAX_DESCRIPTION_CHARS],
            "amountSat": str(amount_sats),
            "expirySeconds": str(expiry),  # phoenixd's default is an hour, not ours
        }
        if webhook_url is not None:
            form["webhookUrl"] = webhook_url
        response = self._request("POST", "/createinvoice", form=form)
        status = response.status_code
        if status >= 500:
            raise LightningUnavailable(f"phoenixd failed to create an invoice (HTTP {status})")
        if status in (401, 403):
            raise LightningUnavailable("phoenixd rejected the password")
        if status != 200:
            raise LightningBadResponse(self._refusal(response))
        body = upstream.json_object(response)
        if body.get("amountSat", amount_sats) != amount_sats:
            raise LightningBadResponse("phoenixd returned an invoice for a different amount")
        return created_invoice(
            "phoenixd", body.get("paymentHash"), body.get("serialized"), amount_sats
        )

    def check(self, payment_hash: str) -> InvoiceStatus:
        """Whether phoenixd has received ``payment_hash``; unknown hashes are not paid.

        Raises :class:`InvalidInvoice` for a malformed hash, :class:`LightningUnavailable` when
        phoenixd cannot answer, :class:`LightningBadResponse` for an answer we cannot use.
        """
        payment_hash = normalise_hash(payment_hash)
        response = self._request("GET", f"/payments/incoming/{payment_hash}")
        if response.status_code == 404:
            return InvoiceStatus(paid=False, preimage=None)
        body = self._read_answer(response, "check an invoice")
        if body.get("isPaid") is not True:  # only a JSON true: the preimage exists before
            return InvoiceStatus(paid=False, preimage=None)
        requested, received = body.get("requestedSat"), body.get("receivedSat")
        if is_int(requested) and is_int(received) and received < requested:
            log.error("phoenixd reports an invoice paid with less than it asked")
            return InvoiceStatus(paid=False, preimage=None)
        return InvoiceStatus(
            paid=True, preimage=proven_preimage(body.get("preimage"), payment_hash)
        )

    def pay(self, bolt11: str) -> PaymentResult:
        """Pay ``bolt11``; never raises for an outcome (see the module docstring).

        Raises :class:`InvalidInvoice` (checked locally, before anything is sent).
        """
        decoded = decode_invoice(bolt11)
        if decoded.amount_msat is None:
            raise InvalidInvoice("invoice has no amount")
        if decoded.is_expired():
            raise InvalidInvoice("invoice has expired")
        payment_hash = decoded.payment_hash
        try:
            response = self._send("POST", "/payinvoice", form={"invoice": decoded.bolt11})
        except (httpx.ConnectError, httpx.ConnectTimeout):
            log.warning("phoenixd could not be reached to pay: nothing was sent")
            return PaymentResult(payment_hash=payment_hash, state=PaymentState.FAILED)
        except httpx.HTTPError as exc:
            # Sent and no answer: phoenixd may be paying it right now.
            log.warning("phoenixd pay call lost its answer: %s", type(exc).__name__)
            return PaymentResult(payment_hash=payment_hash, state=PaymentState.PENDING)
        status = response.status_code
        if status >= 500:
            return PaymentResult(payment_hash=payment_hash, state=PaymentState.PENDING)
        if status in (401, 403):
            # Refused at the door: this request paid nothing (and the record cannot be read).
            log.error("phoenixd rejected the password: nothing was paid")
            return PaymentResult(payment_hash=payment_hash, state=PaymentState.FAILED)
        if status != 200:
            # Refused before paying (a bad parameter, throttled): the node's record decides.
            log.warning("phoenixd refused to pay (HTTP %s)", status)
            return self._settled_or(payment_hash, PaymentState.FAILED)
        body = upstream.json_object(response)
        if "reason" in body:
            # HTTP 200 with a reason is phoenixd's PaymentFailed. Its "already paid" is a
            # failure of this attempt only, so the node's record decides.
            log.warning("phoenixd could not pay: %s", self._redacted(body.get("reason")))
            return self._settled_or(payment_hash, PaymentState.FAILED)
        returned = body.get("paymentHash")
        preimage = proven_preimage(body.get("paymentPreimage"), payment_hash)
        if not isinstance(returned, str) or returned.lower() != payment_hash or preimage is None:
            # Not a proof of paying our hash: believe only the node's record of it.
            log.error("phoenixd answered a pay call without a proof of paying the invoice")
            return self._settled_or(payment_hash, PaymentState.PENDING)
        fee = _sats(body.get("routingFeeSat"))
        # routingFeeSat is truncated to whole sats; the record holds the exact msat.
        recorded = self._settled_or(payment_hash, PaymentState.PENDING)
        if recorded.state == PaymentState.PAID and recorded.fee_sats is not None:
            fee = recorded.fee_sats
        return PaymentResult(
            payment_hash=payment_hash, state=PaymentState.PAID, preimage=preimage, fee_sats=fee
        )

    def check_payment(self, payment_hash: str) -> PaymentResult:
        """What phoenixd knows of an outgoing payment of ``payment_hash``.

        UNKNOWN when phoenixd has no record of it. Raises :class:`InvalidInvoice` for a
        malformed hash, :class:`LightningUnavailable` when phoenixd cannot answer.
        """
        payment_hash = normalise_hash(payment_hash)
        outgoing = self._outgoing(payment_hash)
        if outgoing is None:
            return PaymentResult(payment_hash=payment_hash, state=PaymentState.UNKNOWN)
        if outgoing.paid:
            return PaymentResult(
                payment_hash=payment_hash,
                state=PaymentState.PAID,
                preimage=outgoing.preimage,
                fee_sats=outgoing.fee_sats,
            )
        if outgoing.final:
            return PaymentResult(payment_hash=payment_hash, state=PaymentState.FAILED)
        return PaymentResult(payment_hash=payment_hash, state=PaymentState.PENDING)

    def reachable(self, timeout_seconds: float) -> bool:
        """Whether phoenixd answers ``GET /getinfo`` with our password (health check)."""
        try:
            response = self._request(
                "GET",
                "/getinfo",
                timeout=min(timeout_seconds, self._timeout),
                retry=upstream.NO_RETRIES,  # a probe bounded by its timeout: one attempt
            )
        except LightningUnavailable:
            return False
        return response.status_code == 200

    # -- internals -------------------------------------------------------------------------

    def _settled_or(self, payment_hash: str, otherwise: PaymentState) -> PaymentResult:
        """PAID if the node's record says so; PENDING if it cannot be read; else ``otherwise``."""
        try:
            outgoing = self._outgoing(payment_hash)
        except (LightningUnavailable, LightningBadResponse):
            return PaymentResult(payment_hash=payment_hash, state=PaymentState.PENDING)
        if outgoing is not None and outgoing.paid:
            return PaymentResult(
                payment_hash=payment_hash,
                state=PaymentState.PAID,
                preimage=outgoing.preimage,
                fee_sats=outgoing.fee_sats,
            )
        return PaymentResult(payment_hash=payment_hash, state=otherwise)

    def _outgoing(self, payment_hash: str) -> _Outgoing | None:
        response = self._request("GET", f"/payments/outgoingbyhash/{payment_hash}")
        if response.status_code == 404:
            return None
        body = self._read_answer(response, "check a payment")
        preimage = proven_preimage(body.get("preimage"), payment_hash)
        if body.get("isPaid") is True and preimage is None:
            log.warning("phoenixd marks a payment paid without a matching preimage")
        fees = body.get("fees")
        return _Outgoing(
            paid=body.get("isPaid") is True and preimage is not None,
            preimage=preimage,
            final=body.get("completedAt") is not None,
            fee_sats=-(-fees // 1000) if is_int(fees) and fees >= 0 else None,
        )

    def _read_answer(self, response: httpx.Response, what: str) -> dict[str, Any]:
        status = response.status_code
        if status >= 500:
            raise LightningUnavailable(f"phoenixd failed to {what} (HTTP {status})")
        if status in (401, 403):
            raise LightningUnavailable("phoenixd rejected the password")
        if status != 200:
            raise LightningBadResponse(f"phoenixd could not {what} (HTTP {status})")
        body = upstream.json_object(response)
        if not body:
            raise LightningBadResponse(f"phoenixd answered nonsense when asked to {what}")
        return body

    def _redacted(self, text: object) -> str:
        if not isinstance(text, str):
            return ""
        return upstream.redact(" ".join(text.split()), (self._password,))[:_MAX_REASON_CHARS]

    def _refusal(self, response: httpx.Response) -> str:
        """Why phoenixd refused an invoice, in its own words (the password redacted)."""
        message = f"phoenixd refused to create the invoice (HTTP {response.status_code})"
        reason = self._redacted(response.text)
        return f"{message}: {reason}" if reason else message

    def _request(
        self,
        method: str,
        path: str,
        *,
        form: dict[str, str] | None = None,
        timeout: float | None = None,
        retry: upstream.RetryPolicy | None = None,
    ) -> httpx.Response:
        try:
            return self._send(method, path, form=form, timeout=timeout, retry=retry)
        except httpx.TimeoutException:
            log.warning("phoenixd %s %s timed out", method, path)
            raise LightningUnavailable("phoenixd did not answer in time") from None
        except httpx.HTTPError as exc:
            log.warning("phoenixd %s %s failed: %s", method, path, type(exc).__name__)
            raise LightningUnavailable("phoenixd could not be reached") from None

    def _send(
        self,
        method: str,
        path: str,
        *,
        form: dict[str, str] | None = None,
        timeout: float | None = None,
        retry: upstream.RetryPolicy | None = None,
    ) -> httpx.Response:
        """One request through :func:`timmy.upstream.request`; httpx's errors propagate."""
        response = upstream.request(
            self._client,
            method,
            f"{self._base}{path}",
            policy=self._retry if retry is None else retry,
            service="phoenixd",
            headers={"Authorization": self._auth, "Accept": "application/json"},
            data=form,
            timeout=self._timeout if timeout is None else timeout,
        )
        if response.status_code >= 400:
            log.warning("phoenixd %s %s answered HTTP %s", method, path, response.status_code)
        return response


def _sats(value: object) -> int | None:
    return value if is_int(value) and value >= 0 else None
