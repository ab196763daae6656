-- The platform's credentials: the key that signs every token onshi issues (Web API idTokens, insurer credentials,
-- patient tokens), created once per database so every process accepts the tokens of every other.
CREATE TABLE auth.keys (
    name   text PRIMARY KEY,
    value  text NOT NULL
);
