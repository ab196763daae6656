-- Card-reader sessions belong to the reader service now (schema/reader/0001_sessions.sql). Sessions live ten
-- simulated minutes, so none is carried over.
DROP TABLE consent.reader_sessions;
