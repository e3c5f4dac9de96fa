-- Prepaid accounts: a balance in sats behind a bearer token (the peer's X-Token), stored only
-- as its sha256. Every change of a balance is a row of account_ledger written in the same
-- transaction (timmy.data.accounts), so the ledger of an account always sums to its balance.

CREATE TABLE accounts (
    id            uuid PRIMARY KEY,
    token_sha256  text NOT NULL UNIQUE CHECK (token_sha256 ~ '^[0-9a-f]{64}$'),
    balance_sats  bigint NOT NULL DEFAULT 0 CHECK (balance_sats >= 0),
    nostr_pubkey  text REFERENCES nostr_identities (pubkey),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX accounts_nostr_pubkey_idx ON accounts (nostr_pubkey) WHERE nostr_pubkey IS NOT NULL;

CREATE TABLE account_ledger (
    id          bigserial PRIMARY KEY,
    account_id  uuid NOT NULL REFERENCES accounts (id),
    -- Positive credits, negative debits; never zero (a no-op is not a change of balance).
    amount_sats bigint NOT NULL CHECK (amount_sats <> 0),
    reason      text NOT NULL CHECK (reason IN (
                    'topup', 'withdrawal', 'withdrawal_fee_return', 'withdrawal_failed')),
    -- What moved it: a top-up's payment hash, a payout's id.
    reference   text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX account_ledger_account_idx ON account_ledger (account_id, id);
-- A paid top-up credits its account once, whoever confirms it.
CREATE UNIQUE INDEX account_ledger_one_topup ON account_ledger (reference) WHERE reason = 'topup';

-- The ledger is append-only: the database itself refuses to change or remove a row.
CREATE FUNCTION account_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'account_ledger is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER account_ledger_no_update_or_delete
    BEFORE UPDATE OR DELETE ON account_ledger
    FOR EACH ROW EXECUTE FUNCTION account_ledger_append_only();
