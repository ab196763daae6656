-- 使用区分 as the claim codes it (YZKsiquc01res carries codes, not labels): the 医科/歯科 診療識別 (21 内服, 22 屯服,
-- 23 外用, 31–33 注射, …) or the 調剤 剤形コード (1 内服, 3 屯服, 4 注射, 5 外用, …), and the 調剤 特別指示 (SpInst).
-- Rows stored before as labels get the nearest code of their kind of claim (注射 → 33 / 4, その他 → 80).
ALTER TABLE medication.dispensings ADD COLUMN special text;
UPDATE medication.dispensings d SET use_class = CASE
        WHEN f.kind = 'pharmacy' THEN CASE d.use_class
            WHEN '内服' THEN '1' WHEN '頓服' THEN '3' WHEN '注射' THEN '4' WHEN '外用' THEN '5' ELSE '1' END
        ELSE CASE d.use_class
            WHEN '内服' THEN '21' WHEN '頓服' THEN '22' WHEN '外用' THEN '23' WHEN '注射' THEN '33' ELSE '80' END
    END
FROM medication.receipts r JOIN medication.claim_files f ON f.id = r.file_id
WHERE r.id = d.receipt_id AND d.use_class !~ '^[0-9]+$';
COMMENT ON COLUMN medication.dispensings.use_class IS '使用区分 code: 診療識別 (医科/歯科) or 剤形コード (調剤)';
