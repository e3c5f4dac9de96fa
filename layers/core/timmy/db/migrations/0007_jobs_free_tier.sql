-- Jobs and the free tier: the decision taken after the evaluation passes, what the generosity
-- pool covers for the job, and what the pool still holds for it.
--
-- free_tier_serve     free (no work invoice; the pool was debited at decision time),
--                     partial (a discounted invoice; the pool is debited when it is paid) or
--                     gate (the full price). NULL until the work is priced.
-- absorbed_sats       what the pool covers: the advisory amount while a partial invoice is
--                     unpaid, the reservation while the work runs, the actual absorbed amount
--                     once complete; 0 for gate and for a job that failed or expired.
-- pool_reserved_sats  sats debited from the pool for this job and neither recorded as a grant
--                     nor released yet. Settlement and failure zero it in the transaction that
--                     records or releases it, so a step that runs twice never does either twice.
-- pool_reserved_at    when the pool was debited for this job (once: at the free decision, or
--                     when the partial invoice was paid).

ALTER TABLE jobs
    ADD COLUMN free_tier_serve    text CHECK (free_tier_serve IN ('free', 'partial', 'gate')),
    ADD COLUMN absorbed_sats      bigint NOT NULL DEFAULT 0 CHECK (absorbed_sats >= 0),
    ADD COLUMN pool_reserved_sats bigint NOT NULL DEFAULT 0 CHECK (pool_reserved_sats >= 0),
    ADD COLUMN pool_reserved_at   timestamptz,
    -- The pool never holds more for a job than it covers, nor covers more than the estimate.
    ADD CHECK (pool_reserved_sats <= absorbed_sats),
    ADD CHECK (work_estimate_sats IS NULL OR absorbed_sats <= work_estimate_sats),
    ADD CHECK (pool_reserved_sats = 0 OR pool_reserved_at IS NOT NULL),
    -- gate: nothing absorbed; free: no work invoice and nothing to pay.
    ADD CHECK (free_tier_serve IS DISTINCT FROM 'gate' OR absorbed_sats = 0),
    ADD CHECK (free_tier_serve IS DISTINCT FROM 'free'
               OR (work_payment_hash IS NULL AND work_charge_sats = 0 AND work_paid_sats = 0));

-- Jobs priced before the free tier existed all paid the full price.
UPDATE jobs SET free_tier_serve = 'gate' WHERE work_payment_hash IS NOT NULL;
