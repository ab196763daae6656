-- Consent service: virtual My Number cards, the consent log and the access log (both append-only and
-- tamper-evident: each row carries the SHA-256 of the previous row's hash and its own content), disaster
-- declarations, and card-reader sessions (single use: a finished session cannot be replayed).
CREATE TABLE consent.cards (
    serial          text PRIMARY KEY,           -- 利用者証明用電子証明書 serial
    person_id       text NOT NULL,
    issued_on       date NOT NULL,
    expires_on      date NOT NULL,
    pin_sha256      text NOT NULL,              -- sha256(serial || pin)
    failed_pins     int  NOT NULL DEFAULT 0,    -- consecutive wrong PINs; 3 locks the card
    locked_at       timestamp,
    revoked_on      date,                       -- reported lost
    registered_on   date,                       -- 健康保険証利用登録 (初回登録)
    qualification_id text,                      -- the individual-unit number linked at registration
    cert_sha256     text,                       -- the user certificate, issued on first use
    cert_pem        text
);
CREATE INDEX cards_person ON consent.cards (person_id);

CREATE TABLE consent.consents (
    seq             bigserial PRIMARY KEY,
    person_id       text NOT NULL,
    facility        text NOT NULL,
    kind            text NOT NULL,              -- OQSCD036 (YZK, SRJ, SHJ, TKK, TSR) or LIM (限度額)
    action          text NOT NULL CHECK (action IN ('given', 'revoked')),
    at              timestamp NOT NULL,         -- simulated time
    available_until timestamp,                  -- given: end of the viewing period
    reason          text,                       -- revoked: OQSCD031
    session         text,
    prev_hash       text NOT NULL,
    hash            text NOT NULL
);
CREATE INDEX consents_person ON consent.consents (person_id, facility, kind);

CREATE TABLE consent.access_log (
    seq             bigserial PRIMARY KEY,
    person_id       text NOT NULL,
    facility        text NOT NULL,
    kind            text NOT NULL,
    at              timestamp NOT NULL,
    basis           text NOT NULL,              -- consent:<seq> | disaster:<id>
    prev_hash       text NOT NULL,
    hash            text NOT NULL
);
CREATE INDEX access_person ON consent.access_log (person_id);

CREATE TABLE consent.disasters (
    id              bigserial PRIMARY KEY,
    name            text NOT NULL,
    prefectures     int[] NOT NULL,
    starts_on       date NOT NULL,
    ends_on         date NOT NULL,
    declared_at     timestamp NOT NULL
);

CREATE TABLE consent.reader_sessions (
    id              text PRIMARY KEY,
    facility        text NOT NULL,
    terminal        text NOT NULL,
    serial          text NOT NULL,
    person_id       text NOT NULL,
    registered      boolean NOT NULL,           -- the card was registered when placed
    state           text NOT NULL,              -- identify | register | consent | done | failed
    created_at      timestamp NOT NULL,
    updated_at      timestamp NOT NULL
);
