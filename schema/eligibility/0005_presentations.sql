-- The 2024 rule on re-queries by stored numbers (seed 004, config::RequeryRule): each facility's last confirmation
-- from what the patient presented (the My Number card at the reader, or the insurance card), and the log of
-- re-queries by the numbers a facility keeps, flagged when the month had no presentation. No names: person ids only.
CREATE TABLE eligibility.presentations (
    facility      text NOT NULL,
    person_id     text NOT NULL,
    presented_at  timestamp NOT NULL,           -- simulated
    how           text NOT NULL,                -- mynumber_card | insurance_card
    PRIMARY KEY (facility, person_id)
);
CREATE TABLE eligibility.requeries (
    id                bigserial PRIMARY KEY,
    at                timestamp NOT NULL,       -- simulated
    facility          text NOT NULL,
    person_id         text NOT NULL,
    via               text NOT NULL,            -- single | bulk
    reception_number  text,                     -- the bulk job's 受付番号
    last_presented    timestamp,                -- the month's presentation it rests on, if any
    flagged           boolean NOT NULL,         -- no presentation in the month
    refused           boolean NOT NULL          -- answered with requery_unpresented (setting `refuse`)
);
CREATE INDEX requeries_facility_at ON eligibility.requeries (facility, at);
