-- The trust tier is derived from the score (after its lazy decay) and the thresholds in the
-- settings, so it is computed where it is read (timmy.data.identities), never stored: the
-- stored copy and the SQL function that wrote it could disagree with the settings of the day.

ALTER TABLE nostr_identities DROP COLUMN tier;
DROP FUNCTION trust_tier(integer, integer, integer, integer);
