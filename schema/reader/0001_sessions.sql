-- Reader service: card-reader sessions, one per card placement, single use (a finished or failed session cannot
-- be replayed). The state moves identify → (register →) consent → done by compare-and-set; failed ends it early.
CREATE TYPE reader.session_state AS ENUM ('identify', 'register', 'consent', 'done', 'failed');

CREATE TABLE reader.sessions (
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
