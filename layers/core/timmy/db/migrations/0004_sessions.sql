-- Sessions: a pre-funded balance spent request by request, and the record of each request.
--
-- The session's state is derived, not stored: unpaid while paid_at is NULL; expired once
-- now() passes lifetime_ends_at or last_activity_at + the configured idle time; paused while
-- the balance is below the minimum request cost; active otherwise. Storing only timestamps
-- keeps every transition exact without a sweeper.

CREATE TABLE sessions (
    id                   uuid PRIMARY KEY,
    nostr_pubkey         text REFERENCES nostr_identities (pubkey),
    deposit_sats         bigint NOT NULL CHECK (deposit_sats > 0),
    deposit_payment_hash text NOT NULL UNIQUE REFERENCES invoices (payment_hash),
    -- The top-up invoice issued last; cleared when it is paid.
    pending_topup_hash   text UNIQUE REFERENCES invoices (payment_hash),
    -- Reserved estimates of running requests are already subtracted: the database itself
    -- makes an overspend impossible.
    balance_sats         bigint NOT NULL DEFAULT 0 CHECK (balance_sats >= 0),
    paid_at              timestamptz,
    lifetime_ends_at     timestamptz,
    last_activity_at     timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CHECK ((paid_at IS NULL) = (lifetime_ends_at IS NULL)),
    CHECK ((paid_at IS NULL) = (last_activity_at IS NULL)),
    CHECK (paid_at IS NOT NULL OR balance_sats = 0)
);
CREATE INDEX sessions_nostr_pubkey_idx ON sessions (nostr_pubkey) WHERE nostr_pubkey IS NOT NULL;

CREATE TABLE session_requests (
    id                      uuid PRIMARY KEY,
    session_id              uuid NOT NULL REFERENCES sessions (id),
    -- reserved: the estimate is held from the balance while the AI works;
    -- complete: settled (charged_sats debited, the rest returned); failed: all returned.
    state                   text NOT NULL DEFAULT 'reserved'
                            CHECK (state IN ('reserved', 'complete', 'failed')),
    model                   text NOT NULL,
    btc_price_usd           numeric NOT NULL CHECK (btc_price_usd > 0),
    estimated_input_tokens  integer NOT NULL CHECK (estimated_input_tokens >= 0),
    estimated_output_tokens integer NOT NULL CHECK (estimated_output_tokens >= 0),
    estimate_sats           bigint NOT NULL CHECK (estimate_sats >= 0),
    reserved_sats           bigint NOT NULL CHECK (reserved_sats >= 0),
    input_tokens            integer CHECK (input_tokens >= 0),
    output_tokens           integer CHECK (output_tokens >= 0),
    cost_sats               bigint CHECK (cost_sats >= 0),
    charged_sats            bigint CHECK (charged_sats >= 0 AND charged_sats <= reserved_sats),
    -- The part of the cost the free tier paid for (the free tier decides it; 0 until then).
    absorbed_sats           bigint NOT NULL DEFAULT 0 CHECK (absorbed_sats >= 0),
    error_code              text,
    created_at              timestamptz NOT NULL DEFAULT now(),
    finished_at             timestamptz,
    CHECK ((state = 'complete') = (charged_sats IS NOT NULL)),
    CHECK ((state = 'reserved') = (finished_at IS NULL)),
    CHECK (state <> 'failed' OR error_code IS NOT NULL)
);
CREATE INDEX session_requests_session_idx ON session_requests (session_id, created_at);
