-- The consent and access logs are chained with a keyed hash (HMAC-SHA256 with a key kept outside the database),
-- so nobody with only database access can recompute the chain after an edit or forge an append. Rows written
-- before this migration keep their unkeyed SHA-256 links (keyed = false); an unkeyed row after a keyed one is a
-- forgery.
ALTER TABLE consent.consents ADD COLUMN keyed boolean NOT NULL DEFAULT false;
ALTER TABLE consent.consents ALTER COLUMN keyed SET DEFAULT true;
ALTER TABLE consent.access_log ADD COLUMN keyed boolean NOT NULL DEFAULT false;
ALTER TABLE consent.access_log ALTER COLUMN keyed SET DEFAULT true;
