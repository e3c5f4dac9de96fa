-- The scheduled reconciler (timmy.reconcile) ends unfinished jobs whose workflow was lost.
--
-- reconcile_claimed_at  set when a reconciler takes the row to end it, cleared if it leaves the
--                       row unfinished (to retry next run): of two reconcilers, only one takes
--                       it. A claim older than the reconciler's timeout belongs to a run that
--                       died and may be taken again.
--
-- Partial indexes keep the look for unfinished rows, every few minutes, a look at those few.

ALTER TABLE jobs ADD COLUMN reconcile_claimed_at timestamptz;
ALTER TABLE bootstrap_jobs ADD COLUMN reconcile_claimed_at timestamptz;

CREATE INDEX jobs_unfinished_idx ON jobs (updated_at)
    WHERE state IN ('awaiting_eval_payment', 'evaluating', 'awaiting_work_payment', 'executing');

CREATE INDEX bootstrap_jobs_unfinished_idx ON bootstrap_jobs (updated_at)
    WHERE state IN ('awaiting_payment', 'provisioning');
