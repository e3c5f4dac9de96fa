"""The Lightning capability's errors, raised by every backend (LNbits, phoenixd, the local stub)."""

from __future__ import annotations

from timmy.errors import BadRequest, Unauthorized, UpstreamBadGateway, UpstreamUnavailable


class LightningUnavailable(UpstreamUnavailable):
    """The Lightning backend could not be reached or failed; nothing changed, retry later."""

    code = "lightning_unavailable"


class LightningBadResponse(UpstreamBadGateway):
    """The Lightning backend answered with something we cannot trust or use."""

    code = "lightning_bad_response"


class InvalidInvoice(BadRequest):
    """A BOLT11 string (or payment hash) that is malformed, unsigned or unsupported."""

    code = "invalid_invoice"


class PaymentFailed(UpstreamBadGateway):
    """The backend definitely did not pay the invoice (no funds moved)."""

    code = "payment_failed"


class InvalidWebhookSignature(Unauthorized):
    """A webhook without the backend's valid signature (phoenixd's ``X-Phoenix-Signature``)."""

    code = "invalid_signature"
