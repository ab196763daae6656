-- Claim files are stored in chunks, not one value: a file of any size is taken in and read back for extraction in
-- constant memory. The encoding found at intake is kept so that extraction reads the file once.
CREATE TABLE medication.claim_chunks (
    file_id   bigint NOT NULL REFERENCES medication.claim_files (id),
    seq       int NOT NULL,              -- 0, 1, … in file order
    data      bytea NOT NULL,            -- at most 1 MiB
    PRIMARY KEY (file_id, seq)
);
INSERT INTO medication.claim_chunks (file_id, seq, data) SELECT id, 0, content FROM medication.claim_files;
ALTER TABLE medication.claim_files DROP COLUMN content;
-- shift_jis | utf-8; NULL (files stored before this migration): found again when the file is read.
ALTER TABLE medication.claim_files ADD COLUMN encoding text;
-- Dated drug lines of the file (its report, also for a duplicate).
ALTER TABLE medication.claim_files ADD COLUMN drug_lines bigint NOT NULL DEFAULT 0;
-- Later claims replace earlier ones of the same institution: found per file and key, among current receipts.
CREATE INDEX receipts_current_key ON medication.receipts (claim_key, file_id) WHERE superseded_by IS NULL;
DROP INDEX medication.receipts_key;
CREATE INDEX claim_files_facility ON medication.claim_files (facility) WHERE extracted_at IS NOT NULL;
