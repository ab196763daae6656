-- Usage statistics (platform::usage): confirmations and views per simulated month, facility and method. Codes and
-- counts only, never a person.
CREATE TABLE usage.counts (
    month     text   NOT NULL,   -- YYYYMM, simulated
    facility  text   NOT NULL,   -- 医療機関コード
    method    text   NOT NULL,   -- mynumber_card | insurance_card | bulk | view_medication | view_clinical | view_checkup
    count     bigint NOT NULL,
    PRIMARY KEY (month, facility, method)
);
