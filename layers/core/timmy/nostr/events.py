"""NIP-01 events: the wire model, the canonical id, and signature/freshness verification.

The id is sha256 over the UTF-8 JSON array ``[0, pubkey, created_at, kind, tags, content]``
with no whitespace; the signature is BIP-340 Schnorr over the 32-byte id, checked with
coincurve (libsecp256k1).
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from timmy.errors import BadRequest, Unauthorized

# pydantic's patterns run on the Rust regex engine, where "$" only matches at the very end,
# so a trailing newline is rejected too.
Hex32 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Hex64 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{128}$")]

MAX_KIND = 65535
# NIP-42 client authentication: empty content, the challenge in a ["challenge", …] tag.
AUTH_KIND = 22242


class MalformedEvent(BadRequest):
    """The submitted event does not have the NIP-01 shape (not a signature problem)."""

    code = "malformed_event"


class InvalidEventId(Unauthorized):
    code = "invalid_event_id"


class InvalidSignature(Unauthorized):
    code = "invalid_signature"


class StaleEvent(Unauthorized):
    code = "stale_event"


class NostrEvent(BaseModel):
    """A signed Nostr event as it travels on the wire (unknown extra fields are ignored)."""

    # Strict: "123" must not silently become 123, since the id hashes the JSON types.
    model_config = ConfigDict(frozen=True, strict=True, extra="ignore")

    id: Hex32
    pubkey: Hex32
    created_at: int = Field(ge=0)
    kind: int = Field(ge=0, le=MAX_KIND)
    tags: list[list[str]]
    content: str
    sig: Hex64

    def tag_values(self, name: str) -> list[str]:
        """The first value of every tag called ``name`` (tags with no value are skipped)."""
        return [tag[1] for tag in self.tags if len(tag) >= 2 and tag[0] == name]


def parse_event(data: Any) -> NostrEvent:
    """Validate a decoded JSON object as a NIP-01 event, or raise ``MalformedEvent`` (400)."""
    try:
        return NostrEvent.model_validate(data)
    except ValidationError as exc:
        # Field names only: the values are caller input and stay out of the message.
        fields = sorted({".".join(str(p) for p in err["loc"]) or "event" for err in exc.errors()})
        raise MalformedEvent(f"Not a valid Nostr event (check: {', '.join(fields)}).") from None


def serialize_for_id(event: NostrEvent) -> bytes:
    """The exact NIP-01 byte string whose sha256 is the event id.

    Raises ``InvalidEventId`` when the content or tags hold text that has no UTF-8 form
    (lone surrogates): such an event cannot have been signed by a conforming client.
    """
    payload = [0, event.pubkey, event.created_at, event.kind, event.tags, event.content]
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidEventId("The event holds text that cannot be encoded as UTF-8.") from None


def event_id(event: NostrEvent) -> str:
    """The lowercase hex NIP-01 id of ``event`` (its ``id`` field is not consulted)."""
    return hashlib.sha256(serialize_for_id(event)).hexdigest()


def verify_event(
    event: NostrEvent, *, now: int, max_age_seconds: int, max_future_seconds: int
) -> None:
    """Check the id, then the BIP-340 signature, then that ``created_at`` is fresh.

    Raises ``InvalidEventId``, ``InvalidSignature`` or ``StaleEvent`` (all 401).
    """
    if event_id(event) != event.id:
        raise InvalidEventId("The event id does not match the event's contents.")
    _verify_signature(event)
    if event.created_at < now - max_age_seconds:
        raise StaleEvent("The event is too old.")
    if event.created_at > now + max_future_seconds:
        raise StaleEvent("The event's created_at is in the future.")


def _verify_signature(event: NostrEvent) -> None:
    from coincurve import PublicKeyXOnly  # imported here: only the verify paths need it

    try:
        pubkey = bytes.fromhex(event.pubkey)
        signature = bytes.fromhex(event.sig)
        message = bytes.fromhex(event.id)
        # Lengths are checked here too: libsecp256k1 reads fixed-size buffers, and an event
        # built without validation (model_construct) must not reach it with short input.
        if len(pubkey) != 32 or len(signature) != 64 or len(message) != 32:
            raise ValueError("wrong length")
        valid = PublicKeyXOnly(pubkey).verify(signature, message)
    except (ValueError, TypeError):
        # A pubkey that is not a curve point or a malformed signature is the caller's fault.
        valid = False
    if not valid:
        raise InvalidSignature("The event signature is not valid for its pubkey.")


def auth_challenge(event: NostrEvent) -> str:
    """The challenge a signed authentication event answers ("" when it names none).

    Two shapes are accepted: NIP-42's (kind 22242, empty content, the challenge in a
    ``["challenge", …]`` tag; a ``relay`` tag is allowed and not read), and the challenge as
    the whole content (any kind). An event that names two different challenges, or one
    challenge twice in tags, is malformed rather than guessed at.
    """
    tagged = event.tag_values("challenge")
    if len(tagged) > 1:
        raise MalformedEvent("The event has more than one challenge tag.")
    if event.content:
        if tagged and tagged[0] != event.content:
            raise MalformedEvent("The event's content and its challenge tag disagree.")
        return event.content
    if tagged and event.kind == AUTH_KIND:
        return tagged[0]
    return ""
