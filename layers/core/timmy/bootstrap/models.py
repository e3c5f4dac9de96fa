"""The shapes the bootstrap endpoints answer with."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from timmy.data.bootstrap import BootstrapProgress, BootstrapState
from timmy.data.invoices import Invoice


class BootstrapInvoice(BaseModel):
    payment_request: str = Field(description="BOLT11 invoice to pay")
    payment_hash: str
    amount_sats: int
    expires_at: datetime

    @classmethod
    def of(cls, invoice: Invoice) -> BootstrapInvoice:
        return cls.model_validate(invoice, from_attributes=True)


class BootstrapCreated(BaseModel):
    bootstrap_job_id: str
    state: Literal[BootstrapState.AWAITING_PAYMENT]
    invoice: BootstrapInvoice
    message: str
    next_steps: list[str]


class BootstrapStatus(BaseModel):
    bootstrap_job_id: str
    state: BootstrapState
    message: str
    next_steps: list[str]
    invoice: BootstrapInvoice | None = Field(
        default=None, description="Only while awaiting payment"
    )
    progress: BootstrapProgress | None = Field(
        default=None, description="The step under way (provisioning)"
    )
    node_ip: str | None = None
    tailscale_hostname: str | None = Field(
        default=None, description="The node's name on the tailnet, when it joined one"
    )
    lnbits_url: str | None = Field(default=None, description="Not installed by default: null")
    ssh_private_key: str | None = Field(
        default=None,
        description="OpenSSH private key for root@node: present in exactly one response",
    )
    ssh_key_note: str | None = None
    error_message: str | None = None
    created_at: datetime
    updated_at: datetime
