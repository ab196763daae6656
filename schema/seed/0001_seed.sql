-- The synthetic-nation loader's bookkeeping (owned by onshi-seed): which seed/scale this database holds, which
-- chunks are loaded (each chunk commits together with its data, so a killed load resumes without duplicates or
-- gaps), and per-chunk statistics and deck samples for `onshi seed --report` and the test decks. The population's
-- My Number cards go to the consent service's consent.cards.
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
