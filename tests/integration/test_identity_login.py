"""Challenge and NIP-98 login against real PostgreSQL, with a controlled clock."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from nostr_keys import NostrKey

import timmy.identity as identity
from timmy.data.identities import TrustTier
from timmy.db.connection import db, reset_connection
from timmy.identity import login
from timmy.nostr import tokens
from timmy.nostr.events import StaleEvent as StaleEventError
from timmy.runtime import reset_caches
from timmy.settings import ConfigurationError

URL = "https://api.timmy.example/api/identity/verify"


@pytest.fixture
def t0(clean_db: None) -> datetime:
    return identity.utcnow() + timedelta(minutes=1)


def sign_nonce(key: NostrKey, nonce: str, at: datetime) -> dict[str, object]:
    return key.sign_event(22242, nonce, created_at=int(at.timestamp()))


def test_a_login_issues_a_token_and_marks_the_identity_seen(t0: datetime) -> None:
    key = NostrKey()
    challenge = login.issue_challenge(now=t0)
    assert challenge.expires_at == t0 + timedelta(seconds=300)

    result = login.verify_signed_challenge(sign_nonce(key, challenge.nonce, t0), now=t0)

    assert result.profile.pubkey == key.pubkey_hex
    assert result.expires_at == datetime.fromtimestamp(int(t0.timestamp()) + 86_400, t0.tzinfo)
    assert identity.resolve_token(result.nostr_token, now=int(t0.timestamp())) == key.pubkey_hex
    row = db().one("SELECT last_seen, interaction_count FROM nostr_identities")
    assert row == {"last_seen": t0, "interaction_count": 0}
    used = db().one("SELECT used_at, used_by FROM identity_challenges")
    assert used == {"used_at": t0, "used_by": key.pubkey_hex}


def test_a_nonce_expires_with_its_ttl(t0: datetime) -> None:
    challenge = login.issue_challenge(now=t0)
    late = t0 + timedelta(seconds=300)
    with pytest.raises(login.NonceExpired):
        login.verify_signed_challenge(sign_nonce(NostrKey(), challenge.nonce, late), now=late)


def test_the_challenge_ttl_is_configurable(t0: datetime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDENTITY_CHALLENGE_TTL_SECONDS", "30")
    reset_caches()
    challenge = login.issue_challenge(now=t0)
    assert challenge.expires_at == t0 + timedelta(seconds=30)


def test_an_event_older_than_the_max_age_is_stale(t0: datetime) -> None:
    challenge = login.issue_challenge(now=t0)
    event = sign_nonce(NostrKey(), challenge.nonce, t0 - timedelta(seconds=301))
    with pytest.raises(StaleEventError):
        login.verify_signed_challenge(event, now=t0)
    # 300 s old is still fresh
    event = sign_nonce(NostrKey(), challenge.nonce, t0 - timedelta(seconds=300))
    assert login.verify_signed_challenge(event, now=t0).profile.tier == TrustTier.NEW


def test_logging_in_after_an_absence_applies_the_decay_first(
    t0: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRUST_MAX_POINTS_PER_DAY", "50")  # all of it earned in one day
    reset_caches()
    key = NostrKey()
    for _ in range(10):
        identity.record_success(key.pubkey_hex, paid_sats=50, now=t0)  # 5 points each: 50
    back = t0 + timedelta(days=31)
    challenge = login.issue_challenge(now=back)

    result = login.verify_signed_challenge(sign_nonce(key, challenge.nonce, back), now=back)

    assert (result.profile.score, result.profile.tier) == (45, TrustTier.ESTABLISHED)
    assert result.profile.last_seen == back


def test_long_expired_challenges_are_swept_when_new_ones_are_issued(t0: datetime) -> None:
    old = login.issue_challenge(now=t0 - timedelta(days=3))
    recent = login.issue_challenge(now=t0 - timedelta(hours=1))
    login.issue_challenge(now=t0)
    nonces = {row["nonce"] for row in db().all("SELECT nonce FROM identity_challenges")}
    assert old.nonce not in nonces
    assert recent.nonce in nonces  # still answers nonce_expired, not unknown_nonce


def _race(workers: int, attempt: object) -> tuple[list[object], list[BaseException]]:
    barrier = threading.Barrier(workers)
    results: list[object] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run() -> None:
        try:
            barrier.wait()
            outcome = attempt()  # type: ignore[operator]
            with lock:
                results.append(outcome)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            with lock:
                errors.append(exc)
        finally:
            reset_connection()

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


def test_concurrent_verifies_of_one_nonce_yield_exactly_one_token(t0: datetime) -> None:
    # Given one signed challenge submitted by 20 clients at the same instant
    challenge = login.issue_challenge(now=t0)
    event = sign_nonce(NostrKey(), challenge.nonce, t0)

    results, errors = _race(20, lambda: login.verify_signed_challenge(event, now=t0))

    # Then exactly one gets a token, and every other one is told the nonce is used
    assert len(results) == 1
    assert len(errors) == 19
    assert all(isinstance(e, login.NonceUsed) for e in errors), errors


def test_concurrent_replays_of_one_nip98_event_yield_exactly_one_token(t0: datetime) -> None:
    header = NostrKey().nip98_header(URL, "POST", created_at=int(t0.timestamp()))

    def attempt() -> login.Login:
        return login.verify_http_auth(header, url=URL, method="POST", body=None, now=t0)

    results, errors = _race(20, attempt)

    assert len(results) == 1
    assert len(errors) == 19
    assert all(isinstance(e, login.ReplayedEvent) for e in errors), errors


def test_used_nip98_ids_are_forgotten_once_their_window_has_passed(t0: datetime) -> None:
    old = NostrKey().nip98_header(URL, "POST", created_at=int(t0.timestamp()))
    login.verify_http_auth(old, url=URL, method="POST", body=None, now=t0)
    assert db().scalar("SELECT count(*) FROM nostr_auth_events") == 1

    later = t0 + timedelta(seconds=62)
    fresh = NostrKey().nip98_header(URL, "POST", created_at=int(later.timestamp()))
    login.verify_http_auth(fresh, url=URL, method="POST", body=None, now=later)

    assert db().scalar("SELECT count(*) FROM nostr_auth_events") == 1
    # ...and the old one could not come back anyway: it is outside its window
    with pytest.raises(StaleEventError):
        login.verify_http_auth(old, url=URL, method="POST", body=None, now=later)


def test_the_nip98_window_is_configurable(t0: datetime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NIP98_WINDOW_SECONDS", "10")
    reset_caches()
    header = NostrKey().nip98_header(URL, "POST", created_at=int(t0.timestamp()) - 11)
    with pytest.raises(StaleEventError):
        login.verify_http_auth(header, url=URL, method="POST", body=None, now=t0)


# ---------------------------------------------------------------- tokens and secrets


def test_resolve_token(t0: datetime) -> None:
    key = NostrKey()
    now = int(t0.timestamp())
    token, expires_at = identity.issue_token(key.pubkey_hex, now=now)
    assert expires_at == now + 86_400
    assert identity.resolve_token(None) is None
    assert identity.resolve_token("") is None
    assert identity.resolve_token(token, now=expires_at - 1) == key.pubkey_hex
    with pytest.raises(tokens.TokenExpired):
        identity.resolve_token(token, now=expires_at)
    with pytest.raises(tokens.InvalidToken):
        identity.resolve_token(token[:-1] + ("A" if token[-1] != "A" else "B"), now=now)
    with pytest.raises(tokens.InvalidToken):
        identity.resolve_token("   ", now=now)


def test_the_token_ttl_is_configurable(t0: datetime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOSTR_TOKEN_TTL_SECONDS", "600")
    reset_caches()
    _, expires_at = identity.issue_token(NostrKey().pubkey_hex, now=1_000)
    assert expires_at == 1_600


def test_tokens_are_bound_to_the_server_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    key = NostrKey()
    dev_token, _ = identity.issue_token(key.pubkey_hex, now=1_000)

    monkeypatch.setenv("SERVER_SECRET", "a-real-server-secret-0123456789abcdef")
    reset_caches()
    with pytest.raises(tokens.InvalidToken):
        identity.resolve_token(dev_token, now=1_001)
    real_token, _ = identity.issue_token(key.pubkey_hex, now=1_000)
    assert identity.resolve_token(real_token, now=1_001) == key.pubkey_hex


def test_no_dev_secret_outside_dev(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAGE", "prod")
    monkeypatch.setenv("DEV_MODE", "false")
    monkeypatch.delenv("SERVER_SECRET", raising=False)
    reset_caches()
    with pytest.raises(ConfigurationError, match="SERVER_SECRET"):
        identity.resolve_token("v1.whatever")
    with pytest.raises(ConfigurationError, match="SERVER_SECRET"):
        identity.issue_token(NostrKey().pubkey_hex)


def sign_nip42(key: NostrKey, nonce: str, at: datetime) -> dict[str, object]:
    """The NIP-42 AUTH shape: kind 22242, empty content, relay and challenge tags."""
    tags = [["relay", "wss://relay.timmy.example"], ["challenge", nonce]]
    return key.sign_event(22242, "", tags, created_at=int(at.timestamp()))


def test_the_nip42_auth_shape_logs_in_and_consumes_the_nonce(t0: datetime) -> None:
    key = NostrKey()
    challenge = login.issue_challenge(now=t0)

    result = login.verify_signed_challenge(sign_nip42(key, challenge.nonce, t0), now=t0)

    assert result.profile.pubkey == key.pubkey_hex
    assert identity.resolve_token(result.nostr_token, now=int(t0.timestamp())) == key.pubkey_hex
    used = db().one("SELECT used_at, used_by FROM identity_challenges")
    assert used == {"used_at": t0, "used_by": key.pubkey_hex}
    # Either shape uses the nonce up: the content form cannot replay it.
    with pytest.raises(login.NonceUsed):
        login.verify_signed_challenge(sign_nonce(key, challenge.nonce, t0), now=t0)


def test_a_challenge_tag_counts_only_on_kind_22242(t0: datetime) -> None:
    challenge = login.issue_challenge(now=t0)
    event = NostrKey().sign_event(
        1, "", [["challenge", challenge.nonce]], created_at=int(t0.timestamp())
    )
    with pytest.raises(login.UnknownNonce):
        login.verify_signed_challenge(event, now=t0)
    assert db().scalar("SELECT used_at FROM identity_challenges") is None


def test_an_event_naming_two_challenges_is_refused_and_burns_neither(t0: datetime) -> None:
    from timmy.nostr.events import MalformedEvent

    first, second = login.issue_challenge(now=t0), login.issue_challenge(now=t0)
    at = int(t0.timestamp())
    key = NostrKey()
    disagreeing = key.sign_event(22242, first.nonce, [["challenge", second.nonce]], created_at=at)
    doubled = key.sign_event(
        22242, "", [["challenge", first.nonce], ["challenge", second.nonce]], created_at=at
    )
    for event in (disagreeing, doubled):
        with pytest.raises(MalformedEvent):
            login.verify_signed_challenge(event, now=t0)
    assert db().scalar("SELECT count(*) FROM identity_challenges WHERE used_at IS NULL") == 2
    # Content and tag agreeing is one challenge, not two.
    agreeing = key.sign_event(22242, first.nonce, [["challenge", first.nonce]], created_at=at)
    assert login.verify_signed_challenge(agreeing, now=t0).profile.pubkey == key.pubkey_hex


def test_a_forged_nip42_event_never_burns_the_nonce(t0: datetime) -> None:
    from timmy.nostr.events import InvalidSignature

    challenge = login.issue_challenge(now=t0)
    event = sign_nip42(NostrKey(), challenge.nonce, t0)
    event["sig"] = NostrKey().sign_id(str(event["id"]))  # signed by someone else
    with pytest.raises(InvalidSignature):
        login.verify_signed_challenge(event, now=t0)
    assert db().scalar("SELECT used_at FROM identity_challenges") is None
