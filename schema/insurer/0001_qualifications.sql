-- Insurer registry (保険者): one head row per qualification (individual-unit insured number) and one row per
-- version. Versions are never updated or deleted. The published change feed is the view insurer.feed_v1.
CREATE TABLE insurer.qualification_heads (
    id             text PRIMARY KEY,          -- 保険者番号:記号:番号:枝番
    latest_version int  NOT NULL
);

CREATE TABLE insurer.qualification_versions (
    seq            bigserial PRIMARY KEY,
    id             text      NOT NULL REFERENCES insurer.qualification_heads (id),
    version        int       NOT NULL,
    op             text      NOT NULL CHECK (op IN ('register', 'change', 'end')),
    effective_from date      NOT NULL,        -- the version describes reality from this date
    recorded_at    timestamp NOT NULL,        -- simulated time of the write
    source         text      NOT NULL,        -- api | bulk:<sha256 of the file> | demo
    record         jsonb     NOT NULL,        -- the full QualificationRecord
    UNIQUE (id, version)
);

-- The published change feed (contract with consumers; the tables above are private to the insurer service).
CREATE VIEW insurer.feed_v1 AS
    SELECT seq, id, version, op, effective_from, recorded_at, source, record
    FROM insurer.qualification_versions;
