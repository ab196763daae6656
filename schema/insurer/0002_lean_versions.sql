-- A leaner layout, so the whole nation (126 M persons) fits one machine's disk: the record is kept as typed
-- columns instead of JSONB (its keys were half of every row), the insurer name once per insurer number, and the
-- head table is gone (the latest version is the last entry of the (id, version) index, and locking it serialises
-- writers of one qualification). The published shape does not change: insurer.qualification_versions and
-- insurer.feed_v1 are views with the same columns and the same JSON record, rebuilt from the columns.
--
-- The record is always a serialised QualificationRecord (the insurer checks it first); the fields it carries on
-- almost every row are columns, the rare ones (通称, 高齢受給者証, 限度額, 特定疾病, 医療券, …) stay JSON in `extra`.
-- 保険者番号・記号・番号・枝番 are not stored twice: they are the parts of the id (kept in `extra` if not).

-- The first name registered for each insurer number; a version stores its own name only when it differs.
CREATE TABLE insurer.insurer_names (
    insurer_number text PRIMARY KEY,
    name           text NOT NULL
);

CREATE TABLE insurer.qualification_rows (
    seq                          bigint    PRIMARY KEY,
    recorded_at                  timestamp NOT NULL,
    version                      int       NOT NULL,
    effective_from               date      NOT NULL,
    birth_date                   date      NOT NULL,
    qualification_date           date      NOT NULL,
    disqualification_date        date,
    card_issued                  date,
    card_valid_from              date,
    card_expires                 date,
    partial_contribution_percent smallint,
    op                           "char"    NOT NULL CHECK (op IN ('r', 'c', 'e')), -- register | change | end
    id                           text      NOT NULL,  -- 保険者番号:記号:番号:枝番
    source                       text      NOT NULL,  -- api | bulk:<sha256 of the file> | demo | seed:<seed>
    person_id                    text      NOT NULL,
    insurer_name                 text,                -- NULL: insurer.insurer_names.name
    card_classification          text      NOT NULL,
    personal_family              text,
    insured_name                 text,
    name                         text      NOT NULL,
    name_kana                    text,
    sex                          text      NOT NULL,
    address                      text,
    postal_code                  text,
    loss_reason                  text,
    extra                        jsonb,               -- the record's other members
    UNIQUE (id, version)
);

-- 保険者番号・記号・番号・枝番 as the record has them, from an id.
CREATE FUNCTION insurer.id_parts(id text) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('insurer_number', split_part(id, ':', 1),
                              'symbol', nullif(split_part(id, ':', 2), ''),
                              'number', split_part(id, ':', 3), 'branch', split_part(id, ':', 4))
$$;

-- The stored row of one version (without its seq, which the table's sequence gives).
CREATE FUNCTION insurer.row_of(id text, version int, op text, eff date, at timestamp, src text, rec jsonb)
RETURNS TABLE (
    recorded_at timestamp, version int, effective_from date, birth_date date, qualification_date date,
    disqualification_date date, card_issued date, card_valid_from date, card_expires date,
    partial_contribution_percent smallint, op "char", id text, source text, person_id text, insurer_name text,
    card_classification text, personal_family text, insured_name text, name text, name_kana text, sex text,
    address text, postal_code text, loss_reason text, extra jsonb
) LANGUAGE sql STABLE AS $$
    SELECT at, version, eff,
        to_date(rec->>'birth_date', 'YYYYMMDD'), to_date(rec->>'qualification_date', 'YYYYMMDD'),
        to_date(rec->>'disqualification_date', 'YYYYMMDD'), to_date(rec->>'card_issued', 'YYYYMMDD'),
        to_date(rec->>'card_valid_from', 'YYYYMMDD'), to_date(rec->>'card_expires', 'YYYYMMDD'),
        (rec->>'partial_contribution_percent')::smallint,
        CASE op WHEN 'register' THEN 'r' WHEN 'change' THEN 'c' WHEN 'end' THEN 'e' END::"char",
        id, src, rec->>'person_id',
        CASE WHEN rec->>'insurer_name' IS NOT DISTINCT FROM
                  (SELECT n.name FROM insurer.insurer_names n WHERE n.insurer_number = rec->>'insurer_number')
             THEN NULL ELSE rec->>'insurer_name' END,
        rec->>'card_classification', rec->>'personal_family', rec->>'insured_name', rec->>'name',
        rec->>'name_kana', rec->>'sex', rec->>'address', rec->>'postal_code', rec->>'loss_reason',
        nullif(
            rec - ARRAY['person_id', 'insurer_name', 'card_classification', 'personal_family', 'insured_name',
                        'name', 'name_kana', 'sex', 'birth_date', 'address', 'postal_code', 'qualification_date',
                        'disqualification_date', 'loss_reason', 'card_issued', 'card_valid_from', 'card_expires',
                        'partial_contribution_percent']
                - CASE WHEN jsonb_build_object('insurer_number', rec->'insurer_number', 'symbol', rec->'symbol',
                                               'number', rec->'number', 'branch', rec->'branch')
                            = insurer.id_parts(id)
                       THEN ARRAY['insurer_number', 'symbol', 'number', 'branch'] ELSE ARRAY[]::text[] END,
            '{}'::jsonb)
$$;

-- Writes versions (in the order given) and returns each one's seq: the one write path of the API, bulk files
-- and the synthetic nation.
CREATE FUNCTION insurer.write_versions(ids text[], versions int[], ops text[], effs date[], at timestamp,
                                       src text, records jsonb[])
RETURNS TABLE (written_id text, written_seq bigint) LANGUAGE sql AS $$
    INSERT INTO insurer.insurer_names (insurer_number, name)
        SELECT DISTINCT ON (r->>'insurer_number') r->>'insurer_number', r->>'insurer_name'
        FROM unnest(records) AS r ORDER BY r->>'insurer_number'
        ON CONFLICT DO NOTHING;
    INSERT INTO insurer.qualification_rows (
        recorded_at, version, effective_from, birth_date, qualification_date, disqualification_date, card_issued,
        card_valid_from, card_expires, partial_contribution_percent, op, id, source, person_id, insurer_name,
        card_classification, personal_family, insured_name, name, name_kana, sex, address, postal_code,
        loss_reason, extra)
    SELECT r.* FROM unnest(ids, versions, ops, effs, records) WITH ORDINALITY AS t(id, version, op, eff, rec, ord)
        CROSS JOIN LATERAL insurer.row_of(t.id, t.version, t.op, t.eff, at, src, t.rec) AS r
        ORDER BY t.ord
    RETURNING id, seq;
$$;

-- Existing versions move to the new layout with their seq (consumers' positions stay valid).
ALTER SEQUENCE insurer.qualification_versions_seq_seq OWNED BY NONE;
ALTER TABLE insurer.qualification_rows
    ALTER COLUMN seq SET DEFAULT nextval('insurer.qualification_versions_seq_seq');
ALTER SEQUENCE insurer.qualification_versions_seq_seq OWNED BY insurer.qualification_rows.seq;
INSERT INTO insurer.insurer_names (insurer_number, name)
    SELECT DISTINCT ON (record->>'insurer_number') record->>'insurer_number', record->>'insurer_name'
    FROM insurer.qualification_versions ORDER BY record->>'insurer_number', seq;
INSERT INTO insurer.qualification_rows
    SELECT v.seq, r.* FROM insurer.qualification_versions v
        CROSS JOIN LATERAL insurer.row_of(v.id, v.version, v.op, v.effective_from, v.recorded_at, v.source, v.record) AS r;
DROP VIEW insurer.feed_v1;
DROP TABLE insurer.qualification_versions;
DROP TABLE insurer.qualification_heads;

-- The private read shape the insurer service queries, and the published feed (unchanged for consumers).
CREATE VIEW insurer.qualification_versions AS
    SELECT r.seq, r.id, r.version,
           CASE r.op WHEN 'r' THEN 'register' WHEN 'c' THEN 'change' ELSE 'end' END AS op,
           r.effective_from, r.recorded_at, r.source,
           jsonb_strip_nulls(insurer.id_parts(r.id) || jsonb_build_object(
               'person_id', r.person_id, 'insurer_name', coalesce(r.insurer_name, n.name),
               'card_classification', r.card_classification, 'personal_family', r.personal_family,
               'insured_name', r.insured_name, 'name', r.name, 'name_kana', r.name_kana, 'sex', r.sex,
               'birth_date', to_char(r.birth_date, 'YYYYMMDD'), 'address', r.address,
               'postal_code', r.postal_code, 'qualification_date', to_char(r.qualification_date, 'YYYYMMDD'),
               'disqualification_date', to_char(r.disqualification_date, 'YYYYMMDD'),
               'loss_reason', r.loss_reason, 'card_issued', to_char(r.card_issued, 'YYYYMMDD'),
               'card_valid_from', to_char(r.card_valid_from, 'YYYYMMDD'),
               'card_expires', to_char(r.card_expires, 'YYYYMMDD'),
               'partial_contribution_percent', r.partial_contribution_percent))
           || coalesce(r.extra, '{}'::jsonb) AS record
    FROM insurer.qualification_rows r
    LEFT JOIN insurer.insurer_names n ON n.insurer_number = split_part(r.id, ':', 1);

CREATE VIEW insurer.feed_v1 AS
    SELECT seq, id, version, op, effective_from, recorded_at, source, record
    FROM insurer.qualification_versions;
