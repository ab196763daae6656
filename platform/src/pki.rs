//! The simulator's public-key infrastructure: one CA per database (rcgen), client certificates for facility
//! terminals, the server certificate of the TLS listener, and the rustls configurations. A certificate is
//! recognised by the SHA-256 of its DER ([`fingerprint`]); registries keep fingerprints, not parsed X.509.

use std::sync::Arc;

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use onshi_wire::ids::Date;

/// The SHA-256 (hex) of a certificate's DER: how registries recognise it.
pub fn fingerprint(der: &[u8]) -> String {
    crate::sha256_hex(der)
}

fn ca_params() -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "JP");
    dn.push(DnType::OrganizationName, "onshi simulator");
    dn.push(DnType::CommonName, "onshi simulator CA");
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.not_before = rcgen::date_time_ymd(2020, 1, 1);
    p.not_after = rcgen::date_time_ymd(2099, 12, 31);
    p
}

/// The first instant of a simulated (JST) day, in UTC as certificates carry it: 00:00 JST is 15:00 UTC the day
/// before.
fn jst_day_start(d: Date) -> time::OffsetDateTime {
    use chrono::Datelike;
    let n = d.naive();
    rcgen::date_time_ymd(n.year(), n.month() as u8, n.day() as u8) - time::Duration::hours(9)
}

/// The last second of a simulated (JST) day, in UTC.
fn jst_day_end(d: Date) -> time::OffsetDateTime {
    jst_day_start(d) + time::Duration::days(1) - time::Duration::seconds(1)
}

/// A certificate issued by the CA, with its private key.
#[derive(Debug, Clone)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: Vec<u8>,
    pub sha256: String,
    pub serial: String,
}

/// The CA kept in a service's one-row table `table` (`key_pem`, `cert_pem`; a trusted name, never input), made on
/// first use (concurrent first uses agree on one).
pub async fn stored_ca(pool: &sqlx::PgPool, table: &str) -> anyhow::Result<Ca> {
    let select = format!("SELECT key_pem, cert_pem FROM {table} WHERE id = 1");
    if let Some((key, cert)) = sqlx::query_as::<_, (String, String)>(&select)
        .fetch_optional(pool)
        .await?
    {
        return Ca::from_pem(&key, &cert);
    }
    let fresh = Ca::generate()?;
    sqlx::query(&format!(
        "INSERT INTO {table} (key_pem, cert_pem) VALUES ($1, $2) ON CONFLICT DO NOTHING"
    ))
    .bind(fresh.key_pem())
    .bind(&fresh.cert_pem)
    .execute(pool)
    .await?;
    let (key, cert): (String, String) = sqlx::query_as(&select).fetch_one(pool).await?;
    Ca::from_pem(&key, &cert)
}

/// The CA: its key and certificate.
pub struct Ca {
    key: KeyPair,
    pub cert_pem: String,
    pub cert_der: Vec<u8>,
}

impl Ca {
    /// A new CA.
    pub fn generate() -> anyhow::Result<Self> {
        let key = KeyPair::generate()?;
        let cert = ca_params().self_signed(&key)?;
        Ok(Self {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            key,
        })
    }

    /// A stored CA (its key PEM and certificate PEM).
    pub fn from_pem(key_pem: &str, cert_pem: &str) -> anyhow::Result<Self> {
        let key = KeyPair::from_pem(key_pem).context("CA key")?;
        let der = pem_to_der(cert_pem).context("CA certificate")?;
        Ok(Self {
            key,
            cert_pem: cert_pem.to_string(),
            cert_der: der,
        })
    }

    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    fn issue(&self, mut params: CertificateParams) -> anyhow::Result<Issued> {
        use ring::rand::SecureRandom;
        let mut serial = [0u8; 16];
        ring::rand::SystemRandom::new()
            .fill(&mut serial)
            .map_err(|_| anyhow::anyhow!("no randomness"))?;
        serial[0] &= 0x7f;
        params.serial_number = Some(SerialNumber::from_slice(&serial));
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate()?;
        let issuer = Issuer::new(ca_params(), &self.key);
        let cert = params.signed_by(&key, &issuer)?;
        let der = cert.der().to_vec();
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            sha256: fingerprint(&der),
            serial: serial.iter().map(|b| format!("{b:02X}")).collect(),
            der,
        })
    }

    /// A client certificate for one terminal of a facility (CN = 医療機関コード, OU = terminal).
    pub fn issue_client(
        &self,
        facility: &str,
        terminal: &str,
        not_before: Date,
        not_after: Date,
    ) -> anyhow::Result<Issued> {
        self.issue(client_auth_params(
            &[
                (DnType::OrganizationName, "onshi facility"),
                (DnType::OrganizationalUnitName, terminal),
                (DnType::CommonName, facility),
            ],
            not_before,
            not_after,
        ))
    }

    /// The TLS server certificate for `names` (DNS names or IP addresses).
    pub fn issue_server(&self, names: &[&str]) -> anyhow::Result<Issued> {
        let mut p = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CommonName,
            names.first().copied().unwrap_or("localhost"),
        );
        p.distinguished_name = dn;
        p.subject_alt_names = names
            .iter()
            .map(|n| match n.parse::<std::net::IpAddr>() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                Err(_) => Ok::<_, rcgen::Error>(SanType::DnsName((*n).try_into()?)),
            })
            .collect::<Result<_, _>>()?;
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        p.not_before = rcgen::date_time_ymd(2020, 1, 1);
        p.not_after = rcgen::date_time_ymd(2099, 12, 31);
        self.issue(p)
    }

    /// A user certificate modelled on the JPKI 利用者証明用電子証明書 of a My Number card.
    pub fn issue_card(
        &self,
        serial_hint: &str,
        not_before: Date,
        not_after: Date,
    ) -> anyhow::Result<Issued> {
        self.issue(client_auth_params(
            &[
                (DnType::OrganizationName, "onshi card authority"),
                (DnType::CommonName, &format!("利用者証明用 {serial_hint}")),
            ],
            not_before,
            not_after,
        ))
    }
}

/// Parameters of a client-authentication certificate: `C=JP` then `subject`, valid over the given days.
fn client_auth_params(
    subject: &[(DnType, &str)],
    not_before: Date,
    not_after: Date,
) -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "JP");
    for (kind, value) in subject {
        dn.push(kind.clone(), *value);
    }
    p.distinguished_name = dn;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    p.not_before = jst_day_start(not_before);
    p.not_after = jst_day_end(not_after);
    p
}

/// The DER of the first PEM block of `pem`.
pub fn pem_to_der(pem: &str) -> anyhow::Result<Vec<u8>> {
    use rustls::pki_types::pem::PemObject;
    Ok(CertificateDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| anyhow::anyhow!("bad PEM: {e:?}"))?
        .to_vec())
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Certificate validity is judged on the simulated clock (JST), like everything else in the simulator.
#[derive(Debug)]
struct SimTime(crate::clock::SimClock);

impl rustls::time_provider::TimeProvider for SimTime {
    fn current_time(&self) -> Option<rustls::pki_types::UnixTime> {
        let utc = self.0.now() - chrono::TimeDelta::hours(9);
        let secs = utc.and_utc().timestamp();
        (secs >= 0).then(|| {
            rustls::pki_types::UnixTime::since_unix_epoch(std::time::Duration::from_secs(
                secs as u64,
            ))
        })
    }
}

/// The server side: this certificate, and client certificates verified against `ca` when presented (a client
/// without one completes the handshake and is refused by the application with the spec's error answer).
/// What the TLS listener presents and trusts: the CA that issues terminal certificates, and a server certificate
/// it issued (the portal's, asked in-process or over `/internal/v1/portal/server-certificate`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ServerIdentity {
    pub ca_cert_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

impl ServerIdentity {
    /// A server certificate for `names` from `ca`.
    pub fn issue(ca: &Ca, names: &[&str]) -> anyhow::Result<Self> {
        let cert = ca.issue_server(names)?;
        Ok(Self {
            ca_cert_pem: ca.cert_pem.clone(),
            cert_pem: cert.cert_pem,
            key_pem: cert.key_pem,
        })
    }
}

/// Validity periods are checked against the simulated `clock`.
pub fn server_config(
    server: &ServerIdentity,
    clock: crate::clock::SimClock,
) -> anyhow::Result<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    let ca_der = pem_to_der(&server.ca_cert_pem).context("CA certificate")?;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(ca_der.clone()))?;
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
            .allow_unauthenticated()
            .build()?;
    let key = PrivateKeyDer::from_pem_slice(server.key_pem.as_bytes())
        .map_err(|e| anyhow::anyhow!("server key: {e:?}"))?;
    let chain = vec![
        CertificateDer::from(pem_to_der(&server.cert_pem).context("server certificate")?),
        CertificateDer::from(ca_der),
    ];
    Ok(
        rustls::ServerConfig::builder_with_details(provider(), Arc::new(SimTime(clock)))
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(Arc::new(Logged(verifier)))
            .with_single_cert(chain, key)?,
    )
}

/// The client-certificate verifier that logs every refused handshake with its reason (and the certificate's
/// fingerprint, never personal data).
#[derive(Debug)]
struct Logged(Arc<dyn rustls::server::danger::ClientCertVerifier>);

impl rustls::server::danger::ClientCertVerifier for Logged {
    fn offer_client_auth(&self) -> bool {
        self.0.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.0.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        self.0.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::server::danger::ClientCertVerified, rustls::Error> {
        self.0
            .verify_client_cert(end_entity, intermediates, now)
            .inspect_err(|e| {
                tracing::warn!(
                    reason = %e,
                    certificate = %fingerprint(end_entity),
                    "TLS handshake refused: client certificate"
                )
            })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// A client trusting `ca_pem`, presenting `cert` when given (tests, tools).
pub fn client_config(
    ca_pem: &str,
    cert: Option<(&str, &str)>,
) -> anyhow::Result<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(pem_to_der(ca_pem)?))?;
    let b = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    Ok(match cert {
        None => b.with_no_client_auth(),
        Some((cert_pem, key_pem)) => {
            let key = PrivateKeyDer::Pkcs8(
                PrivatePkcs8KeyDer::from_pem_slice(key_pem.as_bytes())
                    .map_err(|e| anyhow::anyhow!("client key: {e:?}"))?,
            );
            b.with_client_auth_cert(vec![CertificateDer::from(pem_to_der(cert_pem)?)], key)?
        }
    })
}

/// The identity a TLS connection presented (connection data, set by the listener).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCert {
    pub sha256: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issues_certificates_a_stored_ca_can_continue_to_sign() {
        let ca = Ca::generate().unwrap();
        let again = Ca::from_pem(&ca.key_pem(), &ca.cert_pem).unwrap();
        let d = |s| Date::parse(s).unwrap();
        let c = again
            .issue_client("1310112345", "T1", d("20260101"), d("20271231"))
            .unwrap();
        assert_eq!(c.sha256.len(), 64);
        assert_ne!(c.sha256, fingerprint(&ca.cert_der));
        assert!(client_config(&ca.cert_pem, Some((&c.cert_pem, &c.key_pem))).is_ok());
        let s = ServerIdentity::issue(&ca, &["localhost", "127.0.0.1"]).unwrap();
        let clock = crate::clock::SimClock::fixed(crate::clock::parse_time("2026-11-21").unwrap());
        assert!(server_config(&s, clock).is_ok());
    }
}
