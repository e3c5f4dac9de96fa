-- The scheduled reconciler looks for unfinished jobs that have not moved for a while, every few
-- minutes: partial indexes keep that a look at the few unfinished rows, however many finished.

CREATE INDEX jobs_unfinished_idx ON jobs (updated_at)
    WHERE state IN ('awaiting_eval_payment', 'evaluating', 'awaiting_work_payment', 'executing');

CREATE INDEX bootstrap_jobs_unfinished_idx ON bootstrap_jobs (updated_at)
    WHERE state IN ('awaiting_payment', 'provisioning');
