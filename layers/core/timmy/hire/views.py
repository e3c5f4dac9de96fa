"""What a marketplace caller sees: the peer's field names, plus Timmy's ways out (``Hire``
prefix: OpenAPI merges every function's names)."""

from __future__ import annotations

import base64
from datetime import datetime

from pydantic import BaseModel, Field

from timmy.data.hire import Delivery, Message, Quote, QuoteStatus, Task, TaskStatus


class HireTask(BaseModel):
    id: str
    buyer_account_id: str
    title: str
    description: str
    budget_sats: int
    status: TaskStatus
    quote_count: int
    accepted_quote_id: str | None
    delivered_at: datetime | None
    confirm_deadline: datetime | None = Field(
        description="After a delivery: confirm or dispute before this, or the escrow is released"
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, task: Task) -> HireTask:
        return cls(
            id=task.id,
            buyer_account_id=task.buyer_account_id,
            title=task.title,
            description=task.description,
            budget_sats=task.budget_sats,
            status=task.status,
            quote_count=task.quote_count,
            accepted_quote_id=task.accepted_quote_id,
            delivered_at=task.delivered_at,
            confirm_deadline=task.confirm_deadline,
            created_at=task.created_at,
            updated_at=task.updated_at,
        )


class HireQuote(BaseModel):
    id: str
    task_id: str
    contractor_account_id: str
    price_sats: int
    description: str
    status: QuoteStatus
    message_count: int
    delivery_hours: int
    delivery_deadline: datetime | None = Field(
        description="Set when the quote is accepted: delivery_hours from then"
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, quote: Quote) -> HireQuote:
        return cls(
            id=quote.id,
            task_id=quote.task_id,
            contractor_account_id=quote.contractor_account_id,
            price_sats=quote.price_sats,
            description=quote.description,
            status=quote.status,
            message_count=quote.message_count,
            delivery_hours=quote.delivery_hours,
            delivery_deadline=quote.delivery_deadline,
            created_at=quote.created_at,
            updated_at=quote.updated_at,
        )


class HireDelivery(BaseModel):
    id: str
    task_id: str
    quote_id: str
    contractor_account_id: str
    filename: str
    notes: str
    size_bytes: int
    content_base64: str | None = Field(
        description="The content, for the buyer and the accepted contractor only (else null)"
    )
    created_at: datetime

    @classmethod
    def of(cls, delivery: Delivery, *, with_content: bool) -> HireDelivery:
        return cls(
            id=delivery.id,
            task_id=delivery.task_id,
            quote_id=delivery.quote_id,
            contractor_account_id=delivery.contractor_account_id,
            filename=delivery.filename,
            notes=delivery.notes,
            size_bytes=len(delivery.content),
            content_base64=base64.b64encode(delivery.content).decode() if with_content else None,
            created_at=delivery.created_at,
        )


class HireTaskDetail(HireTask):
    quotes: list[HireQuote] = Field(description="Oldest first")
    deliveries: list[HireDelivery]


class HireTaskList(BaseModel):
    tasks: list[HireTask] = Field(description="Newest first")


class HireMessage(BaseModel):
    id: str
    quote_id: str
    sender_account_id: str
    body: str
    created_at: datetime

    @classmethod
    def of(cls, message: Message) -> HireMessage:
        return cls(
            id=message.id,
            quote_id=message.quote_id,
            sender_account_id=message.sender_account_id,
            body=message.body,
            created_at=message.created_at,
        )


class HireMessageList(BaseModel):
    messages: list[HireMessage] = Field(description="Oldest first")


class HireAccepted(BaseModel):
    task_id: str
    quote_id: str
    status: TaskStatus
    escrowed_sats: int
    delivery_deadline: datetime | None


class HireConfirmed(BaseModel):
    task_id: str
    status: TaskStatus
    released_sats: int
    contractor_account_id: str


class HireSplit(BaseModel):
    task_id: str
    status: TaskStatus
    contractor_sats: int
    buyer_sats: int
