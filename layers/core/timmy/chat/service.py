"""``/v1`` operations: the model list, and one paid chat completion.

A completion, in order (nothing changes before step 5):

1. **Validate** (400): the model is offered (``model_not_supported`` otherwise), the output cap
   within the model's ``max_output_tokens``, the conversation within ``CHAT_MAX_INPUT_CHARS``.
2. **Price the maximum**: input estimate (:func:`timmy.ai.base.chat_input_tokens`) plus the
   output cap, at the model's price and the current BTC price, rounded up, at least 1 sat.
3. **Credentials** (401 for a forged or unknown one): :func:`timmy.chat.payers.resolve`; an
   L402 credential that cannot pay the maximum is a fresh 402 challenge for it.
4. **No credentials** → 402 ``payment_required`` with an L402 challenge for the maximum.
5. **Free tier** for a Nostr-bound payer (:func:`timmy.freetier.decide`, on the maximum), then
   **hold**, in one transaction with the request's row: the pool's part (a partial grant is
   reserved here) and the caller's part from the payer's balance (402 when it cannot).
6. **Call the provider.** A failure releases both parts whole and answers 502/503.
7. **Settle** on the real ``usage``, in one transaction: cost = its price rounded up (at least
   1 sat when any token was used, at most the maximum held); the free tier absorbs up to what
   it reserved, the caller pays the rest; the unused part of each hold is released at once.

A crash between 5 and 7 strands nothing: the request's row stays ``reserved`` and the
reconciler releases it after ``CHAT_HOLD_TIMEOUT_SECONDS`` (accounts: :func:`release_abandoned
_holds`; sessions: the sessions' own pass).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass, replace
from typing import Any, Final

from timmy import freetier, identity, quote
from timmy.ai import providers
from timmy.ai.base import ChatMessage, ChatOptions, ChatResult, chat_input_tokens
from timmy.chat import offer, payers
from timmy.chat.errors import ConversationTooLong, MaxTokensTooLarge, ModelNotSupported
from timmy.chat.offer import ModelOffer
from timmy.chat.payers import HoldRecord, Outcome, Payer
from timmy.chat.settings import chat_settings
from timmy.chat.views import (
    ChatAnswerMessage,
    ChatChoice,
    ChatCompletion,
    ChatCompletionRequest,
    ChatModel,
    ChatModelList,
    ChatModelPricing,
    ChatUsage,
)
from timmy.data import chat as chat_data
from timmy.data.pool import Serve
from timmy.data.sessions import lock_identity
from timmy.db.connection import transaction
from timmy.errors import TimmyError
from timmy.l402 import service as l402
from timmy.l402.errors import CredentialUnusable
from timmy.observability import log_ref
from timmy.sessions.requests import Hold, settlement

logger = logging.getLogger(__name__)

# ``created`` of every listed model (OpenAI's field; the catalog may give real dates).
MODELS_CREATED: Final = 1_735_689_600  # 2025-01-01T00:00:00Z
_MTOK: Final = 1_000_000


# --- models --------------------------------------------------------------------------------


def list_models() -> ChatModelList:
    """Every offered model with its price in sats at the current BTC price (free to call)."""
    btc = quote.oracle().price_usd()
    return ChatModelList(
        data=[
            ChatModel(
                id=item.id,
                created=MODELS_CREATED,
                owned_by=item.owned_by,
                pricing=ChatModelPricing(
                    sats_per_mtok_input=quote.actual(_MTOK, 0, item.id, btc),
                    sats_per_mtok_output=quote.actual(0, _MTOK, item.id, btc),
                    max_output_tokens=item.max_output_tokens,
                ),
            )
            for item in offer.offered()
        ]
    )


# --- completions ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    completion: ChatCompletion
    charged_sats: int  # what the payer paid (X-Timmy-Cost-Sats)
    absorbed_sats: int  # what the free tier paid
    balance_sats: int  # the payer's balance after it (X-Timmy-Balance-Sats)


@dataclass(frozen=True, slots=True)
class _Call:
    offer: ModelOffer
    messages: tuple[ChatMessage, ...]
    max_tokens: int
    options: ChatOptions


def complete(
    body: ChatCompletionRequest, *, authorization: str | None, x_token: str | None, base_url: str
) -> Answer:
    """One completion paid by the request's credentials (see the module docstring)."""
    call = _validate(body)
    btc = quote.oracle().price_usd()
    input_estimate = chat_input_tokens(call.messages)
    max_cost = max(1, quote.actual(input_estimate, call.max_tokens, call.offer.id, btc))
    payer = payers.resolve(authorization, x_token, max_cost_sats=max_cost)
    if payer is None:
        raise l402.challenge(
            payers.ROUTE_ID,
            max_cost,
            message="This request is paid: pay the L402 invoice and retry with"
            " Authorization: L402 <macaroon>:<preimage>, or send an account token"
            " (Authorization: Bearer tmy_… or X-Token) or a session macaroon.",
        )
    request_id = str(uuid.uuid4())
    record = HoldRecord(
        request_id=request_id,
        model=call.offer.id,
        btc_price_usd=btc,
        input_tokens=input_estimate,
        output_tokens=call.max_tokens,
        max_cost_sats=max_cost,
        reserved_sats=max_cost,
        free_tier=Serve.GATE,
        pool_reserved_sats=0,
    )
    # Outside any transaction (it runs its own): a free decision has debited the pool already.
    decision = freetier.decide(payer.nostr_pubkey, max_cost)
    try:
        hold = _hold(payer, record, decision, base_url)
    except CredentialUnusable as spent:  # an L402 spent by a parallel request meanwhile
        raise l402.refusal(payers.ROUTE_ID, max_cost, spent.reason) from None

    try:
        result = providers.chat_provider().chat(
            call.messages,
            model=call.offer.upstream,
            max_tokens=call.max_tokens,
            options=call.options,
        )
        actual = quote.actual(result.input_tokens, result.output_tokens, call.offer.id, btc)
    except Exception as error:
        _release(payer, request_id, error)
        raise
    used = result.input_tokens + result.output_tokens
    split = settlement(actual, hold, 1 if used > 0 else 0)
    outcome = Outcome(
        input_tokens=result.input_tokens,
        output_tokens=result.output_tokens,
        cost_sats=split.cost_sats,
        charged_sats=split.charged_sats,
        absorbed_sats=split.absorbed_sats,
    )
    try:
        balance = _settle(payer, request_id, call.messages, hold, outcome)
    except Exception as error:
        _release(payer, request_id, error)
        raise
    identity.record_success(payer.nostr_pubkey, paid_sats=split.charged_sats)
    return Answer(
        completion=_completion(request_id, call.offer.id, result),
        charged_sats=split.charged_sats,
        absorbed_sats=split.absorbed_sats,
        balance_sats=balance,
    )


def _validate(body: ChatCompletionRequest) -> _Call:
    found = offer.find(body.model)
    if found is None:
        known = ", ".join(item.id for item in offer.offered())
        shown = body.model if len(body.model) <= 64 else body.model[:64] + "..."
        raise ModelNotSupported(f"The model {shown!r} is not offered here; models: {known}.")
    asked = body.max_completion_tokens or body.max_tokens
    param = "max_completion_tokens" if body.max_completion_tokens else "max_tokens"
    if asked is not None and asked > found.max_output_tokens:
        raise MaxTokensTooLarge(
            f"{param} is {asked}; {found.id} produces at most {found.max_output_tokens}.",
            param=param,
        )
    messages = tuple(ChatMessage(role=m.role, content=m.text()) for m in body.messages)
    chars = sum(len(m.content) for m in messages)
    limit = chat_settings().chat_max_input_chars
    if chars > limit:
        raise ConversationTooLong(f"The messages hold {chars} characters; the limit is {limit}.")
    if any("\x00" in m.content for m in messages):
        raise ConversationTooLong("Messages must not contain NUL characters.")
    return _Call(
        offer=found,
        messages=messages,
        max_tokens=asked or found.max_output_tokens,
        options=ChatOptions(
            temperature=body.temperature, top_p=body.top_p, stop=body.stop_sequences()
        ),
    )


def _hold(payer: Payer, record: HoldRecord, decision: freetier.Decision, base_url: str) -> Hold:
    """The pool's part and the caller's part, held with the request's row in one transaction.

    All or nothing: a refusal rolls the transaction back (a partial grant reserved in it
    included) and returns a ``free`` decision's reservation, taken before, to the pool.
    """
    pubkey = payer.nostr_pubkey
    try:
        with transaction() as tx:
            serve = decision.serve
            pool_sats = decision.absorb_sats if serve == Serve.FREE else 0
            if serve == Serve.PARTIAL:
                assert pubkey is not None, "only an identity is ever granted anything"
                payer.lock(tx)  # the payer's row before the pool's: see timmy.chat.payers
                pool_sats = freetier.reserve_partial_grant(decision.absorb_sats, pubkey, tx=tx)
                if pool_sats == 0:
                    serve = Serve.GATE
            caller_sats = record.max_cost_sats - pool_sats
            payer.take(
                tx,
                replace(
                    record, reserved_sats=caller_sats, free_tier=serve, pool_reserved_sats=pool_sats
                ),
                base_url=base_url,
            )
            return Hold(
                estimate_sats=record.max_cost_sats,
                balance_sats=caller_sats,
                pool_sats=pool_sats,
                serve=serve,
            )
    except BaseException:
        if decision.serve == Serve.FREE and pubkey is not None:
            with transaction() as tx:
                lock_identity(tx, pubkey)
                freetier.release_reservation(
                    decision.absorb_sats, pubkey, "completion refused before work", tx=tx
                )
        raise


def _settle(
    payer: Payer,
    request_id: str,
    messages: tuple[ChatMessage, ...],
    hold: Hold,
    outcome: Outcome,
) -> int:
    pubkey = payer.nostr_pubkey
    with transaction() as tx:
        balance = payer.settle(tx, request_id, outcome)
        if hold.pool_sats > 0 and pubkey is not None:
            lock_identity(tx, pubkey)
            conversation = "\n".join(f"{m.role}: {m.content}" for m in messages)
            freetier.record_grant(
                pubkey,
                freetier.request_hash(conversation),
                outcome.absorbed_sats,
                hold.pool_sats,
                tx=tx,
            )
        freetier.credit(outcome.charged_sats, tx=tx)  # last: the pool row's lock is short
        return balance


def _release(payer: Payer, request_id: str, error: BaseException) -> None:
    """Give both parts of the hold back after a failure (once); the request is failed."""
    code = error.code if isinstance(error, TimmyError) else "internal_error"
    with transaction() as tx:
        held = payer.fail(tx, request_id, code)
        if held is not None and held.pool_reserved_sats > 0 and payer.nostr_pubkey is not None:
            lock_identity(tx, payer.nostr_pubkey)
            freetier.release_reservation(
                held.pool_reserved_sats, payer.nostr_pubkey, f"completion failed ({code})", tx=tx
            )
    logger.warning(
        "chat completion failed",
        extra={"payer": payer.kind.value, "request_ref": log_ref(request_id), "error_code": code},
    )


def release_abandoned_holds(*, limit: int = 100) -> int:
    """Release the holds of account and L402 completions whose Lambda died mid-call (the
    reconciler's pass); each once, whoever else looks at it."""
    timeout = chat_settings().chat_hold_timeout_seconds
    with transaction() as tx:
        stale = chat_data.abandoned(tx, older_than_seconds=timeout, limit=limit)
    released = 0
    for held in stale:
        payer = payers.of_request(held)
        with transaction() as tx:
            freed = payer.fail(tx, held.id, "abandoned")
            if freed is None:
                continue  # settled or failed meanwhile
            if freed.pool_reserved_sats > 0 and held.nostr_pubkey is not None:
                lock_identity(tx, held.nostr_pubkey)
                freetier.release_reservation(
                    freed.pool_reserved_sats, held.nostr_pubkey, "completion abandoned", tx=tx
                )
        released += 1
    if released:
        logger.warning("released abandoned completion holds", extra={"count": released})
    return released


# --- answers -------------------------------------------------------------------------------


def _completion(request_id: str, model: str, result: ChatResult) -> ChatCompletion:
    return ChatCompletion(
        id=f"chatcmpl-{uuid.UUID(request_id).hex}",
        created=int(time.time()),
        model=model,
        choices=[
            ChatChoice(
                message=ChatAnswerMessage(content=result.text), finish_reason=result.finish_reason
            )
        ],
        usage=ChatUsage(
            prompt_tokens=result.input_tokens,
            completion_tokens=result.output_tokens,
            total_tokens=result.input_tokens + result.output_tokens,
        ),
    )


def event_stream(completion: ChatCompletion, *, include_usage: bool) -> str:
    """The completion as ``text/event-stream``: ``chat.completion.chunk`` events (the role,
    the text, the finish reason), a usage chunk with empty ``choices`` when asked for, then
    ``data: [DONE]``. Delivered whole: Lambda behind an HTTP API cannot stream."""
    choice = completion.choices[0]
    base: dict[str, Any] = {
        "id": completion.id,
        "object": "chat.completion.chunk",
        "created": completion.created,
        "model": completion.model,
        "system_fingerprint": None,
    }

    def chunk(delta: dict[str, Any], finish_reason: str | None) -> dict[str, Any]:
        event = {
            **base,
            "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            ],
        }
        if include_usage:
            event["usage"] = None
        return event

    events = [
        chunk({"role": "assistant", "content": "", "refusal": None}, None),
        chunk({"content": choice.message.content}, None),
        chunk({}, choice.finish_reason),
    ]
    if include_usage:
        events.append({**base, "choices": [], "usage": completion.usage.model_dump()})
    lines = [f"data: {json.dumps(event, separators=(',', ':'))}\n\n" for event in events]
    return "".join(lines) + "data: [DONE]\n\n"
