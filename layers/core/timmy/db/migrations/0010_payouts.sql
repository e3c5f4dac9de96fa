-- Payouts: every sat that leaves Timmy, whatever it is paid from (a job's refund, a session's
-- balance; later prepaid accounts and marketplace collect), is one row here.
--
-- The payment hash is UNIQUE: one BOLT11 invoice is paid at most once, across every source.
-- state: pending (debited from its source, sent or about to be, outcome not known yet), paid
-- (settled; fee_sats is the routing fee the node charged) or failed (definitely not paid; the
-- source was credited back in full in the same transaction).
--
-- amount_sats is what the payee receives. fee_reserve_sats is held for the routing fee while
-- the payout is pending; source_debit_sats is what was taken from the source (amount plus
-- reserve when the source bears the fee; the amount alone when Timmy does, as for refunds).
-- When it is paid, the source bears min(fee, reserve) at most (fee_charged_sats) and gets back
-- what it was debited beyond amount + fee_charged_sats.

CREATE TABLE payouts (
    id                uuid PRIMARY KEY,
    payment_hash      text NOT NULL UNIQUE CHECK (payment_hash ~ '^[0-9a-f]{64}$'),
    bolt11            text NOT NULL,
    source_kind       text NOT NULL CHECK (source_kind ~ '^[a-z][a-z_]*$'),
    source_id         text NOT NULL,
    state             text NOT NULL DEFAULT 'pending'
                      CHECK (state IN ('pending', 'paid', 'failed')),
    amount_sats       bigint NOT NULL CHECK (amount_sats > 0),
    fee_reserve_sats  bigint NOT NULL CHECK (fee_reserve_sats >= 0),
    source_debit_sats bigint NOT NULL CHECK (source_debit_sats >= amount_sats),
    fee_sats          bigint CHECK (fee_sats >= 0),
    fee_charged_sats  bigint CHECK (fee_charged_sats >= 0),
    preimage          text CHECK (preimage ~ '^[0-9a-f]{64}$'),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    settled_at        timestamptz,
    CHECK (source_debit_sats <= amount_sats + fee_reserve_sats),
    CHECK ((state = 'pending') = (settled_at IS NULL)),
    CHECK ((state = 'paid') = (fee_sats IS NOT NULL)),
    CHECK ((state = 'paid') = (fee_charged_sats IS NOT NULL)),
    CHECK (amount_sats + fee_charged_sats <= source_debit_sats)
);
CREATE INDEX payouts_source_idx ON payouts (source_kind, source_id, created_at);
CREATE INDEX payouts_pending_idx ON payouts (created_at) WHERE state = 'pending';
-- A job is refunded once: at most one refund payout of a job is pending or paid at a time
-- (a failed one leaves the refund claimable again, with a new invoice).
CREATE UNIQUE INDEX payouts_one_live_refund_per_job ON payouts (source_id)
    WHERE source_kind = 'job_refund' AND state <> 'failed';

-- The refunds paid before this migration become payouts. The first claim of an invoice wins:
-- a later job "refunded" to the same invoice was never really paid (a node pays one payment
-- hash once), so its refund becomes claimable again.
INSERT INTO payouts (id, payment_hash, bolt11, source_kind, source_id, state, amount_sats,
                     fee_reserve_sats, source_debit_sats, fee_sats, fee_charged_sats,
                     created_at, updated_at, settled_at)
SELECT gen_random_uuid(), refund_payment_hash, refund_bolt11, 'job_refund', id::text,
       CASE WHEN refund_state = 'sent' THEN 'paid' ELSE 'pending' END,
       refundable_sats, 0, refundable_sats,
       CASE WHEN refund_state = 'sent' THEN 0 END,
       CASE WHEN refund_state = 'sent' THEN 0 END,
       COALESCE(refund_attempted_at, updated_at), updated_at, refunded_at
FROM jobs
WHERE refund_state IS NOT NULL
ORDER BY COALESCE(refund_attempted_at, updated_at), id
ON CONFLICT (payment_hash) DO NOTHING;

-- A job's refund is now derived from its payouts: one source of truth.
ALTER TABLE jobs
    DROP COLUMN refund_state,
    DROP COLUMN refund_payment_hash,
    DROP COLUMN refund_bolt11,
    DROP COLUMN refund_attempted_at,
    DROP COLUMN refunded_at;

-- The stub node, like a real one, pays a payment hash at most once.
DELETE FROM stub_lightning_payments later
    USING stub_lightning_payments earlier
    WHERE later.payment_hash = earlier.payment_hash AND later.id > earlier.id;
CREATE UNIQUE INDEX stub_lightning_payments_hash_key ON stub_lightning_payments (payment_hash);
