-- Reader service: card-reader sessions, one per card placement, single use (a finished or failed session cannot
-- be replayed). The state moves identify → (register →) consent → done by compare-and-set; failed ends it early.
-- Sessions live ten simulated minutes and are not worth a disk flush: the table is UNLOGGED, so a PostgreSQL crash
-- empties it and the patient places the card again (as after a power cut at a real reader). What lasts — the
-- consents — is in the consent service's log.
CREATE TYPE reader.session_state AS ENUM ('identify', 'register', 'consent', 'done', 'failed');

CREATE UNLOGGED TABLE reader.sessions (
    id              text PRIMARY KEY,
    facility        text NOT NULL,
    terminal        text NOT NULL,
    serial          text NOT NULL,
    person_id       text NOT NULL,
    registered      boolean NOT NULL,           -- the card was registered when placed
    state           reader.session_state NOT NULL,
    created_at      timestamp NOT NULL,         -- simulated time
    updated_at      timestamp NOT NULL
);
