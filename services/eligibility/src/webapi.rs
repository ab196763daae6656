//! The JSON Web API's login (reference §1.7): `POST …/MSA12020/ILI12020SV01/auth` returns an `idToken`, which the
//! entry pipeline's Web API door verifies here for every message path (`WEB_API_MESSAGES` in `onshi-wire`).
//!
//! The real login body (the facility's credential file) is not public ([U]): any JSON object is accepted; the
//! facility is the client certificate's, or without one (sandbox) the body's `MedicalInstitutionCode`; a
//! `ClientSecret` issued by the portal is checked when given. The answer is the real envelope
//! `{"status", "msg", "result": {"accessToken", "refreshToken", "idToken", "linkSysCharCd"}}`; a `refreshToken`
//! sent to the same path gets new tokens. Tokens are the platform's (`onshi_platform::credentials`): signed with a
//! key stored once per database, so every process accepts them; expiry is on the simulated clock.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};

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

/// The login answer in the real Web API's envelope (`status`, `msg`, `result`), with the HTTP status.
fn envelope(
    status: actix_web::http::StatusCode,
    ok: bool,
    msg: &str,
    result: serde_json::Value,
) -> HttpResponse {
    HttpResponse::build(status).json(serde_json::json!({
        "status": if ok { "0" } else { "1" },
        "msg": msg,
        "result": result,
    }))
}

fn refused(msg: &str) -> HttpResponse {
    tracing::info!(reason = msg, "web api: login refused");
    envelope(
        actix_web::http::StatusCode::UNAUTHORIZED,
        false,
        msg,
        serde_json::Value::Null,
    )
}

/// Login and refresh at the same path. The body is the facility's credential file, whose real fields are unknown
/// [U]: any JSON object is accepted. The facility is the client certificate's (strict mode requires one); without a
/// certificate (sandbox) it is the body's `MedicalInstitutionCode`. A `ClientSecret` in the body must be the one the
/// portal issued; a `refreshToken` exchanges a valid refresh token for new tokens.
async fn login(
    e: web::Data<Arc<Eligibility>>,
    http: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let cert_facility = match e.authenticate(&http) {
        Ok(f) => f,
        Err(err) => return Ok(refused(&err.outcome.message)),
    };
    let body: serde_json::Value = parse_json(&read_body(body, limits::WEB_API_LOGIN).await?)?;
    let Some(fields) = body.as_object() else {
        return Err(ApiError::bad("the credential must be a JSON object"));
    };
    let text = |name: &str| fields.get(name).and_then(serde_json::Value::as_str);
    let claimed = match text("refreshToken") {
        Some(refresh) => match e.credentials.subject(refresh, TokenKind::FacilityRefresh) {
            Some(code) => Some(code),
            None => return Ok(refused("the refresh token is not valid or has expired")),
        },
        None => text("MedicalInstitutionCode").map(str::to_string),
    };
    let code = match (cert_facility, claimed) {
        (Some(cert), Some(claimed)) if cert != claimed => {
            tracing::warn!("web api: login for another facility than the certificate's refused");
            return Ok(refused(
                "the credential is not the client certificate's facility",
            ));
        }
        (Some(cert), _) => cert,
        (None, Some(claimed)) => claimed,
        (None, None) => {
            return Ok(refused(
                "no client certificate: the credential must name its MedicalInstitutionCode",
            ))
        }
    };
    let Ok(code) = InstitutionCode::parse(&code) else {
        return Ok(refused("unknown facility"));
    };
    let now = e.core.clock.now_dt();
    let encoding = {
        let reg = e.registry.read().expect("registry");
        let Some(f) = reg
            .facility(code.as_str())
            .filter(|f| f.is_operational_on(now.date()))
        else {
            return Ok(refused("unknown facility or not operational"));
        };
        if text("refreshToken").is_none() {
            if let Some(secret) = text("ClientSecret") {
                let given = onshi_platform::sha256_hex(secret.as_bytes());
                if f.web_api_secret_sha256.as_deref() != Some(given.as_str()) {
                    return Ok(refused("wrong client secret"));
                }
            }
        }
        f.response_encoding
            .unwrap_or(e.core.config.response_encoding)
    };
    let config = &e.core.config.eligibility;
    let at = |minutes: i64| DateTime::from_naive(now.naive() + chrono::TimeDelta::minutes(minutes));
    let expiry = at(config.web_api_token_minutes);
    let id_token = e.issue_token(&code, expiry);
    let refresh = e.credentials.issue(
        TokenKind::FacilityRefresh,
        code.as_str(),
        Some(at(config.web_api_refresh_minutes)),
    );
    Ok(envelope(
        actix_web::http::StatusCode::OK,
        true,
        "",
        serde_json::json!({
            "accessToken": id_token,
            "refreshToken": refresh,
            "idToken": id_token,
            "linkSysCharCd": onshi_wire::codes::CodeTable::code(encoding.code()),
            "expiresIn": config.web_api_token_minutes * 60,
            "expiresAt": expiry.compact(),
        }),
    ))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(WEB_API_LOGIN, web::post().to(login));
}
