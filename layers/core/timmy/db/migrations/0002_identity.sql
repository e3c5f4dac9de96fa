-- Identity: Nostr identities and their trust, and single-use login challenges.

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
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE identity_challenges (
    nonce       text PRIMARY KEY,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX identity_challenges_expires_idx ON identity_challenges (expires_at);
