"""Timmy as a contractor (``HIRE_TIMMY_CONTRACTOR=true``; off by default).

Timmy's own account (a fixed id, created on first use with a token nobody holds; its
earnings stay there for the operator) is told about every new task by a short workflow
(``hire_timmy.asl.json``). It asks its AI whether it can do the task (the same screening as
paid jobs), prices it as a paid job would be priced (the model's price on the estimate,
:func:`timmy.quote.estimate`), and quotes it when that fits the budget. Timmy's quotes pay no
quote fee: the fee is Timmy's revenue, so it would pay itself. Once its quote is accepted,
the escrow workflow runs :func:`work`: the AI does the task and Timmy delivers the text.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from typing import Final

from timmy import quote as pricing_quote
from timmy.ai import agent, providers
from timmy.data import accounts
from timmy.data import hire as data
from timmy.data.accounts import Account
from timmy.data.hire import QuoteStatus, TaskStatus
from timmy.db.connection import transaction
from timmy.hire import service
from timmy.hire.errors import HireForbidden, InvalidState
from timmy.observability import log_ref

logger = logging.getLogger(__name__)

TIMMY_ACCOUNT_ID: Final = str(
    uuid.uuid5(uuid.NAMESPACE_URL, "https://timmy/ai-for-hire/contractor")
)
_NUL = "\x00"


def is_timmy(account_id: str) -> bool:
    return account_id == TIMMY_ACCOUNT_ID


def timmy_account() -> Account:
    with transaction() as tx:
        # A token nobody holds: the account never authenticates over HTTP.
        unused = hashlib.sha256(secrets.token_bytes(32)).hexdigest()
        return accounts.insert_if_absent(tx, account_id=TIMMY_ACCOUNT_ID, token_sha256=unused)


def _request(task: data.Task) -> str:
    return f"{task.title}\n\n{task.description}"


def consider(task_id: str) -> str | None:
    """Quote the task if Timmy can do it within its budget; the quote's id, or None."""
    with transaction() as tx:
        task = data.get_task(tx, task_id)
    if task is None or task.status != TaskStatus.OPEN:
        return None
    request = _request(task)
    evaluation = agent.evaluate(providers.provider(), request)
    if not evaluation.accepted:
        logger.info("Timmy passes on a task", extra={"task_ref": log_ref(task_id)})
        return None
    price = max(1, pricing_quote.estimate(request).sats)
    if price > task.budget_sats:
        logger.info("Timmy's price is over the budget", extra={"task_ref": log_ref(task_id)})
        return None
    try:
        created = service.insert_quote(
            timmy_account(),
            task_id,
            price_sats=price,
            description=f"Timmy will do this for {price} sats. {evaluation.reason}"[:2000],
            delivery_hours=None,
            fee_sats=0,
            base_url="",
        )
    except (InvalidState, HireForbidden):  # the task closed meanwhile, or is Timmy's own
        return None
    return created.id


def work(task_id: str, quote_id: str) -> bool:
    """Do the accepted task and deliver it; False when there is nothing (left) to do."""
    with transaction() as tx:
        task = data.get_task(tx, task_id)
        quote = data.get_quote(tx, quote_id)
    if (
        task is None
        or quote is None
        or task.status != TaskStatus.IN_ESCROW
        or task.accepted_quote_id != quote_id
        or quote.status != QuoteStatus.ACCEPTED
        or not is_timmy(quote.contractor_account_id)
    ):
        return False
    request = _request(task)
    max_tokens = pricing_quote.estimate(request).estimate.tokens.output
    result = agent.work(providers.provider(), request, max_tokens)
    try:
        service.deliver(
            timmy_account(),
            task_id,
            filename="result.txt",
            content=result.text.replace(_NUL, "").encode(),
            notes="Delivered by Timmy.",
        )
    except InvalidState:  # delivered by an earlier run, or the deadline passed
        return False
    return True
