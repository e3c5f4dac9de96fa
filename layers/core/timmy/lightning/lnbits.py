"""A Lightning backend over the LNbits REST API.

Facts this relies on (lnbits/lnbits: core/views/payment_api.py, core/services/payments.py,
exceptions.py):

* Keys go in ``X-Api-Key``; the invoice key creates and checks, only the admin key pays.
* ``POST /api/v1/payments`` creates an invoice only with ``"out": false`` (the default is a
  payment!) and answers 201 with the payment (``payment_hash``, ``bolt11``/``payment_request``).
* ``GET /api/v1/payments/{hash}`` answers ``{"paid": bool, "preimage": ...}``, 404 if unknown.
  LNbits generates the preimage at creation and shows it while the invoice is still pending, so
  only ``paid: true`` proves payment.
* Paying failures come back as 520 ``{"detail", "status"}`` where status ``failed`` means no
  funds moved and ``pending``/``success`` mean the payment is (or was) under way.
* The same ``GET /api/v1/payments/{hash}`` answers for outgoing payments: ``status``
  ``success``/``pending``/``failed`` and, with a key of the wallet, ``details`` whose
  ``amount`` is negative and whose ``fee`` is the (negative) routing plus service fee in msat.
  LNbits records an outgoing payment before it sends it, so a hash it does not know (404) was
  never sent.
* A payment's outcome is unknown once the request may have reached LNbits: a timeout, a
  dropped connection or a 5xx after sending. It is definitely not paid when the connection
  was never made (``httpx.ConnectError``/``ConnectTimeout``: nothing was sent) or LNbits
  refused it (4xx, or 520 ``failed`` with no record of the wallet having paid it).

LNbits' bodies are never passed to callers: the public message of every error here is our own.
Only a refused invoice creation carries LNbits' own reason (its ``detail``, with the keys
redacted) in the error's logged message, because that reason is what an operator needs to fix
it (a webhook origin LNbits does not allow, an amount out of its limits).

Requests go through :mod:`timmy.upstream`: reads are retried on outages; a create or a pay
only when nothing was sent (or LNbits answered 429), and never on LNbits' 520 verdicts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final

import httpx

from timmy import upstream
from timmy.lightning.bolt11 import MAX_DESCRIPTION_BYTES, decode_invoice
from timmy.lightning.checks import (
    check_create_args,
    created_invoice,
    normalise_hash,
    proven_preimage,
)
from timmy.lightning.errors import InvalidInvoice, LightningBadResponse, LightningUnavailable
from timmy.lightning.types import CreatedInvoice, InvoiceStatus, PaymentResult, PaymentState

log = logging.getLogger(__name__)

PAYMENTS_PATH: Final = "/api/v1/payments"
WALLET_PATH: Final = "/api/v1/wallet"  # the key's wallet (id, name, balance): a cheap probe
LNBITS_ERROR_STATUS: Final = 520  # LNbits' PaymentError / InvoiceError responses
_MAX_REASON_CHARS: Final = 300
# Short waits: these calls answer an HTTP request that API Gateway ends after 29 s.
RETRY: Final = upstream.RetryPolicy(
    attempts=2,
    base_delay=0.25,
    max_delay=1.0,
    max_retry_after=2.0,
    no_retry_statuses=frozenset({LNBITS_ERROR_STATUS}),
)


@dataclass(frozen=True, slots=True)
class _Lookup:
    """What ``GET /api/v1/payments/{hash}`` said about one payment hash."""

    paid: bool
    preimage: str | None  # verified against the hash, and only when paid
    outgoing: bool | None  # from ``details.amount`` (negative = sent); None when not shown
    failed: bool  # ``status: "failed"``: LNbits gave the payment up, no funds moved
    fee_sats: int | None  # from ``details.fee`` (msat, rounded up); None when not shown


class LNbitsBackend:
    """:class:`timmy.lightning.types.LightningBackend` implemented with an LNbits wallet."""

    mode = "lnbits"

    def __init__(
        self,
        url: str,
        invoice_key: str,
        admin_key: str | None,
        *,
        client: httpx.Client | None = None,
        timeout: float = 10.0,
        network: str = "bc",
        retry: upstream.RetryPolicy = RETRY,
    ) -> None:
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise ValueError("LNbits url must start with https:// or http://")
        if not isinstance(invoice_key, str) or not invoice_key:
            raise ValueError("LNbits invoice key is required")
        if admin_key is not None and (not isinstance(admin_key, str) or not admin_key):
            raise ValueError("LNbits admin key must be a non-empty string or None")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.network = network
        self._base = url.rstrip("/")
        self._invoice_key = invoice_key
        self._admin_key = admin_key
        self._timeout = timeout
        self._retry = retry
        self._owns_client = client is None
        self._client = client or upstream.new_client(timeout=timeout)

    def __repr__(self) -> str:  # keys stay out of reprs, tracebacks and logs
        return f"LNbitsBackend(url={self._base!r}, admin_key={'set' if self._admin_key else None})"

    @property
    def url(self) -> str:
        """The LNbits base URL, without a trailing slash."""
        return self._base

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    # -- the LightningBackend protocol ---------------------------------------------------

    def create_invoice(
        self, amount_sats: int, memo: str, expiry: int, webhook_url: str | None = None
    ) -> CreatedInvoice:
        """Ask LNbits for a new incoming invoice and check what it returns.

        Raises ValueError for bad arguments, :class:`LightningUnavailable` when LNbits cannot
        be reached, fails or rejects the key, :class:`LightningBadResponse` when it refuses the
        invoice or answers with anything we cannot verify.
        """
        check_create_args(
            amount_sats, memo, expiry, webhook_url, max_memo_bytes=MAX_DESCRIPTION_BYTES
        )
        body: dict[str, Any] = {
            "out": False,  # LNbits defaults to out=true, which would *pay* instead
            "amount": amount_sats,
            "unit": "sat",
            "memo": memo,
            "expiry": expiry,
        }
        if webhook_url is not None:
            body["webhook"] = webhook_url
        response = self._request("POST", PAYMENTS_PATH, self._invoice_key, json_body=body)
        if response.status_code >= 500 and response.status_code != LNBITS_ERROR_STATUS:
            raise LightningUnavailable(
                f"LNbits failed to create an invoice (HTTP {response.status_code})"
            )
        if response.status_code == LNBITS_ERROR_STATUS:
            # InvoiceError: "pending" means the funding node failed; "failed" is a refusal.
            if _json_object(response).get("status") == "failed":
                raise LightningBadResponse(self._refusal(response))
            raise LightningUnavailable("LNbits' Lightning node could not create the invoice")
        if response.status_code in (401, 403):
            raise LightningUnavailable("LNbits rejected the invoice key")
        if response.status_code not in (200, 201):
            raise LightningBadResponse(self._refusal(response))
        body = _json_object(response)
        return created_invoice(
            "LNbits",
            body.get("payment_hash"),
            body.get("payment_request") or body.get("bolt11"),
            amount_sats,
        )

    def check(self, payment_hash: str) -> InvoiceStatus:
        """Whether LNbits has settled ``payment_hash`` for this wallet.

        Unknown hashes are simply not paid. Raises :class:`InvalidInvoice` for a malformed
        hash, :class:`LightningUnavailable` when LNbits cannot answer.
        """
        lookup = self._lookup(normalise_hash(payment_hash))
        if lookup is None:
            return InvoiceStatus(paid=False, preimage=None)
        return InvoiceStatus(paid=lookup.paid, preimage=lookup.preimage)

    def pay(self, bolt11: str) -> PaymentResult:
        """Pay ``bolt11`` from the wallet with the admin key; never raises for an outcome.

        PAID (with a verified preimage when LNbits shows one, and the fee when it says),
        PENDING when the payment is in flight or its outcome is unknown, FAILED when no money
        can have moved: the admin key is missing, LNbits was never reached, or it refused the
        payment and has no record of having paid it. Raises :class:`InvalidInvoice` (checked
        locally, before anything is sent). The invoice and admin keys must belong to the same
        wallet: outcomes are confirmed with the invoice key.
        """
        decoded = decode_invoice(bolt11)
        if decoded.amount_msat is None:
            raise InvalidInvoice("invoice has no amount")
        if decoded.is_expired():
            raise InvalidInvoice("invoice has expired")
        payment_hash = decoded.payment_hash
        failed = PaymentResult(payment_hash=payment_hash, state=PaymentState.FAILED)
        if self._admin_key is None:
            log.error("paying needs the LNbits admin key, which is not set")
            return failed

        # The bare lower-case form: LNbits compares it verbatim against its own invoices.
        body = {"out": True, "bolt11": decoded.bolt11}
        try:
            response = self._send("POST", PAYMENTS_PATH, self._admin_key, json_body=body)
        except (httpx.ConnectError, httpx.ConnectTimeout):
            log.warning("LNbits could not be reached to pay: nothing was sent")
            return failed
        except httpx.HTTPError as exc:
            # Sent (or partly sent) and no answer: LNbits may be paying it right now.
            log.warning("LNbits pay call lost its answer: %s", type(exc).__name__)
            return PaymentResult(payment_hash=payment_hash, state=PaymentState.PENDING)
        status = response.status_code
        if status in (200, 201):
            return self._payment_result(_json_object(response), payment_hash)
        if status == LNBITS_ERROR_STATUS:
            outcome = _json_object(response).get("status")
            if outcome == "failed":
                return self._confirm_failure(payment_hash)
            # "pending": in flight or an earlier attempt still running; "success": paid before.
            return self._settled_or_pending(payment_hash)
        if status >= 500:
            return PaymentResult(payment_hash=payment_hash, state=PaymentState.PENDING)
        # 4xx (the key rejected included): LNbits refused before paying anything.
        return self._confirm_failure(payment_hash)

    def check_payment(self, payment_hash: str) -> PaymentResult:
        """What LNbits knows of an outgoing payment of ``payment_hash``.

        UNKNOWN when LNbits has no outgoing payment of that hash (it was never sent). Raises
        :class:`InvalidInvoice` for a malformed hash, :class:`LightningUnavailable` when LNbits
        cannot answer.
        """
        payment_hash = normalise_hash(payment_hash)
        lookup = self._lookup(payment_hash)
        if lookup is None or lookup.outgoing is False:
            return PaymentResult(payment_hash=payment_hash, state=PaymentState.UNKNOWN)
        if lookup.paid:
            return PaymentResult(
                payment_hash=payment_hash,
                state=PaymentState.PAID,
                preimage=lookup.preimage,
                fee_sats=lookup.fee_sats,
            )
        if lookup.failed:
            return PaymentResult(payment_hash=payment_hash, state=PaymentState.FAILED)
        return PaymentResult(payment_hash=payment_hash, state=PaymentState.PENDING)

    def reachable(self, timeout_seconds: float) -> bool:
        """Whether LNbits answers ``GET /api/v1/wallet`` with our invoice key (health check)."""
        try:
            response = self._request(
                "GET",
                WALLET_PATH,
                self._invoice_key,
                timeout=min(timeout_seconds, self._timeout),
                retry=upstream.NO_RETRIES,  # a probe bounded by its timeout: one attempt
            )
        except LightningUnavailable:
            return False
        return response.status_code == 200

    # -- internals -------------------------------------------------------------------------

    def _refusal(self, response: httpx.Response) -> str:
        """Why LNbits refused an invoice, in its own words (keys redacted), for the logs."""
        message = f"LNbits refused to create the invoice (HTTP {response.status_code})"
        reason = _reason(_json_object(response).get("detail"))
        if reason:
            secrets = (self._invoice_key, self._admin_key or "")
            message += f": {upstream.redact(reason, secrets)[:_MAX_REASON_CHARS]}"
        return message

    def _payment_result(self, body: dict[str, Any], payment_hash: str) -> PaymentResult:
        """A 201 from a pay call: settled (with its proof and fee), or in flight."""
        returned_hash = body.get("payment_hash")
        if isinstance(returned_hash, str) and returned_hash.lower() != payment_hash:
            # Not what we asked to pay: believe only the wallet's record of our hash.
            log.error("LNbits reported paying a different payment hash")
            return self._settled_or_pending(payment_hash)
        if body.get("status") != "success":
            # In flight, or an LNbits that answers only {payment_hash, checking_id}.
            return self._settled_or_pending(payment_hash)
        return PaymentResult(
            payment_hash=payment_hash,
            state=PaymentState.PAID,
            preimage=proven_preimage(body.get("preimage"), payment_hash),
            fee_sats=_fee_sats(body.get("fee")),
        )

    def _confirm_failure(self, payment_hash: str) -> PaymentResult:
        """Report a failure only if the wallet has not in fact paid this hash already.

        LNbits answers "Internal invoice already paid." (status failed) to a retry of an
        internal payment that succeeded, so a failure is confirmed before it is believed; if
        the confirmation cannot be had, the outcome is unknown.
        """
        return self._settled_or(payment_hash, PaymentState.FAILED)

    def _settled_or_pending(self, payment_hash: str) -> PaymentResult:
        return self._settled_or(payment_hash, PaymentState.PENDING)

    def _settled_or(self, payment_hash: str, otherwise: PaymentState) -> PaymentResult:
        """Paid if the wallet's record of the hash says so; unknown (pending) if it cannot be
        read; else ``otherwise``."""
        try:
            lookup = self._lookup(payment_hash)
        except (LightningUnavailable, LightningBadResponse):
            return PaymentResult(payment_hash=payment_hash, state=PaymentState.PENDING)
        if lookup is not None and lookup.paid and lookup.outgoing is not False:
            return PaymentResult(
                payment_hash=payment_hash,
                state=PaymentState.PAID,
                preimage=lookup.preimage,
                fee_sats=lookup.fee_sats,
            )
        return PaymentResult(payment_hash=payment_hash, state=otherwise)

    def _lookup(self, payment_hash: str) -> _Lookup | None:
        """The wallet's view of one payment hash; None when LNbits does not know it."""
        response = self._request("GET", f"{PAYMENTS_PATH}/{payment_hash}", self._invoice_key)
        status = response.status_code
        if status == 404:
            return None
        if status >= 500:
            raise LightningUnavailable(f"LNbits failed to check a payment (HTTP {status})")
        if status in (401, 403):
            raise LightningUnavailable("LNbits rejected the invoice key")
        if status != 200:
            raise LightningBadResponse(f"LNbits could not check the payment (HTTP {status})")
        body = _json_object(response)
        # Only a JSON true counts: the preimage exists (and is shown) before payment.
        paid = body.get("paid") is True
        details = body.get("details")
        outgoing: bool | None = None
        fee_sats: int | None = None
        if isinstance(details, dict):
            if isinstance(details.get("amount"), int):
                outgoing = details["amount"] < 0
            fee_sats = _fee_sats(details.get("fee"))
        return _Lookup(
            paid=paid,
            preimage=proven_preimage(body.get("preimage"), payment_hash) if paid else None,
            outgoing=outgoing,
            failed=not paid and body.get("status") == "failed",
            fee_sats=fee_sats,
        )

    def _request(
        self,
        method: str,
        path: str,
        key: str,
        *,
        json_body: dict[str, Any] | None = None,
        timeout: float | None = None,
        retry: upstream.RetryPolicy | None = None,
    ) -> httpx.Response:
        try:
            return self._send(method, path, key, json_body=json_body, timeout=timeout, retry=retry)
        except httpx.TimeoutException:
            log.warning("LNbits %s %s timed out", method, path)
            raise LightningUnavailable("LNbits did not answer in time") from None
        except httpx.HTTPError as exc:
            log.warning("LNbits %s %s failed: %s", method, path, type(exc).__name__)
            raise LightningUnavailable("LNbits could not be reached") from None

    def _send(
        self,
        method: str,
        path: str,
        key: str,
        *,
        json_body: dict[str, Any] | None = None,
        timeout: float | None = None,
        retry: upstream.RetryPolicy | None = None,
    ) -> httpx.Response:
        """One request, retried by :func:`timmy.upstream.send` (a POST only when nothing was
        sent); httpx's own errors propagate (the caller knows what they mean)."""
        response = upstream.request(
            self._client,
            method,
            f"{self._base}{path}",
            policy=self._retry if retry is None else retry,
            service="LNbits",
            headers={"X-Api-Key": key, "Accept": "application/json"},
            json=json_body,
            timeout=self._timeout if timeout is None else timeout,
        )
        if response.status_code >= 400:
            log.warning("LNbits %s %s answered HTTP %s", method, path, response.status_code)
        return response


_json_object = upstream.json_object


def _reason(detail: object) -> str:
    """LNbits' ``detail``: a sentence, or FastAPI's list of validation errors (``msg`` each)."""
    if isinstance(detail, str):
        return " ".join(detail.split())
    if isinstance(detail, list):
        messages = [item.get("msg") for item in detail if isinstance(item, dict)]
        return "; ".join(" ".join(m.split()) for m in messages if isinstance(m, str))
    return ""


def _fee_sats(fee_msat: object) -> int | None:
    """LNbits' fee (msat, negative on outgoing payments) as whole sats, rounded up."""
    if isinstance(fee_msat, bool) or not isinstance(fee_msat, int):
        return None
    return -(-abs(fee_msat) // 1000)
