-- Identity: Nostr identities and their trust, single-use login challenges, and the NIP-98
-- auth events already used (replay protection inside their time window).

CREATE TABLE nostr_identities (
    pubkey              text PRIMARY KEY CHECK (pubkey ~ '^[0-9a-f]{64}$'),
    trust_score         integer NOT NULL DEFAULT 0 CHECK (trust_score >= 0),
    tier                text NOT NULL DEFAULT 'new'
                        CHECK (tier IN ('new', 'established', 'trusted', 'elite')),
    interaction_count   integer NOT NULL DEFAULT 0 CHECK (interaction_count >= 0),
    success_count       integer NOT NULL DEFAULT 0 CHECK (success_count >= 0),
    failure_count       integer NOT NULL DEFAULT 0 CHECK (failure_count >= 0),
    sats_absorbed_today bigint NOT NULL DEFAULT 0 CHECK (sats_absorbed_today >= 0),
    absorbed_reset_at   timestamptz NOT NULL DEFAULT now(),
    last_seen           timestamptz NOT NULL DEFAULT now(),
    -- End of the absence already charged by the lazy decay (NULL: none yet). Decay counts
    -- whole periods from GREATEST(last_seen, decayed_through), so reading twice never decays
    -- twice for the same absence.
    decayed_through     timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- Trust arithmetic, shared by every statement that reads or changes a score (inlined by the
-- planner). The lazy decay multiplies the score by `keep` once per whole `period_seconds` of
-- absence; thresholds and factors come from the application's settings as arguments.
CREATE FUNCTION trust_decay_periods(since timestamptz, at timestamptz, period_seconds integer)
RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CAST(GREATEST(0, FLOOR(EXTRACT(EPOCH FROM (at - since)) / period_seconds)) AS integer)
$$;

CREATE FUNCTION trust_decayed_score(score integer, periods integer, keep numeric)
RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN periods <= 0 THEN score
                ELSE CAST(FLOOR(score * POWER(keep, periods)) AS integer) END
$$;

CREATE FUNCTION trust_tier(score integer, established integer, trusted integer, elite integer)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN score >= elite THEN 'elite'
                WHEN score >= trusted THEN 'trusted'
                WHEN score >= established THEN 'established'
                ELSE 'new' END
$$;

CREATE TABLE identity_challenges (
    nonce       text PRIMARY KEY CHECK (nonce ~ '^[0-9a-f]{64}$'),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    -- Who consumed it (audit only; a challenge is not bound to a key before it is used).
    used_by     text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX identity_challenges_expires_idx ON identity_challenges (expires_at);

CREATE TABLE nostr_auth_events (
    event_id    text PRIMARY KEY CHECK (event_id ~ '^[0-9a-f]{64}$'),
    pubkey      text NOT NULL,
    -- After this instant the event is outside its window and is refused as stale anyway,
    -- so the row only needs to outlive it.
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX nostr_auth_events_expires_idx ON nostr_auth_events (expires_at);
