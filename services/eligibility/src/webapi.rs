//! The JSON Web API's login (reference §1.7): `POST …/MSA12020/ILI12020SV01/auth` returns an `idToken`, which the
//! entry pipeline's Web API door verifies here for every message path (`WEB_API_MESSAGES` in `onshi-wire`).
//!
//! The real login body is not public ([U]); the simulator's is `{"MedicalInstitutionCode", "ClientSecret"}` with
//! the secret issued by the portal. Tokens are the platform's (`onshi_platform::credentials`): signed with a key
//! stored once per database, so every process accepts them; expiry is on the simulated clock.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use onshi_platform::config::limits;
use onshi_platform::credentials::TokenKind;
use onshi_platform::http::{parse_json, read_body, ApiError};
use onshi_wire::ids::{DateTime, InstitutionCode};
use onshi_wire::msg::file_name::WEB_API_LOGIN;

use crate::Eligibility;

impl Eligibility {
    /// Issues a Web API `idToken` for `code` valid until `expiry`.
    pub fn issue_token(&self, code: &InstitutionCode, expiry: DateTime) -> String {
        self.credentials
            .issue(TokenKind::Facility, code.as_str(), Some(expiry))
    }

    /// The facility of a valid, unexpired `idToken`.
    pub fn verify_token(&self, token: &str) -> Option<InstitutionCode> {
        let code = self.credentials.subject(token, TokenKind::Facility)?;
        InstitutionCode::parse(&code).ok()
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
