-- The マイナ資格確認アプリ (資格確認限定型, 居宅同意取得型): activation codes issued at a facility's terminal, and the
-- devices they activated (a device token speaks for its facility until the device is revoked).
CREATE TABLE reader.app_activations (
    code          text PRIMARY KEY,          -- 8 digits, single use
    facility      text NOT NULL,
    device_name   text NOT NULL,
    issued_at     timestamp NOT NULL,        -- simulated
    expires_at    timestamp NOT NULL,
    used_at       timestamp
);
CREATE TABLE reader.app_devices (
    id            text PRIMARY KEY,
    facility      text NOT NULL,
    name          text NOT NULL,
    activated_at  timestamp NOT NULL,
    revoked_at    timestamp
);
CREATE INDEX app_devices_facility ON reader.app_devices (facility);
