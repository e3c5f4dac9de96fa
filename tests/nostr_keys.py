"""Real Nostr keys for tests: generate with coincurve, sign NIP-01 events, build NIP-98 headers.

The id is computed here independently of ``timmy.nostr.events`` so that tests of that module
are not checking the code against itself.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from collections.abc import Sequence
from typing import Any

from coincurve import PrivateKey, PublicKeyXOnly


def nip01_id(pubkey: str, created_at: int, kind: int, tags: list[list[str]], content: str) -> str:
    serialized = json.dumps(
        [0, pubkey, created_at, kind, tags, content], separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(serialized.encode("utf-8")).hexdigest()


class NostrKey:
    """A secp256k1 key pair with the x-only (BIP-340) public key Nostr uses."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._key = PrivateKey(secret) if secret is not None else PrivateKey()

    @property
    def secret(self) -> bytes:
        return bytes(self._key.secret)

    @property
    def pubkey_hex(self) -> str:
        return PublicKeyXOnly.from_secret(self._key.secret).format().hex()

    def sign_id(self, event_id_hex: str) -> str:
        """BIP-340 signature over a 32-byte event id, with fresh auxiliary randomness."""
        return self._key.sign_schnorr(bytes.fromhex(event_id_hex), os.urandom(32)).hex()

    def sign_event(
        self,
        kind: int,
        content: str,
        tags: Sequence[Sequence[str]] = (),
        created_at: int | None = None,
    ) -> dict[str, Any]:
        """A complete, valid NIP-01 event as the JSON-ready dict a client would send."""
        tag_list = [list(tag) for tag in tags]
        when = int(time.time()) if created_at is None else created_at
        event_id = nip01_id(self.pubkey_hex, when, kind, tag_list, content)
        return {
            "id": event_id,
            "pubkey": self.pubkey_hex,
            "created_at": when,
            "kind": kind,
            "tags": tag_list,
            "content": content,
            "sig": self.sign_id(event_id),
        }

    def nip98_header(
        self,
        url: str,
        method: str,
        body: bytes | None = None,
        created_at: int | None = None,
    ) -> str:
        """``Nostr <base64 event>`` for a request, with a ``payload`` tag when a body is given."""
        tags = [["u", url], ["method", method]]
        if body is not None:
            tags.append(["payload", hashlib.sha256(body).hexdigest()])
        event = self.sign_event(27235, "", tags, created_at)
        return "Nostr " + encode_event(event)


def encode_event(event: dict[str, Any]) -> str:
    """Standard base64 of the event JSON, as NIP-98 carries it."""
    return base64.b64encode(json.dumps(event).encode("utf-8")).decode("ascii")
