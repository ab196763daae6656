//! Credentials: the tokens onshi issues and checks. A token is `<kind>.<subject>.<expiry>.<HMAC-SHA256>` signed with
//! a key stored once per database (`auth.keys`), so every process accepts every other's; expiry is on the
//! simulated clock. The operator's token is different: a random secret generated at first start, kept with mode
//! 0600 in the home, and known to the processes only by its SHA-256.

use ring::hmac;
use sqlx::PgPool;

use onshi_wire::ids::DateTime;

use crate::clock::SimClock;
use crate::hex;

/// What a token stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A facility's Web API `idToken` (subject: the 医療機関コード).
    Facility,
    /// A facility's Web API `refreshToken`, exchanged at the login path for new tokens (subject: the code).
    FacilityRefresh,
    /// An insurer's credential, issued by the portal (subject: the 保険者番号).
    Insurer,
    /// A patient's short-lived token after card + PIN (subject: the person).
    Patient,
    /// A device activated for the マイナ資格確認アプリ (subject: `<医療機関コード>:<device id>`); it speaks for its
    /// facility.
    Device,
}

impl TokenKind {
    fn prefix(self) -> &'static str {
        match self {
            Self::Facility => "fac",
            Self::FacilityRefresh => "ref",
            Self::Insurer => "ins",
            Self::Patient => "pat",
            Self::Device => "dev",
        }
    }

    fn of(prefix: &str) -> Option<Self> {
        [
            Self::Facility,
            Self::FacilityRefresh,
            Self::Insurer,
            Self::Patient,
            Self::Device,
        ]
        .into_iter()
        .find(|k| k.prefix() == prefix)
    }
}

/// The signing key of this database and the operator token's digest.
#[derive(Clone)]
pub struct Credentials {
    key: hmac::Key,
    operator_sha256: Option<String>,
    clock: SimClock,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials")
    }
}

/// A new random secret (hex), for keys and the operator token.
pub fn random_secret() -> anyhow::Result<String> {
    use ring::rand::SecureRandom;
    let mut raw = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut raw)
        .map_err(|_| anyhow::anyhow!("no randomness"))?;
    Ok(hex(&raw))
}

impl Credentials {
    /// Loads (creating on first use) the signing key of this database.
    pub async fn load(
        pool: &PgPool,
        clock: SimClock,
        operator_sha256: Option<String>,
    ) -> anyhow::Result<Self> {
        sqlx::query(
            "INSERT INTO auth.keys (name, value) VALUES ('tokens', $1) ON CONFLICT DO NOTHING",
        )
        .bind(random_secret()?)
        .execute(pool)
        .await?;
        let (value,): (String,) =
            sqlx::query_as("SELECT value FROM auth.keys WHERE name = 'tokens'")
                .fetch_one(pool)
                .await?;
        Ok(Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, value.as_bytes()),
            operator_sha256,
            clock,
        })
    }

    /// A token of `kind` for `subject`, valid until `expiry` (`None`: until the key changes).
    pub fn issue(&self, kind: TokenKind, subject: &str, expiry: Option<DateTime>) -> String {
        let payload = format!(
            "{}.{subject}.{}",
            kind.prefix(),
            expiry.map(|e| e.compact()).unwrap_or_else(|| "-".into())
        );
        let sig = hex(hmac::sign(&self.key, payload.as_bytes()).as_ref());
        format!("{payload}.{sig}")
    }

    /// The kind and subject of a valid, unexpired token.
    pub fn verify(&self, token: &str) -> Option<(TokenKind, String)> {
        let (payload, sig) = token.trim().rsplit_once('.')?;
        let raw_sig: Vec<u8> = (0..sig.len())
            .step_by(2)
            .map(|i| {
                sig.get(i..i + 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            })
            .collect::<Option<_>>()?;
        hmac::verify(&self.key, payload.as_bytes(), &raw_sig).ok()?;
        let mut parts = payload.splitn(3, '.');
        let kind = TokenKind::of(parts.next()?)?;
        let subject = parts.next()?.to_string();
        let expiry = parts.next()?;
        if expiry != "-" {
            let expiry = DateTime::parse(expiry).ok()?;
            (self.clock.now_dt() <= expiry).then_some(())?;
        }
        Some((kind, subject))
    }

    /// The subject of a valid token of `kind`.
    pub fn subject(&self, token: &str, kind: TokenKind) -> Option<String> {
        self.verify(token)
            .filter(|(k, _)| *k == kind)
            .map(|(_, s)| s)
    }

    /// Whether `token` is the operator's.
    pub fn is_operator(&self, token: &str) -> bool {
        let Some(expected) = &self.operator_sha256 else {
            return false;
        };
        let given = crate::sha256_hex(token.trim().as_bytes());
        // Digests of the same length, compared without an early exit.
        given.len() == expected.len()
            && given
                .bytes()
                .zip(expected.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }

    pub fn clock(&self) -> &SimClock {
        &self.clock
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        let clock = SimClock::fixed(crate::clock::parse_time("2026-11-21T10:00:00").unwrap());
        Credentials {
            key: hmac::Key::new(hmac::HMAC_SHA256, b"k"),
            operator_sha256: Some(crate::sha256_hex(b"op-secret")),
            clock,
        }
    }

    #[test]
    fn tokens_verify_only_unchanged_unexpired_and_of_their_kind() {
        let c = creds();
        let later = DateTime::parse("20261121103000").unwrap();
        let t = c.issue(TokenKind::Patient, "p-1", Some(later));
        assert_eq!(c.verify(&t), Some((TokenKind::Patient, "p-1".into())));
        assert_eq!(c.subject(&t, TokenKind::Insurer), None);
        let forged = t.replace("p-1", "p-2");
        assert_eq!(c.verify(&forged), None);
        let past = DateTime::parse("20261121095959").unwrap();
        assert_eq!(
            c.verify(&c.issue(TokenKind::Patient, "p-1", Some(past))),
            None
        );
        let forever = c.issue(TokenKind::Insurer, "01130012", None);
        assert_eq!(
            c.subject(&forever, TokenKind::Insurer).as_deref(),
            Some("01130012")
        );
        assert!(
            c.verify("nonsense").is_none()
                && c.verify("").is_none()
                && c.verify("a.b.c.zz").is_none()
        );
        assert!(c.is_operator("op-secret") && !c.is_operator("op-secret2"));
    }
}
