-- 照会番号 (a facility's own patient number) registered against a qualification; echoed in later face results.
-- Re-registering the same qualification at the same facility replaces the number.
CREATE TABLE eligibility.reference_numbers (
    facility         text NOT NULL,
    qualification_id text NOT NULL,
    person_id        text NOT NULL,
    reference_number text NOT NULL,
    registered_at    timestamp NOT NULL,
    PRIMARY KEY (facility, qualification_id)
);
CREATE INDEX reference_numbers_person ON eligibility.reference_numbers (facility, person_id);

-- Two-step bulk flows: the receipt of step 1 and the results step 2 downloads.
CREATE TABLE eligibility.receptions (
    number      text PRIMARY KEY,
    facility    text NOT NULL,
    kind        text NOT NULL,
    received_at timestamp NOT NULL,
    results     jsonb NOT NULL
);
