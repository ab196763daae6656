-- The synthetic-nation loader's bookkeeping (owned by onshi-seed): which seed/scale this database holds, which
-- chunks are loaded (each chunk commits together with its data, so a killed load resumes without duplicates or
-- gaps), per-chunk statistics for `onshi seed --report`, and the My Number cards generated for the population
-- (handed to the card service when it exists).
CREATE TABLE seed.runs (
    id          smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    seed        numeric   NOT NULL,          -- u64
    scale       text      NOT NULL,
    persons     bigint    NOT NULL,
    chunks      int       NOT NULL,
    as_of       date      NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);

CREATE TABLE seed.chunks (
    chunk      int PRIMARY KEY,
    persons    int   NOT NULL,
    stats      jsonb NOT NULL,
    loaded_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE seed.mynumber_cards (
    person_id        text PRIMARY KEY,
    serial           text NOT NULL UNIQUE,   -- 利用者証明用電子証明書 serial (hex)
    issued_on        date NOT NULL,
    expires_on       date NOT NULL,
    pin_sha256       text NOT NULL,          -- sha256(serial || pin); the PIN itself is in the test decks
    registered_on    date,                   -- 健康保険証利用登録 (初回登録), NULL when not registered
    qualification_id text                    -- the individual-unit number linked at registration
);
