-- Medication service (薬剤情報): the drug master, claim files as received, their receipts, and the medication
-- rows extracted from them on the 11th-day schedule.
CREATE TABLE medication.drugs (
    code          text PRIMARY KEY,      -- レセ電 医薬品コード (9 digits)
    name          text NOT NULL,         -- 医薬品名・規格名
    unit          text NOT NULL,         -- 単位
    price         numeric NOT NULL,      -- 薬価 per unit
    generic       boolean NOT NULL,      -- 後発品
    form          text NOT NULL,         -- 剤形: 1 内用, 4 注射, 6 外用, 8 歯科用
    price_code    text,                  -- 薬価基準収載医薬品コード (12)
    ingredient    text,                  -- 成分名 (price list)
    generic_code  text,                  -- 一般名コード: drugs with the same code are interchangeable
    generic_name  text,                  -- 一般名処方の標準的な記載
    valid_from    date,
    valid_to      date
);
CREATE INDEX drugs_price_code ON medication.drugs (price_code);
CREATE INDEX drugs_generic_code ON medication.drugs (generic_code);

-- The MHLW price list (成分名, 後発品 flags), joined to the Y master by 薬価基準収載医薬品コード.
CREATE TABLE medication.price_list (
    price_code    text PRIMARY KEY,
    category      text NOT NULL,
    ingredient    text NOT NULL,
    product       text NOT NULL,
    price         numeric,
    generic_exists boolean NOT NULL      -- 同一剤形・規格の後発医薬品がある先発医薬品
);

CREATE TABLE medication.claim_files (
    id            bigserial PRIMARY KEY,
    sha256        text NOT NULL UNIQUE,
    facility      text NOT NULL,         -- 10-digit code of the claiming institution or pharmacy
    kind          text NOT NULL,         -- medical | dental | pharmacy
    claim_month   text NOT NULL,         -- 請求年月 YYYYMM
    received_at   timestamp NOT NULL,    -- simulated
    batch_at      timestamp NOT NULL,    -- when its medication becomes visible (schedule)
    extracted_at  timestamp,
    receipts      int NOT NULL,
    content       bytea NOT NULL         -- the file as received
);
CREATE INDEX claim_files_batch ON medication.claim_files (batch_at) WHERE extracted_at IS NULL;

CREATE TABLE medication.receipts (
    id             bigserial PRIMARY KEY,
    file_id        bigint NOT NULL REFERENCES medication.claim_files (id),
    receipt_no     int NOT NULL,
    claim_key      text NOT NULL,        -- patient + institution + 診療年月 (+ prescriber): later claims replace
    search_number  text,                 -- 検索番号 of returned and re-claimed receipts
    qualification_id text,
    person_id      text,                 -- NULL: no such insured person (reported, kept)
    birth_date     date NOT NULL,        -- RE 生年月日 (for the patient view's 負担割合)
    treatment_month text NOT NULL,
    superseded_by  bigint,               -- a later claim of the same receipt
    UNIQUE (file_id, receipt_no)
);
CREATE INDEX receipts_key ON medication.receipts (claim_key);

CREATE TABLE medication.dispensings (
    id             bigserial PRIMARY KEY,
    receipt_id     bigint NOT NULL REFERENCES medication.receipts (id),
    person_id      text NOT NULL,
    date           date NOT NULL,        -- 調剤/診療 date
    prescribed_on  date,                 -- 処方年月日 (調剤)
    facility       text NOT NULL,        -- the institution or pharmacy that claimed it
    facility_name  text,
    prescriber     text,                 -- prescribing institution (調剤: from RE)
    prescriber_name text,
    in_out         text NOT NULL,        -- 1 院内, 2 院外
    use_class      text NOT NULL,        -- 内服 / 頓服 / 外用 / 注射 / その他
    drug_code      text NOT NULL,
    drug_name      text NOT NULL,
    ingredient     text,
    usage          text,
    dose           text,                 -- 使用量 (1日量 / 1回量 / total)
    quantity       text,                 -- 回数 / 調剤数量
    unit           text,
    treatment_month text NOT NULL,
    visible_from   timestamp NOT NULL
);
CREATE INDEX dispensings_person ON medication.dispensings (person_id, date);

-- 診療行為 of 医科/歯科 receipts (SI), for 診療情報 (YZKsiquc01 FileCategory 3/4).
CREATE TABLE medication.procedures (
    id             bigserial PRIMARY KEY,
    receipt_id     bigint NOT NULL REFERENCES medication.receipts (id),
    person_id      text NOT NULL,
    date           date NOT NULL,
    facility       text NOT NULL,
    code           text NOT NULL,        -- 診療行為コード (9)
    shinryo        text NOT NULL,        -- 診療識別
    quantity       text,
    count          text NOT NULL,
    treatment_month text NOT NULL,
    visible_from   timestamp NOT NULL
);
CREATE INDEX procedures_person ON medication.procedures (person_id, date);
