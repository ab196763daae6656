//! Virtual My Number cards. The simulated card authority (the simulator's CA) issues each card a user
//! certificate modelled on the JPKI 利用者証明用電子証明書 (serial, validity, key pair); a 4-digit PIN guards it
//! (three wrong tries in a row lock it); it expires; it is revoked when reported lost; and 初回登録 links it once
//! to the person's individual-unit insured number.

use chrono::NaiveDateTime;
use serde::Serialize;
use sqlx::PgPool;

use onshi_platform::http::{ApiError, Core};
use onshi_wire::ids::Date;

/// The binary COPY statement for bulk-loading cards (the synthetic nation); user certificates are issued on
/// first use.
pub const COPY_CARDS: &str =
    "COPY consent.cards (person_id, serial, issued_on, expires_on, pin_sha256, \
    registered_on, qualification_id) FROM STDIN (FORMAT binary)";

/// The PIN digest stored for a card: SHA-256 of the serial and the PIN.
pub fn pin_digest(serial: &str, pin: &str) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, format!("{serial}{pin}").as_bytes())
        .as_ref()
        .to_vec()
}

/// Rebuilds the cards' indexes compact after a bulk load ([`onshi_platform::db::compact_indexes`]).
pub async fn compact(pool: &PgPool) -> sqlx::Result<()> {
    onshi_platform::db::compact_indexes(pool, "consent.cards").await
}

/// Wrong PINs in a row that lock a card.
pub const PIN_TRIES: i32 = 3;

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct Card {
    pub serial: String,
    pub person_id: String,
    pub issued_on: chrono::NaiveDate,
    pub expires_on: chrono::NaiveDate,
    pub pin_sha256: Vec<u8>,
    pub failed_pins: i32,
    pub locked_at: Option<NaiveDateTime>,
    pub revoked_on: Option<chrono::NaiveDate>,
    pub registered_on: Option<chrono::NaiveDate>,
    pub qualification_id: Option<String>,
    pub cert_sha256: Option<String>,
}

/// What may be shown about a card (never the PIN digest).
#[derive(Debug, Clone, Serialize)]
pub struct PublicCard {
    pub serial: String,
    pub person_id: String,
    pub issued_on: String,
    pub expires_on: String,
    pub locked: bool,
    pub revoked: bool,
    pub registered: bool,
    pub certificate_sha256: Option<String>,
}

impl Card {
    pub fn public(&self) -> PublicCard {
        PublicCard {
            serial: self.serial.clone(),
            person_id: self.person_id.clone(),
            issued_on: Date::from_naive(self.issued_on).compact(),
            expires_on: Date::from_naive(self.expires_on).compact(),
            locked: self.locked_at.is_some(),
            revoked: self.revoked_on.is_some(),
            registered: self.registered_on.is_some(),
            certificate_sha256: self.cert_sha256.clone(),
        }
    }
}

fn check_pin_format(pin: &str) -> Result<(), ApiError> {
    if pin.len() == 4 && pin.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(ApiError::bad("pin: 4 digits"))
    }
}

/// Issues a card with its user certificate.
pub async fn issue(
    core: &Core,
    person_id: &str,
    pin: &str,
    years: i64,
) -> Result<PublicCard, ApiError> {
    check_pin_format(pin)?;
    if person_id.is_empty() || person_id.len() > 64 {
        return Err(ApiError::bad("person_id: 1-64 characters"));
    }
    use ring::rand::SecureRandom;
    let mut raw = [0u8; 8];
    ring::rand::SystemRandom::new()
        .fill(&mut raw)
        .map_err(|_| ApiError::Internal(anyhow::anyhow!("no randomness")))?;
    let serial: String = raw.iter().map(|b| format!("{b:02X}")).collect();
    let today = core.clock.today();
    let expires = today.add_days(years * 365);
    let ca = issuer(&core.pool).await?;
    let cert = ca.issue_card(&serial, today, expires)?;
    sqlx::query(
        "INSERT INTO consent.cards (serial, person_id, issued_on, expires_on, pin_sha256, cert_sha256, cert_pem) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&serial)
    .bind(person_id)
    .bind(today.naive())
    .bind(expires.naive())
    .bind(pin_digest(&serial, pin))
    .bind(&cert.sha256)
    .bind(&cert.cert_pem)
    .execute(&core.pool)
    .await?;
    let card = get(&core.pool, &serial).await?.expect("just inserted");
    Ok(card.public())
}

/// Issues a card with a chosen serial unless it exists (demo data); optionally already registered.
pub async fn issue_fixed(
    core: &Core,
    serial: &str,
    person_id: &str,
    pin: &str,
    issued: Date,
    years: i64,
    registered: Option<(&str, Date)>,
) -> Result<(), ApiError> {
    check_pin_format(pin)?;
    if get(&core.pool, serial).await?.is_some() {
        return Ok(());
    }
    let expires = issued.add_days(years * 365);
    let ca = issuer(&core.pool).await?;
    let cert = ca.issue_card(serial, issued, expires)?;
    sqlx::query(
        "INSERT INTO consent.cards (serial, person_id, issued_on, expires_on, pin_sha256, cert_sha256, cert_pem, \
         qualification_id, registered_on) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
    )
    .bind(serial)
    .bind(person_id)
    .bind(issued.naive())
    .bind(expires.naive())
    .bind(pin_digest(serial, pin))
    .bind(&cert.sha256)
    .bind(&cert.cert_pem)
    .bind(registered.map(|r| r.0))
    .bind(registered.map(|r| r.1.naive()))
    .execute(&core.pool)
    .await?;
    Ok(())
}

/// The CA that issues the cards' user certificates (J-LIS in the real system): the consent service's own.
pub async fn issuer(pool: &PgPool) -> anyhow::Result<onshi_platform::pki::Ca> {
    onshi_platform::pki::stored_ca(pool, "consent.card_ca").await
}

pub async fn get(pool: &PgPool, serial: &str) -> sqlx::Result<Option<Card>> {
    sqlx::query_as(
        "SELECT serial, person_id, issued_on, expires_on, pin_sha256, failed_pins, locked_at, revoked_on, \
         registered_on, qualification_id, cert_sha256 FROM consent.cards WHERE serial = $1",
    )
    .bind(serial)
    .fetch_optional(pool)
    .await
}

/// Gives a seeded card its user certificate on first use.
pub async fn ensure_certificate(core: &Core, card: &Card) -> anyhow::Result<()> {
    if card.cert_sha256.is_some() {
        return Ok(());
    }
    let ca = issuer(&core.pool).await?;
    let cert = ca.issue_card(
        &card.serial,
        Date::from_naive(card.issued_on),
        Date::from_naive(card.expires_on),
    )?;
    sqlx::query("UPDATE consent.cards SET cert_sha256 = $2, cert_pem = $3 WHERE serial = $1 AND cert_sha256 IS NULL")
        .bind(&card.serial)
        .bind(&cert.sha256)
        .bind(&cert.cert_pem)
        .execute(&core.pool)
        .await?;
    Ok(())
}

/// The outcome of a PIN entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Pin {
    Correct,
    Wrong { tries_left: i32 },
    Locked,
}

/// Checks a PIN atomically: a correct one resets the count, a wrong one counts, the third locks the card.
pub async fn verify_pin(
    pool: &PgPool,
    serial: &str,
    pin: &str,
    now: NaiveDateTime,
) -> sqlx::Result<Pin> {
    let digest = pin_digest(serial, pin);
    #[derive(sqlx::FromRow)]
    struct Tried {
        failed_pins: i32,
        locked_at: Option<NaiveDateTime>,
        correct: bool,
    }
    let row: Option<Tried> = sqlx::query_as(
        "UPDATE consent.cards SET \
           failed_pins = CASE WHEN locked_at IS NOT NULL THEN failed_pins \
                              WHEN pin_sha256 = $2 THEN 0 ELSE failed_pins + 1 END, \
           locked_at = CASE WHEN locked_at IS NULL AND pin_sha256 <> $2 AND failed_pins + 1 >= $3 THEN $4 \
                            ELSE locked_at END \
         WHERE serial = $1 \
         RETURNING failed_pins, locked_at, pin_sha256 = $2 AS correct",
    )
    .bind(serial)
    .bind(&digest)
    .bind(PIN_TRIES)
    .bind(now)
    .fetch_optional(pool)
    .await?;
    Ok(match row {
        None => Pin::Locked,
        Some(t) if t.locked_at.is_some() => Pin::Locked,
        Some(t) if t.correct => Pin::Correct,
        Some(t) => Pin::Wrong {
            tries_left: PIN_TRIES - t.failed_pins,
        },
    })
}

/// 初回登録: links the card to an individual-unit insured number, once.
pub async fn register(
    pool: &PgPool,
    serial: &str,
    qualification_id: &str,
    today: Date,
) -> Result<(), ApiError> {
    let done = sqlx::query(
        "UPDATE consent.cards SET registered_on = $3, qualification_id = $2 \
         WHERE serial = $1 AND registered_on IS NULL AND revoked_on IS NULL",
    )
    .bind(serial)
    .bind(qualification_id)
    .bind(today.naive())
    .execute(pool)
    .await?;
    if done.rows_affected() == 1 {
        return Ok(());
    }
    match get(pool, serial).await? {
        None => Err(ApiError::NotFound(format!("card {serial} does not exist"))),
        Some(c) if c.revoked_on.is_some() => Err(ApiError::Conflict("the card is revoked".into())),
        Some(_) => Err(ApiError::Conflict(
            "the card is already registered for health insurance use".into(),
        )),
    }
}

/// Revokes a card reported lost (its certificate can no longer be used).
pub async fn report_lost(pool: &PgPool, serial: &str, today: Date) -> Result<(), ApiError> {
    let done = sqlx::query(
        "UPDATE consent.cards SET revoked_on = $2 WHERE serial = $1 AND revoked_on IS NULL",
    )
    .bind(serial)
    .bind(today.naive())
    .execute(pool)
    .await?;
    if done.rows_affected() == 1 {
        Ok(())
    } else if get(pool, serial).await?.is_none() {
        Err(ApiError::NotFound(format!("card {serial} does not exist")))
    } else {
        Err(ApiError::Conflict("the card is already revoked".into()))
    }
}
