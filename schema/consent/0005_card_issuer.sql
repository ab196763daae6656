-- The issuer of the virtual My Number cards' user certificates (one per database): the consent service's own CA,
-- standing in for J-LIS (公的個人認証サービス), which is not the CA of the facilities' terminals. Cards issued
-- before this migration keep the certificates they have.
CREATE TABLE consent.card_ca (
    id         smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    key_pem    text NOT NULL,
    cert_pem   text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
