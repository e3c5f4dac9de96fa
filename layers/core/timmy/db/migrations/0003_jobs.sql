-- Jobs: one row per eval → work request. The row is the single source of truth for the job's
-- state; the job workflow's steps move it on with conditional updates, so a step that runs
-- twice (Step Functions retries) never applies twice.

CREATE TABLE jobs (
    id                      uuid PRIMARY KEY,
    state                   text NOT NULL DEFAULT 'awaiting_eval_payment'
                            CHECK (state IN ('awaiting_eval_payment', 'evaluating', 'rejected',
                                             'awaiting_work_payment', 'executing', 'complete',
                                             'failed', 'expired')),
    request                 text NOT NULL CHECK (length(request) > 0),
    nostr_pubkey            text REFERENCES nostr_identities (pubkey),
    execution_arn           text,

    -- Evaluation: a fixed fee, paid before the AI looks at the request.
    eval_fee_sats           bigint NOT NULL CHECK (eval_fee_sats > 0),
    eval_payment_hash       text NOT NULL UNIQUE REFERENCES invoices (payment_hash),
    eval_paid_sats          bigint NOT NULL DEFAULT 0 CHECK (eval_paid_sats >= 0),
    eval_accepted           boolean,
    reason                  text,
    eval_input_tokens       integer CHECK (eval_input_tokens >= 0),
    eval_output_tokens      integer CHECK (eval_output_tokens >= 0),

    -- Work price, fixed when the evaluation passes. work_charge_sats is what the work invoice
    -- asks for: today always the estimate (the free tier will be able to lower it).
    model                   text,
    btc_price_usd           numeric(20, 8) CHECK (btc_price_usd > 0),
    estimate_input_tokens   integer CHECK (estimate_input_tokens >= 0),
    estimate_output_tokens  integer CHECK (estimate_output_tokens > 0),
    work_estimate_sats      bigint CHECK (work_estimate_sats >= 0),
    work_charge_sats        bigint CHECK (work_charge_sats >= 0),
    work_payment_hash       text UNIQUE REFERENCES invoices (payment_hash),
    work_paid_sats          bigint NOT NULL DEFAULT 0 CHECK (work_paid_sats >= 0),

    -- Execution and settlement.
    result                  text,
    input_tokens            integer CHECK (input_tokens >= 0),
    output_tokens           integer CHECK (output_tokens >= 0),
    actual_cost_sats        bigint CHECK (actual_cost_sats >= 0),
    error_code              text,
    error_message           text,

    -- What the caller is owed back (set when the job ends) and the one refund payment.
    refundable_sats         bigint NOT NULL DEFAULT 0 CHECK (refundable_sats >= 0),
    refund_state            text CHECK (refund_state IN ('pending', 'sent')),
    refund_payment_hash     text CHECK (refund_payment_hash ~ '^[0-9a-f]{64}$'),
    refund_bolt11           text,
    refund_attempted_at     timestamptz,
    refunded_at             timestamptz,

    -- Set once when the job's outcome has been counted in the caller's trust score.
    trust_recorded_at       timestamptz,

    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    finished_at             timestamptz,

    -- Never owe back more than was paid.
    CHECK (refundable_sats <= eval_paid_sats + work_paid_sats),
    -- A refund exists only for something refundable, and always names its payment.
    CHECK (refund_state IS NULL OR (refundable_sats > 0 AND refund_payment_hash IS NOT NULL)),
    CHECK ((refund_state IS NOT DISTINCT FROM 'sent') = (refunded_at IS NOT NULL))
);

CREATE INDEX jobs_nostr_pubkey_idx ON jobs (nostr_pubkey) WHERE nostr_pubkey IS NOT NULL;
