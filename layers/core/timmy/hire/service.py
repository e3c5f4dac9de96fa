"""The marketplace's operations: one function per route, each its checks then one transaction.

Order of checks on every route: the body was validated (400) → credentials (401, or 402 for
a paid POST without any) → the task and quote exist (404) → the caller's role (403) → the
state (409) → money (402). Every state change is a conditional update (:mod:`timmy.data.hire`)
in the transaction that moves the money, so a timer racing a click, or replayed clicks, move
it once; the loser gets 409 ``invalid_state``.

Decisions beyond the peer:

* A buyer may not quote their own task (403 ``forbidden``): a quote is an offer to someone else,
  and a self-quote could only churn fees and fake activity.
* Fees are not refunded when a task is cancelled or a quote is rejected or withdrawn: they paid
  for posting, as with the peer.
* The delivery deadline of an accepted quote is ``delivery_hours`` after the accept. At the
  deadline the workflow refunds the escrow to the buyer if nothing was delivered (automatic, so
  no buyer has to come back); the buyer may also cancel then (the same refund, for a workflow
  that was lost). A delivery after the deadline is refused (409).
* After a delivery the buyer has the confirm window (``HIRE_CONFIRM_WINDOW_SECONDS``) to
  confirm or dispute; silence releases the escrow to the contractor. A dispute freezes the
  escrow until an operator splits it (an IAM-authorised route).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import math
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from timmy import orchestrator
from timmy.accounts.service import authenticate
from timmy.data import accounts
from timmy.data import hire as data
from timmy.data.accounts import Account, LedgerReason
from timmy.data.hire import EscrowReason, QuoteStatus, Task, TaskStatus
from timmy.data.l402 import L402LedgerReason
from timmy.db.connection import Db, transaction
from timmy.hire.errors import (
    HireForbidden,
    HireInsufficientBalance,
    HireNotFound,
    InvalidContent,
    InvalidState,
    PriceChanged,
    TooLarge,
)
from timmy.hire.fees import fees
from timmy.hire.payment import QUOTE_ROUTE, TASK_ROUTE, refusal, topup_url
from timmy.hire.settings import hire_settings
from timmy.hire.views import (
    HireAccepted,
    HireConfirmed,
    HireDelivery,
    HireMessage,
    HireMessageList,
    HireQuote,
    HireSplit,
    HireTask,
    HireTaskDetail,
    HireTaskList,
)
from timmy.l402 import service as l402
from timmy.l402.errors import CredentialUnusable
from timmy.l402.service import Credential
from timmy.observability import log_ref

logger = logging.getLogger(__name__)

_NUL = "\x00"


# ------------------------------------------------------------------------------ helpers


def parse_id(raw: str, what: str = "task") -> str:
    """The canonical id, or 404: a malformed id names nothing."""
    try:
        return str(uuid.UUID(raw.strip()))
    except (ValueError, AttributeError):
        raise HireNotFound(f"No {what} with that id.") from None


def _text(value: str, name: str, limit: int, *, blank_ok: bool = False) -> str:
    """Text is stored as given; it must be storable (no NUL), within ``limit`` and, unless
    ``blank_ok``, not blank."""
    if _NUL in value:
        raise InvalidContent(f"{name} must not contain NUL characters.")
    if not blank_ok and not value.strip():
        raise InvalidContent(f"{name} must not be empty.")
    if len(value) > limit:
        raise TooLarge(f"{name} is {len(value)} characters; the limit is {limit}.")
    return value


def _task(tx: Db, task_id: str, *, for_update: bool = False) -> Task:
    task = data.get_task(tx, task_id, for_update=for_update)
    if task is None:
        raise HireNotFound("No task with that id.")
    return task


def _quote_of(tx: Db, task: Task, quote_id: str) -> data.Quote:
    quote = data.get_quote(tx, quote_id)
    if quote is None or quote.task_id != task.id:
        raise HireNotFound("No quote with that id on this task.")
    return quote


def _require_buyer(task: Task, account: Account) -> None:
    if task.buyer_account_id != account.id:
        raise HireForbidden("Only the task's buyer may do this.")


def _state(task: Task, *allowed: TaskStatus) -> None:
    if task.status not in allowed:
        names = " or ".join(a.value for a in allowed)
        raise InvalidState(f"The task is {task.status.value}; this needs it {names}.")


def _moved(moved: data.Task | None) -> data.Task:
    if moved is None:  # someone else moved it between our read and our update
        raise InvalidState("The task changed meanwhile; nothing was done. Read it again.")
    return moved


def _debit_fee(
    tx: Db,
    account: Account,
    sats: int,
    reason: LedgerReason,
    ref: str,
    url: str,
    credential: Credential | None,
) -> None:
    """The fee from the L402 credential that pays the request, else from the balance."""
    if credential is not None:
        l402.pay(tx, credential, sats, reason=L402LedgerReason(reason.value), reference=ref)
        return
    if accounts.debit(tx, account.id, sats, reason=reason, reference=ref) is None:
        raise HireInsufficientBalance(
            f"This costs {sats} sats; the balance is short. Top up and retry.", topup_url=url
        )


def _now() -> datetime:
    return datetime.now(UTC)


# -------------------------------------------------------------------------------- reads


def list_tasks(status: TaskStatus | None) -> HireTaskList:
    with transaction() as tx:
        rows = data.list_tasks(tx, status, hire_settings().hire_max_tasks_listed)
    return HireTaskList(tasks=[HireTask.of(t) for t in rows])


def task_detail(raw_task_id: str, token: str | None) -> HireTaskDetail:
    """The task with its quotes and deliveries; content only for the buyer and the accepted
    contractor (a token that is sent must be valid: 401 otherwise)."""
    viewer = authenticate(token) if token is not None else None
    task_id = parse_id(raw_task_id)
    with transaction() as tx:
        task = _task(tx, task_id)
        quotes = data.quotes_of(tx, task_id)
        deliveries = data.deliveries_of(tx, task_id)
    insiders = {task.buyer_account_id}
    accepted = next((q for q in quotes if q.id == task.accepted_quote_id), None)
    if accepted is not None:
        insiders.add(accepted.contractor_account_id)
    with_content = viewer is not None and viewer.id in insiders
    return HireTaskDetail(
        **HireTask.of(task).model_dump(),
        quotes=[HireQuote.of(q) for q in quotes],
        deliveries=[HireDelivery.of(d, with_content=with_content) for d in deliveries],
    )


# ------------------------------------------------------------------------------- create


@contextlib.contextmanager
def _fresh_challenge_when_spent(route_id: str, base_url: str, account: Account) -> Iterator[None]:
    """An L402 credential spent by a parallel request between its check and this debit is
    answered like any spent credential: a fresh challenge bound to the same account."""
    try:
        yield
    except CredentialUnusable as spent:
        raise refusal(
            route_id, base_url=base_url, account_id=account.id, reason=spent.reason
        ) from None


def check_task_text(title: str, description: str) -> None:
    """The task's texts are within limits (400); checked before any credential, so that no
    L402 invoice is minted for a request that cannot succeed."""
    settings = hire_settings()
    _text(title, "title", settings.hire_max_title_chars)
    _text(description, "description", settings.hire_max_text_chars)


def check_quote_text(description: str) -> None:
    """A quote's description is within limits (400), checked before any credential."""
    _text(description, "description", hire_settings().hire_max_text_chars, blank_ok=True)


def create_task(
    account: Account,
    *,
    title: str,
    description: str,
    budget_sats: int,
    base_url: str,
    credential: Credential | None = None,
) -> HireTask:
    """Post a task, paying the post fee from the L402 credential when one pays the request,
    else from the balance (402 ``insufficient_balance``)."""
    settings = hire_settings()
    title = _text(title, "title", settings.hire_max_title_chars)
    description = _text(description, "description", settings.hire_max_text_chars)
    task_id = str(uuid.uuid4())
    fee = fees().task_fee_sats
    url = topup_url(base_url)
    with _fresh_challenge_when_spent(TASK_ROUTE, base_url, account), transaction() as tx:
        _debit_fee(tx, account, fee, LedgerReason.HIRE_TASK_FEE, task_id, url, credential)
        task = data.insert_task(
            tx,
            task_id=task_id,
            buyer_account_id=account.id,
            title=title,
            description=description,
            budget_sats=budget_sats,
        )
    _announce(task)
    return HireTask.of(task)


def _announce(task: Task) -> None:
    """The new-task event: Timmy's contractor workflow looks at it (when switched on). A
    failure to start it costs the buyer nothing: the task is posted either way."""
    settings = hire_settings()
    if not settings.hire_timmy_contractor or not settings.hire_timmy_state_machine_arn:
        return
    try:
        orchestrator.start_execution(
            settings.hire_timmy_state_machine_arn, f"quote-{task.id}", {"task_id": task.id}
        )
    except Exception:
        logger.exception("starting Timmy's quote failed", extra={"task_ref": log_ref(task.id)})


def create_quote(
    account: Account,
    raw_task_id: str,
    *,
    price_sats: int,
    description: str,
    delivery_hours: int | None,
    base_url: str,
    credential: Credential | None = None,
) -> HireQuote:
    """Quote an open task (not one's own), paying the quote fee from the L402 credential when
    one pays the request, else from the balance."""
    with _fresh_challenge_when_spent(QUOTE_ROUTE, base_url, account):
        return HireQuote.of(
            insert_quote(
                account,
                parse_id(raw_task_id),
                price_sats=price_sats,
                description=description,
                delivery_hours=delivery_hours,
                fee_sats=fees().quote_fee_sats,
                base_url=base_url,
                credential=credential,
            )
        )


def insert_quote(
    account: Account,
    task_id: str,
    *,
    price_sats: int,
    description: str,
    delivery_hours: int | None,
    fee_sats: int,
    base_url: str,
    credential: Credential | None = None,
) -> data.Quote:
    """A new pending quote; ``fee_sats`` 0 for Timmy's own (Timmy would pay itself)."""
    settings = hire_settings()
    description = _text(description, "description", settings.hire_max_text_chars, blank_ok=True)
    quote_id = str(uuid.uuid4())
    with transaction() as tx:
        task = _task(tx, task_id)
        if task.buyer_account_id == account.id:
            raise HireForbidden("A buyer may not quote their own task.")
        _state(task, TaskStatus.OPEN)
        if fee_sats:
            _debit_fee(
                tx,
                account,
                fee_sats,
                LedgerReason.HIRE_QUOTE_FEE,
                quote_id,
                topup_url(base_url),
                credential,
            )
        return data.insert_quote(
            tx,
            quote_id=quote_id,
            task_id=task_id,
            contractor_account_id=account.id,
            price_sats=price_sats,
            description=description,
            delivery_hours=delivery_hours or settings.hire_delivery_hours_default,
        )


# ------------------------------------------------------------------------------- quotes


def _own_pending_quote(tx: Db, account: Account, task_id: str, quote_id: str) -> data.Quote:
    task = _task(tx, task_id)
    quote = _quote_of(tx, task, quote_id)
    if quote.contractor_account_id != account.id:
        raise HireForbidden("Only the quote's contractor may change it.")
    if quote.status != QuoteStatus.PENDING:
        raise InvalidState(f"The quote is {quote.status.value}; only a pending quote changes.")
    return quote


def update_quote(
    account: Account,
    raw_task_id: str,
    raw_quote_id: str,
    *,
    price_sats: int | None,
    description: str | None,
    delivery_hours: int | None,
) -> HireQuote:
    task_id, quote_id = parse_id(raw_task_id), parse_id(raw_quote_id, "quote")
    if description is not None:
        description = _text(
            description, "description", hire_settings().hire_max_text_chars, blank_ok=True
        )
    with transaction() as tx:
        _own_pending_quote(tx, account, task_id, quote_id)
        updated = data.update_pending_quote(
            tx,
            quote_id,
            price_sats=price_sats,
            description=description,
            delivery_hours=delivery_hours,
        )
        if updated is None:
            raise InvalidState("The quote is no longer pending; nothing changed.")
    return HireQuote.of(updated)


def withdraw_quote(account: Account, raw_task_id: str, raw_quote_id: str) -> HireQuote:
    task_id, quote_id = parse_id(raw_task_id), parse_id(raw_quote_id, "quote")
    with transaction() as tx:
        _own_pending_quote(tx, account, task_id, quote_id)
        moved = data.move_quote(
            tx, quote_id, expected=QuoteStatus.PENDING, to=QuoteStatus.WITHDRAWN
        )
        if moved is None:
            raise InvalidState("The quote is no longer pending; nothing changed.")
    return HireQuote.of(moved)


def accept(
    account: Account,
    raw_task_id: str,
    raw_quote_id: str,
    *,
    expected_price_sats: int | None,
    base_url: str,
) -> HireAccepted:
    """One transaction: the quote is accepted, the task goes into escrow, the other pending
    quotes are rejected and the price moves from the buyer's balance into the escrow."""
    task_id, quote_id = parse_id(raw_task_id), parse_id(raw_quote_id, "quote")
    settings = hire_settings()
    with transaction() as tx:
        task = _task(tx, task_id, for_update=True)  # accepts of one task queue up here
        quote = _quote_of(tx, task, quote_id)
        _require_buyer(task, account)
        _state(task, TaskStatus.OPEN)
        if quote.status != QuoteStatus.PENDING:
            raise InvalidState(
                f"The quote is {quote.status.value}; only a pending one is accepted."
            )
        if expected_price_sats is not None and quote.price_sats != expected_price_sats:
            raise PriceChanged(
                f"The quote's price is now {quote.price_sats} sats, not {expected_price_sats};"
                " nothing was charged."
            )
        accepted = data.move_quote(
            tx,
            quote_id,
            expected=QuoteStatus.PENDING,
            to=QuoteStatus.ACCEPTED,
            price_sats=quote.price_sats,
        )
        if accepted is None:
            raise InvalidState("The quote changed meanwhile; nothing was charged.")
        if settings.hire_delivery_wait_seconds is not None:
            accepted = data.set_delivery_deadline_seconds(
                tx, quote_id, settings.hire_delivery_wait_seconds
            )
        _moved(
            data.move_task(
                tx,
                task_id,
                expected=TaskStatus.OPEN,
                to=TaskStatus.IN_ESCROW,
                accepted_quote_id=quote_id,
            )
        )
        data.reject_other_pending(tx, task_id, quote_id)
        if data.hold(tx, quote=accepted, buyer_account_id=account.id) is None:
            raise HireInsufficientBalance(
                f"The escrow needs {accepted.price_sats} sats; the balance is short. Top up"
                " and retry.",
                topup_url=topup_url(base_url),
            )
    _start_timers(task_id, accepted)
    return HireAccepted(
        task_id=task_id,
        quote_id=quote_id,
        status=TaskStatus.IN_ESCROW,
        escrowed_sats=accepted.price_sats,
        delivery_deadline=accepted.delivery_deadline,
    )


def _start_timers(task_id: str, quote: data.Quote) -> None:
    """The accepted quote's workflow (delivery deadline, confirm window; Timmy's work). If it
    cannot start, nothing is stuck: the buyer can cancel after the deadline and confirm after a
    delivery; only the silent release waits for the buyer."""
    from timmy.hire.contractor import is_timmy

    arn = hire_settings().hire_state_machine_arn
    if not arn:
        logger.warning("HIRE_STATE_MACHINE_ARN is not set: no timers for the escrow")
        return
    assert quote.delivery_deadline is not None
    payload = {
        "task_id": task_id,
        "quote_id": quote.id,
        "delivery_deadline": _iso(quote.delivery_deadline),
        "delivery_wait_seconds": max(
            1, math.ceil((quote.delivery_deadline - _now()).total_seconds())
        ),
        "timmy_contractor": is_timmy(quote.contractor_account_id),
    }
    try:
        execution_arn = orchestrator.start_execution(arn, quote.id, payload)
    except Exception:
        logger.exception("starting the escrow timers failed", extra={"task_ref": log_ref(task_id)})
        return
    with transaction() as tx:
        data.set_execution_arn(tx, task_id, execution_arn)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ----------------------------------------------------------------------------- messages


def _participant_quote(tx: Db, account: Account, task_id: str, quote_id: str) -> data.Quote:
    task = _task(tx, task_id)
    quote = _quote_of(tx, task, quote_id)
    if account.id not in (task.buyer_account_id, quote.contractor_account_id):
        raise HireForbidden("Only the buyer and this quote's contractor see its messages.")
    return quote


def post_message(account: Account, raw_task_id: str, raw_quote_id: str, body: str) -> HireMessage:
    task_id, quote_id = parse_id(raw_task_id), parse_id(raw_quote_id, "quote")
    body = _text(body, "body", hire_settings().hire_max_message_chars)
    with transaction() as tx:
        quote = _participant_quote(tx, account, task_id, quote_id)
        if quote.status not in (QuoteStatus.PENDING, QuoteStatus.ACCEPTED):
            raise InvalidState(f"The quote is {quote.status.value}; its thread is closed.")
        message = data.insert_message(
            tx,
            message_id=str(uuid.uuid4()),
            quote_id=quote_id,
            sender_account_id=account.id,
            body=body,
        )
    return HireMessage.of(message)


def list_messages(account: Account, raw_task_id: str, raw_quote_id: str) -> HireMessageList:
    task_id, quote_id = parse_id(raw_task_id), parse_id(raw_quote_id, "quote")
    with transaction() as tx:
        _participant_quote(tx, account, task_id, quote_id)
        rows = data.messages_of(tx, quote_id, hire_settings().hire_max_messages_listed)
    return HireMessageList(messages=[HireMessage.of(m) for m in rows])


# ------------------------------------------------------------------------------ deliver


def decode_content(content_base64: str) -> bytes:
    limit = hire_settings().hire_max_delivery_bytes
    if len(content_base64) > (limit // 3 + 1) * 4:
        raise TooLarge(f"The delivery is larger than {limit} bytes.")
    try:
        content = base64.b64decode(content_base64, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidContent("content_base64 is not valid base64.") from None
    if len(content) > limit:
        raise TooLarge(f"The delivery is {len(content)} bytes; the limit is {limit}.")
    return content


def deliver(
    account: Account, raw_task_id: str, *, filename: str, content: bytes, notes: str
) -> HireDelivery:
    """The accepted contractor's delivery, once, while in escrow and before the deadline; the
    confirm window starts."""
    task_id = parse_id(raw_task_id)
    settings = hire_settings()
    filename = _text(filename, "filename", settings.hire_max_title_chars)
    notes = _text(notes, "notes", settings.hire_max_text_chars, blank_ok=True)
    with transaction() as tx:
        task = _task(tx, task_id)
        quote = data.get_quote(tx, task.accepted_quote_id) if task.accepted_quote_id else None
        if quote is None or quote.contractor_account_id != account.id:
            raise HireForbidden("Only the accepted contractor delivers.")
        _state(task, TaskStatus.IN_ESCROW)
        if quote.delivery_deadline is not None and quote.delivery_deadline <= _now():
            raise InvalidState("The delivery deadline has passed; the escrow returns to the buyer.")
        now = _now()
        _moved(
            data.move_task(
                tx,
                task_id,
                expected=TaskStatus.IN_ESCROW,
                to=TaskStatus.DELIVERED,
                delivered_at=now,
                confirm_deadline=now + timedelta(seconds=settings.hire_confirm_window_seconds),
            )
        )
        delivery = data.insert_delivery(
            tx,
            delivery_id=str(uuid.uuid4()),
            task_id=task_id,
            quote_id=quote.id,
            contractor_account_id=account.id,
            filename=filename,
            notes=notes,
            content=content,
        )
    _resume_timers(task_id)
    return HireDelivery.of(delivery, with_content=True)


def _resume_timers(task_id: str) -> None:
    """Wake the escrow workflow waiting for this delivery, so the confirm window starts now.
    If it cannot be woken (not parked yet: it then sees the delivery itself; or unreachable),
    the delivery deadline wakes it instead."""
    with transaction() as tx:
        token = data.delivery_task_token(tx, task_id)
    if token is None:
        return
    try:
        orchestrator.send_task_success(token, {"delivered": True})
    except orchestrator.TaskGone:
        pass
    except Exception:
        logger.exception("waking the escrow timers failed", extra={"task_ref": log_ref(task_id)})


def await_delivery(task_id: str, task_token: str) -> bool:
    """The workflow's wait for a delivery (a ``.waitForTaskToken`` step): parks the token on
    the task; resumes at once when the task is already past ``in_escrow``. True if parked."""
    with transaction() as tx:
        status = data.park_delivery_wait(tx, task_id, task_token)
    if status is None:
        raise HireNotFound("No task with that id.")
    if status == TaskStatus.IN_ESCROW:
        return True
    with contextlib.suppress(orchestrator.TaskGone):
        orchestrator.send_task_success(task_token, {"delivered": status == TaskStatus.DELIVERED})
    return False


# ------------------------------------------------------------------- ends of the escrow


def _release(tx: Db, task: Task, expected: TaskStatus) -> HireConfirmed:
    """Everything in the escrow to the contractor; the task completes."""
    _moved(data.move_task(tx, task.id, expected=expected, to=TaskStatus.COMPLETED))
    escrow = data.escrow_of(tx, task.id)
    assert escrow is not None  # a delivered task holds one
    if escrow.balance_sats:
        data.pay_out_of_escrow(
            tx,
            escrow.quote_id,
            account_id=escrow.contractor_account_id,
            amount_sats=escrow.balance_sats,
            reason=EscrowReason.RELEASE,
        )
    return HireConfirmed(
        task_id=task.id,
        status=TaskStatus.COMPLETED,
        released_sats=escrow.balance_sats,
        contractor_account_id=escrow.contractor_account_id,
    )


def _refund(tx: Db, task: Task) -> data.Task:
    """Everything in the escrow back to the buyer; the task is refunded."""
    moved = _moved(
        data.move_task(tx, task.id, expected=TaskStatus.IN_ESCROW, to=TaskStatus.REFUNDED)
    )
    escrow = data.escrow_of(tx, task.id)
    assert escrow is not None
    if escrow.balance_sats:
        data.pay_out_of_escrow(
            tx,
            escrow.quote_id,
            account_id=escrow.buyer_account_id,
            amount_sats=escrow.balance_sats,
            reason=EscrowReason.REFUND,
        )
    return moved


def confirm(account: Account, raw_task_id: str) -> HireConfirmed:
    task_id = parse_id(raw_task_id)
    with transaction() as tx:
        task = _task(tx, task_id)
        _require_buyer(task, account)
        _state(task, TaskStatus.DELIVERED)
        return _release(tx, task, TaskStatus.DELIVERED)


def cancel(account: Account, raw_task_id: str) -> HireTask:
    """The buyer's way out: an open task is cancelled (its pending quotes rejected); a task in
    escrow whose delivery deadline has passed is refunded."""
    task_id = parse_id(raw_task_id)
    with transaction() as tx:
        task = _task(tx, task_id)
        _require_buyer(task, account)
        _state(task, TaskStatus.OPEN, TaskStatus.IN_ESCROW)
        if task.status == TaskStatus.OPEN:
            moved = _moved(
                data.move_task(tx, task_id, expected=TaskStatus.OPEN, to=TaskStatus.CANCELLED)
            )
            data.reject_all_pending(tx, task_id)
        else:
            quote = data.get_quote(tx, task.accepted_quote_id or "")
            assert quote is not None
            assert quote.delivery_deadline is not None
            if quote.delivery_deadline > _now():
                raise InvalidState(
                    f"The delivery deadline is {_iso(quote.delivery_deadline)}; the task can be"
                    " cancelled after it if nothing is delivered."
                )
            moved = _refund(tx, task)
    return HireTask.of(_reread(moved.id))


def dispute(account: Account, raw_task_id: str) -> HireTask:
    """The buyer disputes a delivery within the confirm window: the escrow is frozen until an
    operator splits it."""
    task_id = parse_id(raw_task_id)
    with transaction() as tx:
        task = _task(tx, task_id)
        _require_buyer(task, account)
        _state(task, TaskStatus.DELIVERED)
        if task.confirm_deadline is not None and task.confirm_deadline <= _now():
            raise InvalidState("The confirm window has closed; the escrow goes to the contractor.")
        moved = _moved(
            data.move_task(tx, task_id, expected=TaskStatus.DELIVERED, to=TaskStatus.DISPUTED)
        )
    return HireTask.of(moved)


def split(raw_task_id: str, *, contractor_sats: int) -> HireSplit:
    """An operator's decision on a disputed escrow: ``contractor_sats`` to the contractor, the
    rest to the buyer, in one transaction (completed, or refunded when the contractor gets 0)."""
    task_id = parse_id(raw_task_id)
    with transaction() as tx:
        task = _task(tx, task_id)
        _state(task, TaskStatus.DISPUTED)
        escrow = data.escrow_of(tx, task_id)
        assert escrow is not None
        if not 0 <= contractor_sats <= escrow.balance_sats:
            raise InvalidContent(
                f"contractor_sats must be between 0 and the escrow's {escrow.balance_sats}."
            )
        buyer_sats = escrow.balance_sats - contractor_sats
        to = TaskStatus.COMPLETED if contractor_sats else TaskStatus.REFUNDED
        _moved(data.move_task(tx, task_id, expected=TaskStatus.DISPUTED, to=to))
        for account_id, sats in (
            (escrow.contractor_account_id, contractor_sats),
            (escrow.buyer_account_id, buyer_sats),
        ):
            if sats:
                data.pay_out_of_escrow(
                    tx,
                    escrow.quote_id,
                    account_id=account_id,
                    amount_sats=sats,
                    reason=EscrowReason.SPLIT,
                )
    return HireSplit(
        task_id=task_id, status=to, contractor_sats=contractor_sats, buyer_sats=buyer_sats
    )


def _reread(task_id: str) -> data.Task:
    with transaction() as tx:
        return _task(tx, task_id)


# ------------------------------------------------------------------------ timer steps


def deadline_reached(task_id: str) -> tuple[str, str | None]:
    """The delivery deadline's step: refunds an undelivered task in escrow once the deadline
    has passed. Returns ``(outcome, confirm_deadline)``: ``refunded``; ``delivered`` (with the
    confirm window's end); ``waiting`` (the deadline is still ahead); or the task's status."""
    with transaction() as tx:
        task = _task(tx, task_id)
        if task.status == TaskStatus.DELIVERED:
            assert task.confirm_deadline is not None
            return "delivered", _iso(task.confirm_deadline)
        if task.status != TaskStatus.IN_ESCROW:
            return task.status.value, None
        quote = data.get_quote(tx, task.accepted_quote_id or "")
        assert quote is not None
        assert quote.delivery_deadline is not None
        if quote.delivery_deadline > _now():
            return "waiting", None
        try:
            _refund(tx, task)
        except InvalidState:  # the buyer's cancel (or a delivery) came first
            return _task(tx, task_id).status.value, None
    logger.info("escrow refunded at the deadline", extra={"task_ref": log_ref(task_id)})
    return "refunded", None


def confirm_window_ended(task_id: str) -> str:
    """The confirm window's step: a delivery neither confirmed nor disputed is released to the
    contractor. Returns ``released``, ``waiting`` or the task's status."""
    with transaction() as tx:
        task = _task(tx, task_id)
        if task.status != TaskStatus.DELIVERED:
            return task.status.value
        assert task.confirm_deadline is not None
        if task.confirm_deadline > _now():
            return "waiting"
        try:
            _release(tx, task, TaskStatus.DELIVERED)
        except InvalidState:
            return _task(tx, task_id).status.value
    logger.info("escrow released after the confirm window", extra={"task_ref": log_ref(task_id)})
    return "released"
