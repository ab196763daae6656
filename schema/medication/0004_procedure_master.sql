-- The 診療行為マスター (SSK 基本マスター "S"): the name, unit and points of a procedure code, for 診療情報 and
-- 手術情報. A compact sample ships with the project; `onshi master import` loads the official file.
CREATE TABLE medication.procedure_master (
    code    text PRIMARY KEY,     -- 診療行為コード (9)
    name    text NOT NULL,        -- 省略漢字名称
    unit    text,                 -- データ規格名 (単位), when the procedure has one
    points  numeric               -- 新又は現点数
);
