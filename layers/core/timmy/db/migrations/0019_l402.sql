-- L402 credentials (pay per request): a macaroon whose identifier names a token of this table
-- and the payment hash of its invoice (Aperture's layout), and a small prepaid balance.
--
-- Each token has its own random root key (never derived from a global secret, so one leaked
-- key opens one token). The token is funded once, by the invoice's on-paid handler in the
-- flip transaction (reason funded); every request it pays is a debit of this balance written
-- with its l402_ledger row in the same transaction, so the ledger of a token always sums to
-- its balance and a restart forgets nothing. A token minted for a marketplace POST is bound
-- to the account the server chose then (account_id): never a caveat a client could append.

CREATE TABLE l402_tokens (
    token_id      text PRIMARY KEY CHECK (token_id ~ '^[0-9a-f]{64}$'),
    payment_hash  text NOT NULL UNIQUE REFERENCES invoices (payment_hash),
    root_key      bytea NOT NULL CHECK (octet_length(root_key) = 32),
    -- The catalog route whose request minted it, and the capability its caveat grants.
    route_id      text NOT NULL,
    capability    text NOT NULL,
    account_id    uuid REFERENCES accounts (id),
    -- What the invoice asks; the balance is credited that much when the invoice is paid.
    amount_sats   bigint NOT NULL CHECK (amount_sats > 0),
    balance_sats  bigint NOT NULL DEFAULT 0 CHECK (balance_sats >= 0),
    funded_at     timestamptz,
    valid_until   timestamptz NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (funded_at IS NOT NULL OR balance_sats = 0)
);
CREATE INDEX l402_tokens_account_idx ON l402_tokens (account_id) WHERE account_id IS NOT NULL;

CREATE TABLE l402_ledger (
    id          bigserial PRIMARY KEY,
    token_id    text NOT NULL REFERENCES l402_tokens (token_id),
    amount_sats bigint NOT NULL CHECK (amount_sats <> 0),
    reason      text NOT NULL CHECK (reason IN (
                    'funded', 'chat_hold', 'chat_release', 'hire_task_fee', 'hire_quote_fee',
                    'redeemed')),
    -- What moved it: the invoice's payment hash, a completion's id, a task's or quote's id,
    -- the account the remainder was redeemed into.
    reference   text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX l402_ledger_token_idx ON l402_ledger (token_id, id);
-- Funded once per invoice; one hold and at most one release per completion.
CREATE UNIQUE INDEX l402_ledger_one_movement ON l402_ledger (reason, reference)
    WHERE reason IN ('funded', 'chat_hold', 'chat_release');

CREATE FUNCTION l402_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'l402_ledger is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER l402_ledger_no_update_or_delete
    BEFORE UPDATE OR DELETE ON l402_ledger
    FOR EACH ROW EXECUTE FUNCTION l402_ledger_append_only();

-- A completion is paid by an account or by an L402 credential: exactly one of them.
ALTER TABLE account_chat_requests ALTER COLUMN account_id DROP NOT NULL;
ALTER TABLE account_chat_requests ADD COLUMN l402_token_id text REFERENCES l402_tokens (token_id);
ALTER TABLE account_chat_requests ADD CONSTRAINT account_chat_requests_one_payer
    CHECK (num_nonnulls(account_id, l402_token_id) = 1);
CREATE INDEX account_chat_requests_l402_idx ON account_chat_requests (l402_token_id, created_at)
    WHERE l402_token_id IS NOT NULL;

-- What is left on a credential can be redeemed into an account (POST /api/v1/l402/redeem).
ALTER TABLE account_ledger DROP CONSTRAINT account_ledger_reason_check;
ALTER TABLE account_ledger ADD CONSTRAINT account_ledger_reason_check CHECK (reason IN (
    'topup', 'withdrawal', 'withdrawal_fee_return', 'withdrawal_failed',
    'chat_hold', 'chat_release',
    'hire_task_fee', 'hire_quote_fee', 'hire_escrow_hold', 'hire_escrow_release',
    'hire_escrow_refund', 'hire_escrow_split', 'l402_redeem'));
