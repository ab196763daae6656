-- The medication rows extraction writes (dispensings, procedures) no longer carry a foreign key to their receipt.
-- They are derived rows: written only by extraction, in the same transaction that read the receipt they point to,
-- and receipts are never deleted; the key's check was one index probe of medication.receipts per written row, a
-- third of the cost of extraction beyond the COPY itself (issue 16: extraction against a raw COPY of the same rows).
ALTER TABLE medication.dispensings DROP CONSTRAINT IF EXISTS dispensings_receipt_id_fkey;
ALTER TABLE medication.procedures DROP CONSTRAINT IF EXISTS procedures_receipt_id_fkey;
