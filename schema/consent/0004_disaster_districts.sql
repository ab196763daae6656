-- Disaster areas by municipality as well as by prefecture: a district is the prefecture (2 digits) and the
-- 郡市区番号 (2 digits) of the facility codes in it, e.g. '0415'. A facility is covered when its prefecture is in
-- `prefectures` or its prefecture + 郡市区番号 is in `districts`.
ALTER TABLE consent.disasters ADD COLUMN districts text[] NOT NULL DEFAULT '{}';
