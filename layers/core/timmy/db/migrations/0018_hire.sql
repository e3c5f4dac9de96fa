-- AI for Hire: tasks, quotes, quote-scoped messages, deliveries, and escrow as a ledger.
--
-- Money: the post and quote fees are account_ledger debits; accepting a quote moves its price
-- from the buyer's balance into the escrow of that quote (one hire_escrows row per accepted
-- quote, CHECK balance >= 0) and every move out of an escrow (release to the contractor,
-- refund to the buyer, an operator's split) is a row of the append-only hire_escrow_ledger
-- written in the same transaction as the account_ledger row it pairs with
-- (timmy.data.hire). States travel as parameters (timmy.data.hire's StrEnums).

ALTER TABLE account_ledger DROP CONSTRAINT account_ledger_reason_check;
ALTER TABLE account_ledger ADD CONSTRAINT account_ledger_reason_check CHECK (reason IN (
    'topup', 'withdrawal', 'withdrawal_fee_return', 'withdrawal_failed',
    'chat_hold', 'chat_release',
    'hire_task_fee', 'hire_quote_fee', 'hire_escrow_hold', 'hire_escrow_release',
    'hire_escrow_refund', 'hire_escrow_split'));

CREATE TABLE hire_tasks (
    id                uuid PRIMARY KEY,
    buyer_account_id  uuid NOT NULL REFERENCES accounts (id),
    title             text NOT NULL,
    description       text NOT NULL,
    budget_sats       bigint NOT NULL CHECK (budget_sats > 0),
    status            text NOT NULL CHECK (status IN (
                          'open', 'in_escrow', 'delivered', 'completed', 'cancelled',
                          'disputed', 'refunded')),
    accepted_quote_id uuid,
    delivered_at      timestamptz,
    confirm_deadline  timestamptz,
    execution_arn     text,
    -- The escrow workflow's waiting task (resumed by the delivery); up to 2048 characters.
    delivery_task_token text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX hire_tasks_created_idx ON hire_tasks (created_at DESC, id);
CREATE INDEX hire_tasks_status_idx ON hire_tasks (status, created_at DESC);

CREATE TABLE hire_quotes (
    id                     uuid PRIMARY KEY,
    task_id                uuid NOT NULL REFERENCES hire_tasks (id),
    contractor_account_id  uuid NOT NULL REFERENCES accounts (id),
    price_sats             bigint NOT NULL CHECK (price_sats > 0),
    description            text NOT NULL,
    delivery_hours         integer NOT NULL CHECK (delivery_hours > 0),
    delivery_deadline      timestamptz,
    status                 text NOT NULL CHECK (status IN (
                               'pending', 'accepted', 'rejected', 'withdrawn')),
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX hire_quotes_task_idx ON hire_quotes (task_id, created_at, id);
-- A task accepts one quote, whoever clicks twice.
CREATE UNIQUE INDEX hire_quotes_one_accepted ON hire_quotes (task_id) WHERE status = 'accepted';

ALTER TABLE hire_tasks ADD CONSTRAINT hire_tasks_accepted_quote_fk
    FOREIGN KEY (accepted_quote_id) REFERENCES hire_quotes (id);

CREATE TABLE hire_messages (
    id                 uuid PRIMARY KEY,
    quote_id           uuid NOT NULL REFERENCES hire_quotes (id),
    sender_account_id  uuid NOT NULL REFERENCES accounts (id),
    body               text NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX hire_messages_quote_idx ON hire_messages (quote_id, created_at, id);

CREATE TABLE hire_deliveries (
    id                     uuid PRIMARY KEY,
    task_id                uuid NOT NULL REFERENCES hire_tasks (id),
    quote_id               uuid NOT NULL REFERENCES hire_quotes (id),
    contractor_account_id  uuid NOT NULL REFERENCES accounts (id),
    filename               text NOT NULL,
    notes                  text NOT NULL,
    content                bytea NOT NULL,
    created_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX hire_deliveries_task_idx ON hire_deliveries (task_id, created_at, id);

-- The escrow of one accepted quote: what the buyer paid in, not yet paid out.
CREATE TABLE hire_escrows (
    quote_id               uuid PRIMARY KEY REFERENCES hire_quotes (id),
    task_id                uuid NOT NULL UNIQUE REFERENCES hire_tasks (id),
    buyer_account_id       uuid NOT NULL REFERENCES accounts (id),
    contractor_account_id  uuid NOT NULL REFERENCES accounts (id),
    balance_sats           bigint NOT NULL CHECK (balance_sats >= 0),
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE hire_escrow_ledger (
    id           bigserial PRIMARY KEY,
    quote_id     uuid NOT NULL REFERENCES hire_escrows (quote_id),
    -- Positive into the escrow (hold), negative out of it; never zero.
    amount_sats  bigint NOT NULL CHECK (amount_sats <> 0),
    reason       text NOT NULL CHECK (reason IN ('hold', 'release', 'refund', 'split')),
    -- The account on the other side of the move.
    account_id   uuid NOT NULL REFERENCES accounts (id),
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX hire_escrow_ledger_quote_idx ON hire_escrow_ledger (quote_id, id);

CREATE FUNCTION hire_escrow_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'hire_escrow_ledger is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER hire_escrow_ledger_no_update_or_delete
    BEFORE UPDATE OR DELETE ON hire_escrow_ledger
    FOR EACH ROW EXECUTE FUNCTION hire_escrow_ledger_append_only();
