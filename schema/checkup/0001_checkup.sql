-- Checkup service (特定健診・後期高齢者健診): submissions as received, the files they carried, and the results
-- registered from them with their items. Insurers submit; facilities (with consent) and patients read.
CREATE TABLE checkup.submissions (
    id           bigserial PRIMARY KEY,
    sha256       text NOT NULL UNIQUE,      -- of the archive or document as received: the same one again changes nothing
    insurer      text,                      -- the submitting insurer (its credential), NULL for the operator
    received_at  timestamp NOT NULL,        -- simulated
    report       jsonb NOT NULL             -- the submission report as answered
);

-- Every person file taken from a submission, once (its SHA-256), with what it did.
CREATE TABLE checkup.files (
    sha256        text PRIMARY KEY,
    submission_id bigint NOT NULL REFERENCES checkup.submissions (id),
    outcome       text NOT NULL              -- registered | replaced | deleted
);

CREATE TABLE checkup.results (
    id              bigint PRIMARY KEY,
    submission_id   bigint NOT NULL REFERENCES checkup.submissions (id),
    person_id       text NOT NULL,
    insurer         text NOT NULL,
    program         text NOT NULL,           -- 010 特定健診, 020 後期高齢者健診
    checkup_date    date NOT NULL,
    fiscal_year     int NOT NULL,
    institution     text,
    institution_name text,
    metabolic_submitted smallint,            -- 9N501 as submitted (1–4)
    level_submitted smallint,                -- 9N506 as submitted (1–4)
    metabolic       smallint,                -- as computed from the values
    level           smallint,
    received_at     timestamp NOT NULL,
    replaced_by     bigint,                  -- a later submission of the same person, kind and date
    deleted_at      timestamp                -- a deletion request (報告区分 19)
);
CREATE INDEX results_current ON checkup.results (person_id, checkup_date)
    WHERE replaced_by IS NULL AND deleted_at IS NULL;

-- No foreign key: items are copied in with their result in the same transaction, and a per-row check would cost
-- more than the copy itself (docs/PERFORMANCE.md).
CREATE TABLE checkup.items (
    result_id      bigint NOT NULL,             -- checkup.results (id)
    seq            int NOT NULL,
    code           text NOT NULL,            -- 17-character item code
    value_type     text NOT NULL,            -- PQ | CD | ST
    value          text,                     -- NULL: not done / not measurable
    unit           text NOT NULL,
    code_system    text NOT NULL,
    interpretation text,
    PRIMARY KEY (result_id, seq)
);
-- Result ids are taken in batches before the rows are copied in.
CREATE SEQUENCE checkup.result_ids;
