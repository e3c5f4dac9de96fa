-- Platform: Lightning invoices (every invoice the product issues) and the stub node's ledger.

CREATE TABLE invoices (
    payment_hash    text PRIMARY KEY CHECK (payment_hash ~ '^[0-9a-f]{64}$'),
    purpose         text NOT NULL,
    owner_id        text NOT NULL,
    amount_sats     bigint NOT NULL CHECK (amount_sats > 0),
    payment_request text NOT NULL,
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'paid', 'expired')),
    preimage        text,
    -- Step Functions task token of the workflow waiting for this payment (≤ 2048 chars).
    task_token      text,
    -- Set once by whoever resumes the workflow: the guard that makes resumption exactly-once.
    resumed_at      timestamptz,
    expires_at      timestamptz NOT NULL,
    paid_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((state = 'paid') = (paid_at IS NOT NULL))
);
CREATE INDEX invoices_owner_idx ON invoices (owner_id, purpose);

-- The stub Lightning backend's own ledger: what a Lightning node would know. Kept in the
-- database so stub mode works across Lambda containers too, not only in one local process.
CREATE TABLE stub_lightning_invoices (
    payment_hash    text PRIMARY KEY,
    preimage        text NOT NULL,
    amount_sats     bigint NOT NULL,
    payment_request text NOT NULL,
    paid            boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    paid_at         timestamptz
);

CREATE TABLE stub_lightning_payments (
    id              bigserial PRIMARY KEY,
    payment_hash    text NOT NULL,
    amount_sats     bigint,
    bolt11          text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
