-- Chat completions paid from an account (POST /v1/chat/completions).
--
-- A completion's maximum cost is held from the balance (ledger reason chat_hold) while the
-- provider works, and the unused part returned at once when it answers (chat_release): the
-- charge is the hold less the release, and the ledger still sums to the balance. A completion
-- that fails is released whole. Each held completion is a row of account_chat_requests, so a
-- crash between hold and settlement strands nothing: the reconciler releases reserved rows
-- older than CHAT_HOLD_TIMEOUT_SECONDS. Session-paid completions use session_requests.

ALTER TABLE account_ledger DROP CONSTRAINT account_ledger_reason_check;
ALTER TABLE account_ledger ADD CONSTRAINT account_ledger_reason_check CHECK (reason IN (
    'topup', 'withdrawal', 'withdrawal_fee_return', 'withdrawal_failed',
    'chat_hold', 'chat_release'));
-- One hold and at most one release per completion.
CREATE UNIQUE INDEX account_ledger_one_chat_movement ON account_ledger (reason, reference)
    WHERE reason IN ('chat_hold', 'chat_release');

CREATE TABLE account_chat_requests (
    id                 uuid PRIMARY KEY,
    account_id         uuid NOT NULL REFERENCES accounts (id),
    -- reserved: the hold is out while the provider works; complete: settled (charged_sats
    -- kept, the rest released); failed: all released.
    state              text NOT NULL DEFAULT 'reserved'
                       CHECK (state IN ('reserved', 'complete', 'failed')),
    model              text NOT NULL,
    btc_price_usd      numeric NOT NULL CHECK (btc_price_usd > 0),
    -- The most the completion can cost (input estimate + max output tokens, priced).
    max_cost_sats      bigint NOT NULL CHECK (max_cost_sats > 0),
    -- Held from the balance: the caller's part of max_cost_sats (the free tier pays the rest).
    reserved_sats      bigint NOT NULL CHECK (reserved_sats >= 0),
    free_tier          text NOT NULL DEFAULT 'gate' CHECK (free_tier IN ('free', 'partial', 'gate')),
    pool_reserved_sats bigint NOT NULL DEFAULT 0 CHECK (pool_reserved_sats >= 0),
    input_tokens       integer CHECK (input_tokens >= 0),
    output_tokens      integer CHECK (output_tokens >= 0),
    cost_sats          bigint CHECK (cost_sats >= 0),
    charged_sats       bigint CHECK (charged_sats >= 0 AND charged_sats <= reserved_sats),
    absorbed_sats      bigint NOT NULL DEFAULT 0
                       CHECK (absorbed_sats >= 0 AND absorbed_sats <= pool_reserved_sats),
    error_code         text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    finished_at        timestamptz,
    CHECK (reserved_sats + pool_reserved_sats = max_cost_sats),
    CHECK ((state = 'complete') = (charged_sats IS NOT NULL)),
    CHECK ((state = 'reserved') = (finished_at IS NULL)),
    CHECK (state = 'complete' OR absorbed_sats = 0),
    CHECK (state <> 'complete' OR cost_sats = charged_sats + absorbed_sats),
    CHECK (state <> 'failed' OR error_code IS NOT NULL),
    CHECK ((free_tier = 'gate') = (pool_reserved_sats = 0))
);
CREATE INDEX account_chat_requests_account_idx ON account_chat_requests (account_id, created_at);
-- The reconciler's look for dead holds: only the few reserved rows.
CREATE INDEX account_chat_requests_reserved_idx ON account_chat_requests (created_at)
    WHERE state = 'reserved';
