-- Trust is earned by paying: a success earns one point per TRUST_SATS_PER_POINT sats the
-- caller paid for the work, at most TRUST_MAX_POINTS_PER_DAY points a day. The identity counts
-- what it paid in its current day (24 hours from paid_day_started_at), so points follow the
-- day's total: many small payments earn what one payment of their sum would.

ALTER TABLE nostr_identities
    ADD COLUMN paid_sats_today     bigint NOT NULL DEFAULT 0 CHECK (paid_sats_today >= 0),
    ADD COLUMN paid_day_started_at timestamptz NOT NULL DEFAULT now();
