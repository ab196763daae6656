-- Facility portal: registered facilities, one version per change. Published feed: portal.feed_v1.
CREATE TABLE portal.facility_heads (
    id             text PRIMARY KEY,          -- 医療機関コード
    latest_version int  NOT NULL
);

CREATE TABLE portal.facility_versions (
    seq            bigserial PRIMARY KEY,
    id             text      NOT NULL REFERENCES portal.facility_heads (id),
    version        int       NOT NULL,
    op             text      NOT NULL,
    effective_from date      NOT NULL,
    recorded_at    timestamp NOT NULL,
    source         text      NOT NULL,
    record         jsonb     NOT NULL,        -- the full FacilityRecord
    UNIQUE (id, version)
);

CREATE VIEW portal.feed_v1 AS
    SELECT seq, id, version, op, effective_from, recorded_at, source, record
    FROM portal.facility_versions;
