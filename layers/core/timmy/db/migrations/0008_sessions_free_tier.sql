-- Sessions and the free tier: what the generosity pool holds for a running request, and what
-- the free tier has paid for each session in all.
--
-- A request's cost is split in two: charged_sats (from the session's balance, within the
-- reserved_sats held from it) and absorbed_sats (from the pool, within the pool_reserved_sats
-- debited from it while the request runs). At settlement the unused part of each reservation
-- goes back to where it came from; a failed request gives both back whole.

ALTER TABLE session_requests
    -- The free-tier decision as applied: free (the pool covers the whole estimate), partial
    -- (it covers part of it), gate (the caller pays everything).
    ADD COLUMN free_tier text NOT NULL DEFAULT 'gate'
        CHECK (free_tier IN ('free', 'partial', 'gate')),
    ADD COLUMN pool_reserved_sats bigint NOT NULL DEFAULT 0 CHECK (pool_reserved_sats >= 0),
    ADD CONSTRAINT session_requests_absorbed_within_pool_reservation
        CHECK (absorbed_sats <= pool_reserved_sats),
    ADD CONSTRAINT session_requests_only_complete_requests_absorb
        CHECK (state = 'complete' OR absorbed_sats = 0),
    ADD CONSTRAINT session_requests_cost_is_charged_plus_absorbed
        CHECK (state <> 'complete' OR cost_sats = charged_sats + absorbed_sats),
    ADD CONSTRAINT session_requests_free_tier_matches_pool_reservation
        CHECK ((free_tier = 'gate') = (pool_reserved_sats = 0));

ALTER TABLE sessions
    -- The sum of absorbed_sats over the session's completed requests.
    ADD COLUMN absorbed_sats bigint NOT NULL DEFAULT 0 CHECK (absorbed_sats >= 0);
