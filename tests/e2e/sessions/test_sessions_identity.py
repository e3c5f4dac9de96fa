"""Sessions bound to a Nostr identity: tier in every response, trust moved by paid work."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from nostr_keys import NostrKey

from timmy import freetier, identity
from timmy.data.identities import TrustTier
from timmy.db.connection import db

if TYPE_CHECKING:
    from conftest import Sessions


def new_token() -> tuple[str, str]:
    pubkey = NostrKey().pubkey_hex
    token, _ = identity.issue_token(pubkey)
    return pubkey, token


def counts(pubkey: str) -> dict[str, Any] | None:
    return db().one(
        "SELECT success_count, failure_count FROM nostr_identities WHERE pubkey = :p", p=pubkey
    )


@pytest.mark.parametrize("where", ["header", "body", "both"])
def test_a_valid_token_binds_the_session_to_its_identity(sessions: Sessions, where: str) -> None:
    pubkey, token = new_token()
    extra: dict[str, Any] = {}
    if where in ("header", "both"):
        extra["headers"] = {"X-Nostr-Token": token}
    if where in ("body", "both"):
        extra["nostr_token"] = token

    created = sessions.open(1_000, **extra)

    assert created["trust_tier"] == TrustTier.NEW
    bound = db().scalar(
        "SELECT nostr_pubkey FROM sessions WHERE id = :id", id=created["session_id"]
    )
    assert bound == pubkey
    assert sessions.get(created["session_id"])["trust_tier"] == TrustTier.NEW


@pytest.mark.parametrize(
    ("token", "code"),
    [
        ("garbage", "invalid_token"),
        ("v1." + "ab" * 32 + ".9999999999." + "A" * 43, "invalid_token"),
    ],
)
def test_an_invalid_token_is_refused_and_nothing_is_stored(
    sessions: Sessions, token: str, code: str
) -> None:
    for response in (
        sessions.create(1_000, headers={"X-Nostr-Token": token}),
        sessions.create(1_000, nostr_token=token),
    ):
        assert response.status_code == 401
        assert response.json()["error"]["code"] == code
    assert sessions.count("sessions") == 0
    assert sessions.count("invoices") == 0
    assert sessions.count("nostr_identities") == 0


def test_an_expired_token_is_refused(sessions: Sessions) -> None:
    pubkey = NostrKey().pubkey_hex
    token, _ = identity.issue_token(pubkey, now=1_000_000)
    response = sessions.create(1_000, nostr_token=token)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_expired"
    assert sessions.count("sessions") == 0


def test_two_different_tokens_conflict(sessions: Sessions) -> None:
    _, first = new_token()
    _, second = new_token()
    response = sessions.create(1_000, nostr_token=first, headers={"X-Nostr-Token": second})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "conflicting_tokens"
    assert sessions.count("sessions") == 0


def test_paid_work_records_a_success_and_a_failed_ai_call_a_failure(sessions: Sessions) -> None:
    # Given a paid session bound to an identity
    pubkey, token = new_token()
    session_id, macaroon = sessions.open_paid(1_000, nostr_token=token)
    assert counts(pubkey) == {"success_count": 0, "failure_count": 0}

    # When a request succeeds
    ok = sessions.request(session_id, macaroon)
    assert ok.status_code == 200
    assert ok.json()["trust_tier"] == TrustTier.NEW
    assert counts(pubkey) == {"success_count": 1, "failure_count": 0}

    # When the AI fails on the next one
    failed = sessions.request(session_id, macaroon, "Try [[fail-work:retryable]]")
    assert failed.status_code == 503
    assert counts(pubkey) == {"success_count": 1, "failure_count": 1}


def test_refusals_before_any_work_do_not_move_trust(sessions: Sessions) -> None:
    pubkey, token = new_token()
    session_id, macaroon = sessions.open_paid(100, nostr_token=token)
    assert sessions.request(session_id, None).status_code == 401
    assert sessions.request(session_id, macaroon, "").status_code == 400
    assert counts(pubkey) == {"success_count": 0, "failure_count": 0}


def test_an_anonymous_session_reports_the_anonymous_tier_everywhere(sessions: Sessions) -> None:
    session_id, macaroon = sessions.open_paid(1_000)
    assert sessions.get(session_id)["trust_tier"] == TrustTier.ANONYMOUS
    assert sessions.request(session_id, macaroon).json()["trust_tier"] == TrustTier.ANONYMOUS
    assert sessions.topup(session_id, 500).json()["trust_tier"] == TrustTier.ANONYMOUS
    assert sessions.count("nostr_identities") == 0


def test_free_requests_do_not_farm_trust(sessions: Sessions, clean_db: None) -> None:
    # Regression (hardening issue, finding 2): a new identity paid for its first requests, was
    # promoted, and then climbed to elite on requests the pool paid for.
    freetier.seed_pool()
    pubkey, token = new_token()
    session_id, macaroon = sessions.open_paid(1_000, nostr_token=token)

    charged = absorbed = 0
    for _ in range(40):
        response = sessions.request(session_id, macaroon, "hi")
        assert response.status_code == 200, response.text
        charged += response.json()["charged_sats"]
        absorbed += response.json()["absorbed_sats"]

    # Trust is what was paid: a point per 10 sats, within the day's cap of 20
    score = db().scalar("SELECT trust_score FROM nostr_identities WHERE pubkey = :p", p=pubkey)
    assert score == min(20, charged // 10)
    assert identity.tier_of(pubkey) == TrustTier.NEW
    assert absorbed == 0  # still new: the pool paid nothing
