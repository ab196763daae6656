-- The simulator's certificate authority (one per database): it signs the facilities' terminal certificates, the
-- TLS server certificate and the virtual My Number cards' user certificates.
CREATE TABLE portal.ca (
    id         smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    key_pem    text NOT NULL,
    cert_pem   text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
