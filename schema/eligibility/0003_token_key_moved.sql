-- The Web API token key moved to the platform's credentials (schema/auth/0001_keys.sql), which sign every token
-- onshi issues. idTokens issued before are no longer accepted: log in again.
DROP TABLE eligibility.settings;
