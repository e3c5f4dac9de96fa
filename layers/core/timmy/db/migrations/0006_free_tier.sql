-- Free tier: the generosity pool (one typed row) and the append-only grants audit log.

CREATE TABLE generosity_pool (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    balance_sats bigint NOT NULL CHECK (balance_sats >= 0),
    seeded_at    timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE free_tier_grants (
    id                 bigserial PRIMARY KEY,
    pubkey             text NOT NULL REFERENCES nostr_identities (pubkey),
    request_hash       text NOT NULL,
    sats_absorbed      bigint NOT NULL CHECK (sats_absorbed > 0),
    pool_balance_after bigint NOT NULL CHECK (pool_balance_after >= 0),
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX free_tier_grants_pubkey_idx ON free_tier_grants (pubkey, created_at);

-- The audit log is append-only: the database itself refuses to change or remove a grant.
CREATE FUNCTION free_tier_grants_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'free_tier_grants is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER free_tier_grants_no_update_or_delete
    BEFORE UPDATE OR DELETE ON free_tier_grants
    FOR EACH ROW EXECUTE FUNCTION free_tier_grants_append_only();
