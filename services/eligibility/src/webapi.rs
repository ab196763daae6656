//! The JSON Web API's login (reference §1.7): `POST …/MSA12020/ILI12020SV01/auth` returns an `idToken`, which the
//! entry pipeline's Web API door verifies here for every message path (`WEB_API_MESSAGES` in `onshi-wire`).
//!
//! The real login body is not public ([U]); the simulator's is `{"MedicalInstitutionCode", "ClientSecret"}` with
//! the secret issued by the portal. Tokens are `<code>.<expiry YYYYMMDDHHmmss>.<HMAC-SHA256>` signed with a key
//! stored once per database, so every process accepts them; expiry is on the simulated clock.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use ring::hmac;
use serde::Deserialize;
use sqlx::PgPool;

use onshi_platform::config::limits;
use onshi_platform::http::{parse_json, read_body, ApiError};
use onshi_wire::ids::{DateTime, InstitutionCode};
use onshi_wire::msg::file_name::WEB_API_LOGIN;

use crate::Eligibility;

/// Loads (creating on first use) the token signing key of this database.
pub async fn load_key(pool: &PgPool) -> anyhow::Result<hmac::Key> {
    use ring::rand::SecureRandom;
    let mut raw = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut raw)
        .map_err(|_| anyhow::anyhow!("no randomness"))?;
    let fresh: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    sqlx::query(
        "INSERT INTO eligibility.settings (name, value) VALUES ('web_api_token_key', $1) ON CONFLICT DO NOTHING",
    )
    .bind(&fresh)
    .execute(pool)
    .await?;
    let (value,): (String,) =
        sqlx::query_as("SELECT value FROM eligibility.settings WHERE name = 'web_api_token_key'")
            .fetch_one(pool)
            .await?;
    Ok(hmac::Key::new(hmac::HMAC_SHA256, value.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Eligibility {
    fn sign(&self, payload: &str) -> String {
        hex(hmac::sign(&self.token_key, payload.as_bytes()).as_ref())
    }

    /// Issues a token for `code` valid until `expiry`.
    pub fn issue_token(&self, code: &InstitutionCode, expiry: DateTime) -> String {
        let payload = format!("{}.{}", code, expiry.compact());
        format!("{payload}.{}", self.sign(&payload))
    }

    /// The facility of a valid, unexpired token.
    pub fn verify_token(&self, token: &str, now: DateTime) -> Option<InstitutionCode> {
        let (payload, sig) = token.trim().rsplit_once('.')?;
        let raw_sig: Vec<u8> = (0..sig.len())
            .step_by(2)
            .map(|i| {
                sig.get(i..i + 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            })
            .collect::<Option<_>>()?;
        hmac::verify(&self.token_key, payload.as_bytes(), &raw_sig).ok()?;
        let (code, expiry) = payload.split_once('.')?;
        let expiry = DateTime::parse(expiry).ok()?;
        (now <= expiry).then_some(())?;
        InstitutionCode::parse(code).ok()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct Login {
    medical_institution_code: String,
    client_secret: String,
}

async fn login(
    e: web::Data<Arc<Eligibility>>,
    http: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let cert_facility = match e.authenticate(&http) {
        Ok(f) => f,
        Err(err) => {
            return Ok(HttpResponse::Unauthorized().json(serde_json::json!({
                "error": {"code": "unauthorized", "message": err.outcome.message}
            })))
        }
    };
    let req: Login = parse_json(&read_body(body, limits::WEB_API_LOGIN).await?)?;
    let unauthorized = || {
        HttpResponse::Unauthorized().json(serde_json::json!({
            "error": {"code": "unauthorized", "message": "unknown facility or wrong client secret"}
        }))
    };
    let Ok(code) = InstitutionCode::parse(&req.medical_institution_code) else {
        return Ok(unauthorized());
    };
    if cert_facility.as_deref().is_some_and(|c| c != code.as_str()) {
        tracing::warn!("web api: login with another facility's certificate refused");
        return Ok(unauthorized());
    }
    let now = e.core.clock.now_dt();
    let ok = {
        let reg = e.registry.read().expect("registry");
        reg.facility(code.as_str()).is_some_and(|f| {
            f.is_operational_on(now.date())
                && f.web_api_secret_sha256.as_deref()
                    == Some(onshi_platform::sha256_hex(req.client_secret.as_bytes()).as_str())
        })
    };
    if !ok {
        tracing::info!("web api: login refused");
        return Ok(unauthorized());
    }
    let minutes = e.core.config.eligibility.web_api_token_minutes;
    let expiry = DateTime::from_naive(now.naive() + chrono::TimeDelta::minutes(minutes));
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "idToken": e.issue_token(&code, expiry),
        "expiresIn": minutes * 60,
        "expiresAt": expiry.compact(),
    })))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(WEB_API_LOGIN, web::post().to(login));
}
