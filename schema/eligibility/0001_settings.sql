-- Eligibility service settings. The Web API token key is generated once per database so that every process
-- serving the same database accepts the same idTokens.
CREATE TABLE eligibility.settings (
    name  text PRIMARY KEY,
    value text NOT NULL
);
