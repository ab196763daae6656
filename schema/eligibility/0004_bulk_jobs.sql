-- The two-step bulk engine (一括照会 OQSmuquc, 照会番号一括登録 OQSmuimm; later 医療扶助 / 訪問 / オンライン): one job per
-- step-1 file, its items as received and, once processed, each item's result. A job is processed in one transaction
-- that holds its row lock: a crash part-way leaves it queued, and it is processed again in full. Results can be
-- downloaded until expires_at (simulated); then they are refused (EC0017) and removed.
CREATE TABLE eligibility.bulk_jobs (
    number       text PRIMARY KEY,          -- ReceptionNumber
    facility     text NOT NULL,
    kind         text NOT NULL,             -- OQSmuquc | OQSmuimm
    digest       text NOT NULL,             -- SHA-256 of the step-1 content: the same file again is refused (EC0018)
    header       jsonb NOT NULL,            -- the step-1 header as received (date, ArbitraryFileIdentifier)
    total        int NOT NULL,
    state        text NOT NULL CHECK (state IN ('queued', 'done')),
    received_at  timestamp NOT NULL,
    done_at      timestamp,
    expires_at   timestamp NOT NULL
);
CREATE UNIQUE INDEX bulk_jobs_digest ON eligibility.bulk_jobs (facility, kind, digest);
CREATE INDEX bulk_jobs_queued ON eligibility.bulk_jobs (received_at) WHERE state = 'queued';

CREATE TABLE eligibility.bulk_items (
    number  text NOT NULL REFERENCES eligibility.bulk_jobs (number) ON DELETE CASCADE,
    seq     int NOT NULL,
    input   jsonb NOT NULL,
    PRIMARY KEY (number, seq)
);
-- Written by COPY in the transaction that marks the job done (no per-row update of the items).
CREATE TABLE eligibility.bulk_results (
    number  text NOT NULL REFERENCES eligibility.bulk_jobs (number) ON DELETE CASCADE,
    seq     int NOT NULL,
    result  jsonb NOT NULL,
    PRIMARY KEY (number, seq)
);

-- The receipts of the earlier 照会番号一括登録 (processed at once) become done jobs, downloadable as before.
INSERT INTO eligibility.bulk_jobs (number, facility, kind, digest, header, total, state, received_at, done_at, expires_at)
SELECT number, facility, kind, 'migrated:' || number, '{}', jsonb_array_length(results), 'done', received_at,
       received_at, received_at + interval '7 days'
FROM eligibility.receptions;
INSERT INTO eligibility.bulk_items (number, seq, input)
SELECT r.number, (e.ord - 1)::int, e.value -> 'info'
FROM eligibility.receptions r, jsonb_array_elements(r.results) WITH ORDINALITY AS e(value, ord);
INSERT INTO eligibility.bulk_results (number, seq, result)
SELECT r.number, (e.ord - 1)::int, e.value
FROM eligibility.receptions r, jsonb_array_elements(r.results) WITH ORDINALITY AS e(value, ord);
DROP TABLE eligibility.receptions;
