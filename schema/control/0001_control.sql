-- Simulator controls shared by every onshi process (platform::control): forced outcomes and fault rules. Each
-- change sends NOTIFY onshi_control; every process caches the rules and reloads on it.

-- "The next N answers matching … are …": a sequence of steps, each forcing one kind of answer a number of times.
-- `used` counts the answers already forced (consumed atomically, so processes sharing the database never force
-- the same step twice); a rule whose steps are all used is removed.
CREATE TABLE control.forced (
    id          bigserial PRIMARY KEY,
    facility    text,            -- 医療機関コード, or NULL for any
    kind        text,            -- message stem (OQSsiquc01, …), or NULL for any
    person      text,            -- InsuredIdentificationNumber / ReferenceNumber in the request, or NULL for any
    steps       jsonb NOT NULL,  -- [{"answer": {...}, "times": n}, …]
    total       integer NOT NULL CHECK (total > 0),
    used        integer NOT NULL DEFAULT 0,
    note        text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Faults and latency: applied to matching requests with a probability, within an optional window of simulated time.
CREATE TABLE control.faults (
    id           bigserial PRIMARY KEY,
    transport    text,            -- folder | http | webapi, or NULL for any
    kind         text,            -- message stem, or NULL for any
    facility     text,            -- 医療機関コード, or NULL for any
    probability  double precision NOT NULL CHECK (probability > 0 AND probability <= 1),
    window_from  timestamp,       -- simulated JST; NULL: no start
    window_to    timestamp,       -- simulated JST; NULL: no end
    action       jsonb NOT NULL,
    note         text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
