"""Identity over real HTTP: challenge → signed event → nostr_token → /me, and NIP-98."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from nostr_keys import NostrKey, encode_event, nip01_id

from timmy.data import identities
from timmy.data.identities import TrustTier
from timmy.db.connection import transaction
from timmy.identity.settings import token_secret
from timmy.nostr import tokens

VERIFY = "/api/identity/verify"


def get_nonce(api: httpx.Client) -> str:
    response = api.post("/api/identity/challenge")
    assert response.status_code == 200
    body = response.json()
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert expires_at > datetime.now(UTC)
    return str(body["nonce"])


def signed_challenge(api: httpx.Client, key: NostrKey, **overrides: Any) -> dict[str, Any]:
    event = key.sign_event(22242, get_nonce(api))
    event.update(overrides)
    return event


def error_code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


def test_a_signed_challenge_yields_a_token_that_opens_me(api: httpx.Client) -> None:
    # Given a fresh key that signs the server's nonce
    key = NostrKey()
    event = signed_challenge(api, key)

    # When it is verified
    response = api.post(VERIFY, json={"event": event, "pubkey": key.pubkey_hex})

    # Then a token naming that key comes back, in the body and the header
    assert response.status_code == 200
    body = response.json()
    assert body["pubkey"] == key.pubkey_hex
    assert body["trust_tier"] == TrustTier.NEW
    assert body["trust"]["tier"] == TrustTier.NEW
    assert body["trust"]["score"] == 0
    assert body["trust"]["next_tier"] == TrustTier.ESTABLISHED
    assert response.headers["x-nostr-token"] == body["nostr_token"]
    assert datetime.fromisoformat(body["expires_at"]) > datetime.now(UTC) + timedelta(hours=23)

    me = api.get("/api/identity/me", headers={"X-Nostr-Token": body["nostr_token"]})
    assert me.status_code == 200
    assert me.json()["pubkey"] == key.pubkey_hex
    assert me.json()["trust_tier"] == TrustTier.NEW


def test_verify_without_the_optional_pubkey_field(api: httpx.Client) -> None:
    key = NostrKey()
    response = api.post(VERIFY, json={"event": signed_challenge(api, key)})
    assert response.status_code == 200
    assert response.json()["pubkey"] == key.pubkey_hex


def test_a_nonce_works_once(api: httpx.Client) -> None:
    key = NostrKey()
    event = signed_challenge(api, key)
    assert api.post(VERIFY, json={"event": event}).status_code == 200

    again = api.post(VERIFY, json={"event": event})

    assert again.status_code == 401
    assert error_code(again) == "nonce_used"


def test_a_failed_verification_does_not_burn_the_nonce(api: httpx.Client) -> None:
    # Given a nonce someone else submits with a forged signature first
    key = NostrKey()
    event = signed_challenge(api, key)
    forged = dict(event, sig=NostrKey().sign_id(event["id"]))
    assert error_code(api.post(VERIFY, json={"event": forged})) == "invalid_signature"

    # Then the genuine owner can still use it
    assert api.post(VERIFY, json={"event": event}).status_code == 200


def _tampered_content(api: httpx.Client, key: NostrKey) -> dict[str, Any]:
    event = signed_challenge(api, key)
    return dict(event, content=get_nonce(api))


def _tampered_id(api: httpx.Client, key: NostrKey) -> dict[str, Any]:
    event = signed_challenge(api, key)
    return dict(event, id="0" * 64)


def _rehashed_without_resigning(api: httpx.Client, key: NostrKey) -> dict[str, Any]:
    event = signed_challenge(api, key)
    content = get_nonce(api)
    new_id = nip01_id(event["pubkey"], event["created_at"], event["kind"], event["tags"], content)
    return dict(event, content=content, id=new_id)


def _signed_by_another_key(api: httpx.Client, key: NostrKey) -> dict[str, Any]:
    event = signed_challenge(api, key)
    return dict(event, sig=NostrKey().sign_id(event["id"]))


def _pubkey_not_on_the_curve(api: httpx.Client, key: NostrKey) -> dict[str, Any]:
    # x = 5 has no point on secp256k1: coincurve raises ValueError, which must be a 401.
    nonce = get_nonce(api)
    pubkey = "00" * 31 + "05"
    created = int(time.time())
    event_id = nip01_id(pubkey, created, 22242, [], nonce)
    return {
        "id": event_id,
        "pubkey": pubkey,
        "created_at": created,
        "kind": 22242,
        "tags": [],
        "content": nonce,
        "sig": key.sign_id(event_id),
    }


def _stale(api: httpx.Client, key: NostrKey) -> dict[str, Any]:
    return key.sign_event(22242, get_nonce(api), created_at=int(time.time()) - 3600)


def _from_the_future(api: httpx.Client, key: NostrKey) -> dict[str, Any]:
    return key.sign_event(22242, get_nonce(api), created_at=int(time.time()) + 3600)


def _unknown_nonce(api: httpx.Client, key: NostrKey) -> dict[str, Any]:
    return key.sign_event(22242, "ab" * 32)


def _content_is_not_a_nonce(api: httpx.Client, key: NostrKey) -> dict[str, Any]:
    return key.sign_event(22242, "hello")


@pytest.mark.parametrize(
    ("build", "code"),
    [
        (_tampered_content, "invalid_event_id"),
        (_tampered_id, "invalid_event_id"),
        (_rehashed_without_resigning, "invalid_signature"),
        (_signed_by_another_key, "invalid_signature"),
        (_pubkey_not_on_the_curve, "invalid_signature"),
        (_stale, "stale_event"),
        (_from_the_future, "stale_event"),
        (_unknown_nonce, "unknown_nonce"),
        (_content_is_not_a_nonce, "unknown_nonce"),
    ],
)
def test_each_bad_event_has_its_own_401(api: httpx.Client, build: Any, code: str) -> None:
    response = api.post(VERIFY, json={"event": build(api, NostrKey())})
    assert response.status_code == 401
    assert error_code(response) == code


def test_an_expired_nonce_is_refused(api: httpx.Client) -> None:
    # Given a challenge whose time ran out
    nonce = "cd" * 32
    with transaction() as tx:
        identities.insert_challenge(tx, nonce, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    response = api.post(VERIFY, json={"event": NostrKey().sign_event(22242, nonce)})
    assert response.status_code == 401
    assert error_code(response) == "nonce_expired"


def test_a_pubkey_field_that_differs_from_the_signer_is_refused(api: httpx.Client) -> None:
    key = NostrKey()
    event = signed_challenge(api, key)
    response = api.post(VERIFY, json={"event": event, "pubkey": NostrKey().pubkey_hex})
    assert response.status_code == 401
    assert error_code(response) == "pubkey_mismatch"
    # and the nonce is still usable by its signer
    assert api.post(VERIFY, json={"event": event}).status_code == 200


def test_a_malformed_event_is_a_400(api: httpx.Client) -> None:
    event = signed_challenge(api, NostrKey())
    event["created_at"] = str(event["created_at"])
    response = api.post(VERIFY, json={"event": event})
    assert response.status_code == 400


def test_no_credentials_at_all_is_a_401(api: httpx.Client) -> None:
    for response in (api.post(VERIFY), api.post(VERIFY, json={})):
        assert response.status_code == 401
        assert error_code(response) == "missing_credentials"


# ---------------------------------------------------------------- /me and tokens


def test_me_needs_a_token(api: httpx.Client) -> None:
    response = api.get("/api/identity/me")
    assert response.status_code == 401
    assert error_code(response) == "missing_token"


@pytest.mark.parametrize("token", ["garbage", "v1." + "a" * 64 + ".1.x"])
def test_me_with_a_malformed_token_is_a_401(api: httpx.Client, token: str) -> None:
    response = api.get("/api/identity/me", headers={"X-Nostr-Token": token})
    assert response.status_code == 401
    assert error_code(response) == "invalid_token"


def test_me_with_a_tampered_token_is_a_401(api: httpx.Client) -> None:
    key = NostrKey()
    token = api.post(VERIFY, json={"event": signed_challenge(api, key)}).json()["nostr_token"]
    # Re-point the token at another key, keeping the MAC
    other = NostrKey().pubkey_hex
    forged = token.replace(key.pubkey_hex, other)
    response = api.get("/api/identity/me", headers={"X-Nostr-Token": forged})
    assert response.status_code == 401
    assert error_code(response) == "invalid_token"


def test_me_with_an_expired_token_is_a_401(api: httpx.Client) -> None:
    key = NostrKey()
    token, _ = tokens.issue_token(
        key.pubkey_hex, secret=token_secret(), now=int(time.time()) - 7200, ttl_seconds=3600
    )
    response = api.get("/api/identity/me", headers={"X-Nostr-Token": token})
    assert response.status_code == 401
    assert error_code(response) == "token_expired"


def test_cors_allows_and_exposes_the_nostr_token_on_identity(api: httpx.Client) -> None:
    preflight = api.options(
        "/api/identity/me",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "x-nostr-token",
        },
    )
    assert preflight.status_code in (200, 204)
    assert "x-nostr-token" in preflight.headers["access-control-allow-headers"].lower()
    response = api.post("/api/identity/challenge", headers={"Origin": "https://app.example"})
    assert "x-nostr-token" in response.headers["access-control-expose-headers"].lower()


# ---------------------------------------------------------------- NIP-98


@pytest.fixture
def verify_url(gateway_url: str) -> str:
    return gateway_url.rstrip("/") + VERIFY


def nip98_post(
    api: httpx.Client, header: str, body: bytes | None = None, **extra: str
) -> httpx.Response:
    # The local gateway speaks plain HTTP; API Gateway sets this header itself.
    headers = {"Authorization": header, "X-Forwarded-Proto": "http", **extra}
    if body is not None:
        headers["Content-Type"] = "application/json"
    return api.post(VERIFY, content=body, headers=headers)


def test_nip98_header_yields_a_token(api: httpx.Client, verify_url: str) -> None:
    key = NostrKey()
    response = nip98_post(api, key.nip98_header(verify_url, "POST"))
    assert response.status_code == 200
    token = response.json()["nostr_token"]
    assert response.json()["pubkey"] == key.pubkey_hex
    me = api.get("/api/identity/me", headers={"X-Nostr-Token": token})
    assert me.json()["pubkey"] == key.pubkey_hex


def test_nip98_with_a_body_checks_its_payload_hash(api: httpx.Client, verify_url: str) -> None:
    key = NostrKey()
    body = json.dumps({"pubkey": key.pubkey_hex}).encode()
    response = nip98_post(api, key.nip98_header(verify_url, "POST", body=body), body)
    assert response.status_code == 200
    assert response.json()["pubkey"] == key.pubkey_hex


def test_nip98_honours_the_public_base_url(
    api: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from timmy.runtime import reset_caches

    monkeypatch.setenv("PUBLIC_BASE_URL", "https://timmy.example/")
    reset_caches()
    key = NostrKey()
    header = key.nip98_header("https://timmy.example/api/identity/verify", "POST")
    response = api.post(VERIFY, headers={"Authorization": header})
    assert response.status_code == 200


def test_nip98_event_cannot_be_replayed(api: httpx.Client, verify_url: str) -> None:
    header = NostrKey().nip98_header(verify_url, "POST")
    assert nip98_post(api, header).status_code == 200
    replay = nip98_post(api, header)
    assert replay.status_code == 401
    assert error_code(replay) == "replayed_event"


def _nip98_wrong_url(key: NostrKey, url: str) -> tuple[str, bytes | None]:
    return key.nip98_header(url.replace("/verify", "/challenge"), "POST"), None


def _nip98_other_host(key: NostrKey, url: str) -> tuple[str, bytes | None]:
    return key.nip98_header("http://other.example/api/identity/verify", "POST"), None


def _nip98_wrong_method(key: NostrKey, url: str) -> tuple[str, bytes | None]:
    return key.nip98_header(url, "GET"), None


def _nip98_wrong_payload(key: NostrKey, url: str) -> tuple[str, bytes | None]:
    return key.nip98_header(url, "POST", body=b'{"a":1}'), b'{"a":2}'


def _nip98_body_without_payload_tag(key: NostrKey, url: str) -> tuple[str, bytes | None]:
    return key.nip98_header(url, "POST"), b"{}"


def _nip98_stale(key: NostrKey, url: str) -> tuple[str, bytes | None]:
    return key.nip98_header(url, "POST", created_at=int(time.time()) - 120), None


def _nip98_wrong_kind(key: NostrKey, url: str) -> tuple[str, bytes | None]:
    event = key.sign_event(1, "", [["u", url], ["method", "POST"]])
    return "Nostr " + encode_event(event), None


def _nip98_bad_signature(key: NostrKey, url: str) -> tuple[str, bytes | None]:
    event = key.sign_event(27235, "", [["u", url], ["method", "POST"]])
    event["sig"] = NostrKey().sign_id(event["id"])
    return "Nostr " + encode_event(event), None


def _nip98_not_base64(key: NostrKey, url: str) -> tuple[str, bytes | None]:
    return "Nostr !!!not-base64!!!", None


@pytest.mark.parametrize(
    ("build", "code"),
    [
        (_nip98_wrong_url, "url_mismatch"),
        (_nip98_other_host, "url_mismatch"),
        (_nip98_wrong_method, "method_mismatch"),
        (_nip98_wrong_payload, "payload_mismatch"),
        (_nip98_body_without_payload_tag, "payload_mismatch"),
        (_nip98_stale, "stale_event"),
        (_nip98_wrong_kind, "wrong_kind"),
        (_nip98_bad_signature, "invalid_signature"),
        (_nip98_not_base64, "invalid_auth_header"),
    ],
)
def test_each_bad_nip98_header_has_its_own_401(
    api: httpx.Client, verify_url: str, build: Any, code: str
) -> None:
    header, body = build(NostrKey(), verify_url)
    response = nip98_post(api, header, body)
    assert response.status_code == 401
    assert error_code(response) == code


def test_nip98_ignores_a_spoofed_forwarded_host(api: httpx.Client) -> None:
    # An event signed for another service must not be usable here by naming that host.
    header = NostrKey().nip98_header("http://other.example/api/identity/verify", "POST")
    response = nip98_post(api, header, **{"X-Forwarded-Host": "other.example"})
    assert response.status_code == 401
    assert error_code(response) == "url_mismatch"


def test_nip98_pubkey_field_must_match(api: httpx.Client, verify_url: str) -> None:
    key = NostrKey()
    body = json.dumps({"pubkey": NostrKey().pubkey_hex}).encode()
    response = nip98_post(api, key.nip98_header(verify_url, "POST", body=body), body)
    assert response.status_code == 401
    assert error_code(response) == "pubkey_mismatch"


def test_event_and_nip98_header_together_are_ambiguous(api: httpx.Client, verify_url: str) -> None:
    key = NostrKey()
    body = json.dumps({"event": signed_challenge(api, key)}).encode()
    response = nip98_post(api, key.nip98_header(verify_url, "POST", body=body), body)
    assert response.status_code == 400
    assert error_code(response) == "conflicting_credentials"
