//! The マイナ資格確認アプリ (reference §1.6; seed 001): the app on a PC or a clinician's phone with a generic card
//! reader, for 資格確認限定型 (施術所 and facilities registered so: qualification only, the facility checks the
//! holder's face against the card) and 居宅同意取得型 (訪問診療・訪問看護・オンライン診療: the patient's PIN, then the
//! consent screens, whose consent continues for the relationship — `Config::home_consent_days`).
//!
//! 1. The facility's terminal issues an activation code: `POST /reader/v1/{code}/app/activations`.
//! 2. The device activates with it: `POST /app/v1/activate` → a device token (it speaks for the facility).
//! 3. The device confirms a card: `POST /reader/v1/{code}/app/confirm` (with the device token) → the face XML in the
//!    facility's `face/` folder, as at the reader.
//!
//! Devices are listed and revoked at the terminal (`GET …/app/devices`, `POST …/app/devices/{id}/revoke`).

use std::sync::Arc;
use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{NaiveDateTime, TimeDelta};
use serde::{Deserialize, Serialize};

use onshi_consent::chain::Given;
use onshi_platform::credentials::{Credentials, TokenKind};
use onshi_wire::ids::{DateTime, InstitutionCode};
use onshi_wire::msg::home_care::Care;

use crate::faces::{self, Face};
use crate::routes::{
    face_basis, inactive, internal, json_body, pin_refusal, presented, readable_card, refuse,
    unavailable, Consents,
};
use crate::Reader;

/// How long an activation code may be used (simulated minutes; the real period is not published [U]).
pub const ACTIVATION_MINUTES: i64 = 10;

/// Which confirmation a device makes: 資格確認限定型 (qualification only) or 居宅同意取得型.
async fn mode(r: &Reader, code: &InstitutionCode) -> Result<&'static str, HttpResponse> {
    let only = r
        .eligibility
        .qualification_only(code.as_str())
        .await
        .map_err(unavailable)?;
    Ok(if only { "limited" } else { "home" })
}

fn random_digits(n: usize) -> String {
    use ring::rand::SecureRandom;
    let mut raw = vec![0u8; n];
    let _ = ring::rand::SystemRandom::new().fill(&mut raw);
    raw.iter().map(|b| char::from(b'0' + b % 10)).collect()
}

/// The facility of a path, which must be able to use the service today.
async fn active_facility(r: &Reader, claimed: &str) -> Result<InstitutionCode, Box<HttpResponse>> {
    let code = InstitutionCode::parse(claimed)
        .map_err(|e| Box::new(refuse(StatusCode::BAD_REQUEST, "bad_request", &e.0)))?;
    match inactive(r, &code).await {
        Some(refused) => Err(Box::new(refused)),
        None => Ok(code),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Activation {
    device: String,
}

/// `POST /reader/v1/{code}/app/activations`: the terminal issues a single-use activation code for a device.
async fn issue_activation(
    r: web::Data<Arc<Reader>>,
    path: web::Path<String>,
    body: web::Payload,
) -> HttpResponse {
    let a: Activation = match json_body(body).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let name = a.device.trim();
    if name.is_empty() || name.chars().count() > 60 {
        return refuse(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "device: 1 to 60 characters",
        );
    }
    let code = match active_facility(&r, &path).await {
        Ok(c) => c,
        Err(resp) => return *resp,
    };
    let now = r.core.clock.now();
    let expires = now + TimeDelta::minutes(ACTIVATION_MINUTES);
    let activation = random_digits(8);
    let stored = sqlx::query(
        "INSERT INTO reader.app_activations (code, facility, device_name, issued_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&activation)
    .bind(code.as_str())
    .bind(name)
    .bind(now)
    .bind(expires)
    .execute(&r.core.pool)
    .await;
    if let Err(e) = stored {
        return internal(e.into());
    }
    let mode = match mode(&r, &code).await {
        Ok(m) => m,
        Err(resp) => return resp,
    };
    tracing::info!(facility = %code, "app: activation code issued");
    HttpResponse::Created().json(serde_json::json!({
        "activation_code": activation,
        "expires_at": DateTime::from_naive(expires).compact(),
        "mode": mode,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Activate {
    activation_code: String,
}

/// `POST /app/v1/activate`: the device exchanges the activation code (once, before it expires) for its token.
async fn activate(
    r: web::Data<Arc<Reader>>,
    credentials: web::Data<Credentials>,
    body: web::Payload,
) -> HttpResponse {
    let a: Activate = match json_body(body).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let now = r.core.clock.now();
    let used: Result<Option<(String, String)>, sqlx::Error> = sqlx::query_as(
        "UPDATE reader.app_activations SET used_at = $2 \
         WHERE code = $1 AND used_at IS NULL AND expires_at > $2 RETURNING facility, device_name",
    )
    .bind(a.activation_code.trim())
    .bind(now)
    .fetch_optional(&r.core.pool)
    .await;
    let (facility, name) = match used {
        Ok(Some(x)) => x,
        Ok(None) => {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "activation_refused",
                "利用開始コードが正しくないか、使用済み・期限切れです。",
            )
        }
        Err(e) => return internal(e.into()),
    };
    let id = random_digits(12);
    let stored = sqlx::query(
        "INSERT INTO reader.app_devices (id, facility, name, activated_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&id)
    .bind(&facility)
    .bind(&name)
    .bind(now)
    .execute(&r.core.pool)
    .await;
    if let Err(e) = stored {
        return internal(e.into());
    }
    let mode = match InstitutionCode::parse(&facility) {
        Ok(code) => match mode(&r, &code).await {
            Ok(m) => m,
            Err(resp) => return resp,
        },
        Err(_) => "home",
    };
    tracing::info!(facility, "app: device activated");
    HttpResponse::Created().json(serde_json::json!({
        "device_id": id,
        "device_token": credentials.issue(TokenKind::Device, &format!("{facility}:{id}"), None),
        "facility": facility,
        "mode": mode,
    }))
}

/// The device a request's token names, if it is activated for `code` and not revoked.
async fn device_of(
    r: &Reader,
    credentials: &Credentials,
    req: &HttpRequest,
    code: &InstitutionCode,
) -> Result<String, Box<HttpResponse>> {
    let refused = || {
        Box::new(refuse(
            StatusCode::UNAUTHORIZED,
            "device_unknown",
            "この端末は利用登録されていないか、利用停止されています。",
        ))
    };
    let token = onshi_platform::http::id_token(req).ok_or_else(refused)?;
    let subject = credentials
        .subject(&token, TokenKind::Device)
        .ok_or_else(refused)?;
    let (facility, id) = subject.split_once(':').ok_or_else(refused)?;
    if facility != code.as_str() {
        return Err(Box::new(refuse(
            StatusCode::FORBIDDEN,
            "facility_mismatch",
            "この端末の医療機関ではありません。",
        )));
    }
    let live: Result<Option<(String,)>, sqlx::Error> = sqlx::query_as(
        "SELECT id FROM reader.app_devices WHERE id = $1 AND facility = $2 AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(facility)
    .fetch_optional(&r.core.pool)
    .await;
    match live {
        Ok(Some(_)) => Ok(id.to_string()),
        Ok(None) => Err(refused()),
        Err(e) => Err(Box::new(internal(e.into()))),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, tag = "method", rename_all = "snake_case")]
enum Holder {
    /// The card's PIN, entered by the patient.
    Pin { pin: String },
    /// The facility compared the holder's face with the card's photo (目視).
    Visual,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Confirm {
    card_serial: String,
    identify: Holder,
    #[serde(default)]
    care: Option<Care>,
    #[serde(default)]
    consents: Consents,
}

/// `POST /reader/v1/{code}/app/confirm`: the device reads a card, identifies its holder, and (居宅同意取得型) records
/// the consents; the face XML is written as at the reader.
async fn confirm(
    r: web::Data<Arc<Reader>>,
    credentials: web::Data<Credentials>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Payload,
) -> HttpResponse {
    let started = Instant::now();
    let c: Confirm = match json_body(body).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let code = match active_facility(&r, &path).await {
        Ok(c) => c,
        Err(resp) => return *resp,
    };
    let device = match device_of(&r, &credentials, &req, &code).await {
        Ok(d) => d,
        Err(resp) => return *resp,
    };
    let given = c.consents.kinds();
    let limited = match r.eligibility.qualification_only(code.as_str()).await {
        Ok(l) => l,
        Err(e) => return unavailable(e),
    };
    if limited && (!given.is_empty() || c.care.is_some()) {
        return refuse(
            StatusCode::FORBIDDEN,
            "qualification_only",
            onshi_consent::port::QUALIFICATION_ONLY,
        );
    }
    if !given.is_empty() && c.care.is_none() {
        return refuse(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "care: visit or online, with consents",
        );
    }
    let now = r.core.clock.now();
    let card = match readable_card(&r, &c.card_serial, now.date()).await {
        Ok(card) => card,
        Err(resp) => return *resp,
    };
    if let Holder::Pin { pin } = &c.identify {
        match r.consent.verify_pin(&card.serial, pin, now).await {
            Ok(pin) => {
                if let Some(refused) = pin_refusal(&pin) {
                    return refused;
                }
            }
            Err(e) => return internal(e),
        }
    }
    if card.registered_on.is_none() {
        return refuse(
            StatusCode::CONFLICT,
            "unregistered",
            "健康保険証としての利用登録（初回登録）がされていません。顔認証付きカードリーダーかマイナポータルで登録してください。",
        );
    }
    let until = now + TimeDelta::days(r.core.config.home_consent_days);
    if let Some(care) = c.care.filter(|_| !given.is_empty()) {
        let consent = Given {
            person: card.person_id.clone(),
            facility: code.as_str().to_string(),
            kinds: given.clone(),
            at: now,
            until,
            session: onshi_consent::home::session(care, &format!("app:{device}")),
        };
        if let Err(e) = r.consent.record_consents(&[consent]).await {
            return internal(e);
        }
    }
    let today = DateTime::from_naive(now).date();
    let reference_number = r
        .eligibility
        .reference_number(code.as_str(), &card.person_id)
        .await
        .unwrap_or_else(|err| {
            tracing::warn!(error = %err, "app: reference number lookup failed");
            None
        });
    let (encoding, qualification) =
        match face_basis(&r, code.as_str(), Some(&card.person_id), today).await {
            Ok(b) => b,
            Err(resp) => return resp,
        };
    let resp = faces::response(Face {
        facility: code.as_str(),
        encoding,
        qualification,
        given: &given,
        prescription: None,
        reference_number,
        now: DateTime::from_naive(now),
        until: DateTime::from_naive(until),
        unregistered: false,
    });
    let (seq, file, xml) = r.publish_face(code.as_str(), &resp, DateTime::from_naive(now));
    r.observe_face(code.as_str(), started);
    presented(&r, code.as_str(), &card.person_id, now).await;
    HttpResponse::Ok().json(serde_json::json!({
        "mode": if limited { "limited" } else { "home" },
        "seq": seq,
        "face_file": file,
        "xml": xml,
        "consent_until": (!given.is_empty()).then(|| DateTime::from_naive(until).compact()),
    }))
}

#[derive(Serialize, sqlx::FromRow)]
struct Device {
    id: String,
    name: String,
    activated_at: NaiveDateTime,
    revoked_at: Option<NaiveDateTime>,
}

/// `GET /reader/v1/{code}/app/devices`: the facility's activated devices.
async fn devices(r: web::Data<Arc<Reader>>, path: web::Path<String>) -> HttpResponse {
    let code = match InstitutionCode::parse(&path) {
        Ok(c) => c,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, "bad_request", &e.0),
    };
    let rows: Result<Vec<Device>, sqlx::Error> = sqlx::query_as(
        "SELECT id, name, activated_at, revoked_at FROM reader.app_devices WHERE facility = $1 ORDER BY activated_at, id",
    )
    .bind(code.as_str())
    .fetch_all(&r.core.pool)
    .await;
    match rows {
        Ok(rows) => HttpResponse::Ok().json(rows),
        Err(e) => internal(e.into()),
    }
}

/// `POST /reader/v1/{code}/app/devices/{id}/revoke`: the device's token no longer works.
async fn revoke(r: web::Data<Arc<Reader>>, path: web::Path<(String, String)>) -> HttpResponse {
    let (code, id) = path.into_inner();
    let now = r.core.clock.now();
    let done = sqlx::query(
        "UPDATE reader.app_devices SET revoked_at = $3 WHERE id = $1 AND facility = $2 AND revoked_at IS NULL",
    )
    .bind(&id)
    .bind(&code)
    .bind(now)
    .execute(&r.core.pool)
    .await;
    match done {
        Ok(d) if d.rows_affected() == 1 => {
            HttpResponse::Ok().json(serde_json::json!({"revoked": id}))
        }
        Ok(_) => refuse(StatusCode::NOT_FOUND, "not_found", "no such active device"),
        Err(e) => internal(e.into()),
    }
}

/// The app's routes under `/reader/v1` (see [`crate::routes::ROUTES`] for their access).
pub fn configure_reader(cfg: &mut web::ServiceConfig) {
    cfg.route("/{code}/app/activations", web::post().to(issue_activation))
        .route("/{code}/app/confirm", web::post().to(confirm))
        .route("/{code}/app/devices", web::get().to(devices))
        .route("/{code}/app/devices/{id}/revoke", web::post().to(revoke));
}

/// The device's own route: activation.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/app/v1/activate", web::post().to(activate));
}
