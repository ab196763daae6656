-- The head table is gone (as in the insurer's registry): the latest version of a facility is the last entry of
-- the (id, version) index, and writers lock that version row. Versions are written only through
-- portal.write_versions, the same shape as every versioned registry's write function.
ALTER TABLE portal.facility_versions DROP CONSTRAINT facility_versions_id_fkey;
DROP TABLE portal.facility_heads;

-- Writes versions (in the order given) and returns each one's seq.
CREATE FUNCTION portal.write_versions(ids text[], versions int[], ops text[], effs date[], at timestamp,
                                      src text, records jsonb[])
RETURNS TABLE (written_id text, written_seq bigint) LANGUAGE sql AS $$
    INSERT INTO portal.facility_versions (id, version, op, effective_from, recorded_at, source, record)
    SELECT t.id, t.version, t.op, t.eff, at, src, t.rec
        FROM unnest(ids, versions, ops, effs, records) WITH ORDINALITY AS t(id, version, op, eff, rec, ord)
        ORDER BY t.ord
    RETURNING id, seq;
$$;
