//! # onshi-consent — cards, consents and who looked at what
//!
//! | item | what |
//! |---|---|
//! | [`MIGRATIONS`] | `schema/consent/*.sql` |
//! | [`cards`] | virtual My Number cards: user certificate, PIN (3 wrong tries lock), expiry, loss, 初回登録 |
//! | [`chain`] | the consent log and the access log: append-only hash chains, and their verification |
//! | [`access`] | may facility F view data kind K of person P now? (a live consent, or a disaster declaration) |
//! | [`home`] | 居宅同意取得型: continuing consents for 訪問診療等 / オンライン診療等, and who holds them |
//! | [`port`] | what other services may ask this one (card reader, data views, home care), answered in-process |
//! | [`remote`] | the same questions across processes: the internal API `/internal/v1/consent/…` and its client |
//! | [`configure`] | the HTTP API under `/consent/v1` and `/admin/v1/disasters` (`docs/CONSENT.md`) |
//!
//! The card reader itself (place card → identify → consent → face XML) is the reader service
//! (`services/reader`), which reaches this one only through [`port::CardReaderPort`].

pub mod access;
pub mod cards;
pub mod chain;
pub mod home;
pub mod port;
pub mod remote;

#[cfg(test)]
mod api_tests;

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use onshi_platform::config::limits;
use onshi_platform::credentials::{Credentials, TokenKind};
use onshi_platform::db::Migrations;
use onshi_platform::http::{parse_json, read_body, ApiError, Core};
use onshi_platform::roles::{route, Access, RouteAccess};
use onshi_wire::ids::{Date, DateTime};
use onshi_wire::msg::qualification::Info2025;

pub const MIGRATIONS: Migrations = Migrations {
    schema: "consent",
    steps: &[
        (
            "0001_consent",
            include_str!("../../../schema/consent/0001_consent.sql"),
        ),
        (
            "0002_reader_sessions_moved",
            include_str!("../../../schema/consent/0002_reader_sessions_moved.sql"),
        ),
        (
            "0003_keyed_chains",
            include_str!("../../../schema/consent/0003_keyed_chains.sql"),
        ),
        (
            "0004_disaster_districts",
            include_str!("../../../schema/consent/0004_disaster_districts.sql"),
        ),
        (
            "0005_card_issuer",
            include_str!("../../../schema/consent/0005_card_issuer.sql"),
        ),
        (
            "0006_pin_digest_bytes",
            include_str!("../../../schema/consent/0006_pin_digest_bytes.sql"),
        ),
    ],
};

/// The kinds of data a patient consents to (OQSCD036) plus 限度額適用認定証情報 (`LIM`, OQSCD001).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Kind {
    Medication,
    Clinical,
    Surgery,
    Checkup,
    SpecificDisease,
    Limit,
    /// A consent screen added in 2025 (傷病名, 感染症, アレルギー, 禁忌, 検査, 処方): recorded and shown in the face
    /// XML; the simulator holds none of their data yet, so they gate nothing.
    Info(Info2025),
}

impl Kind {
    pub const ALL: [Kind; 12] = [
        Kind::Medication,
        Kind::Clinical,
        Kind::Surgery,
        Kind::Checkup,
        Kind::SpecificDisease,
        Kind::Limit,
        Kind::Info(Info2025::DiagnosisName),
        Kind::Info(Info2025::Infectious),
        Kind::Info(Info2025::Allergy),
        Kind::Info(Info2025::Contraindication),
        Kind::Info(Info2025::Test),
        Kind::Info(Info2025::Prescription),
    ];
    /// OQSCD036 for the kinds it names; the simulator's own codes for 限度額 and the 2025 kinds (not published
    /// [I]).
    pub fn code(self) -> &'static str {
        match self {
            Kind::Medication => "YZK",
            Kind::Clinical => "SRJ",
            Kind::Surgery => "SHJ",
            Kind::Checkup => "TKK",
            Kind::SpecificDisease => "TSR",
            Kind::Limit => "LIM",
            Kind::Info(Info2025::DiagnosisName) => "DGN",
            Kind::Info(Info2025::Infectious) => "INF",
            Kind::Info(Info2025::Allergy) => "ALG",
            Kind::Info(Info2025::Contraindication) => "CTI",
            Kind::Info(Info2025::Test) => "TST",
            Kind::Info(Info2025::Prescription) => "PRS",
        }
    }
    /// Its name in the facility's messages (薬剤情報, 診療情報, …).
    pub fn label(self) -> &'static str {
        match self {
            Kind::Medication => "薬剤情報",
            Kind::Clinical => "診療情報",
            Kind::Surgery => "手術情報",
            Kind::Checkup => "特定健診情報",
            Kind::SpecificDisease => "特定疾病療養受療証情報",
            Kind::Limit => "限度額適用認定証情報",
            Kind::Info(Info2025::DiagnosisName) => "傷病名情報",
            Kind::Info(Info2025::Infectious) => "感染症情報",
            Kind::Info(Info2025::Allergy) => "アレルギー情報",
            Kind::Info(Info2025::Contraindication) => "禁忌情報",
            Kind::Info(Info2025::Test) => "検査情報",
            Kind::Info(Info2025::Prescription) => "処方情報",
        }
    }
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.code() == s)
    }
}

/// How long a consent given at the reader lets the facility view (observed: consent time + 24 h).
pub const CONSENT_HOURS: i64 = 24;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IssueCard {
    person_id: String,
    pin: String,
    #[serde(default)]
    valid_years: Option<i64>,
}

async fn post_card(core: web::Data<Core>, body: web::Payload) -> Result<HttpResponse, ApiError> {
    let req: IssueCard = parse_json(&read_body(body, limits::CONSENT_CALL).await?)?;
    let years = req.valid_years.unwrap_or(10);
    if !(1..=10).contains(&years) {
        return Err(ApiError::bad("valid_years: 1 to 10"));
    }
    let card = cards::issue(&core, &req.person_id, &req.pin, years).await?;
    Ok(HttpResponse::Created().json(card))
}

async fn get_card(
    core: web::Data<Core>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let card = cards::get(&core.pool, &path)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("card {path} does not exist")))?;
    Ok(HttpResponse::Ok().json(card.public()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Register {
    qualification_id: String,
}

async fn register_card(
    core: web::Data<Core>,
    path: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let req: Register = parse_json(&read_body(body, limits::CONSENT_CALL).await?)?;
    cards::register(&core.pool, &path, &req.qualification_id, core.clock.today()).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"registered": true})))
}

async fn lost(core: web::Data<Core>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    cards::report_lost(&core.pool, &path, core.clock.today()).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"revoked": true})))
}

async fn person_consents(
    core: web::Data<Core>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(chain::consents_of(&core.pool, &path, core.clock.now()).await?))
}

/// The patient's view (マイナポータル-like): every view of their data, by whom, when, on what basis.
async fn person_access(
    core: web::Data<Core>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(chain::access_of(&core.pool, &path).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HomeConsent {
    facility: String,
    /// OQSCD036 codes (`YZK`, `SRJ`, `SHJ`, `TKK`, …).
    kinds: Vec<String>,
}

/// `POST /consent/v1/persons/{person_id}/home-consents`: the patient, logged in with the card and its PIN on their
/// own device (「Webサービス（居宅同意取得用）」 / マイナ在宅受付Web), consents for オンライン診療 at a facility; the consent
/// continues for `Config::home_consent_days` (居宅同意取得型, `docs/HOME.md`).
async fn home_consent(
    core: web::Data<Core>,
    path: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let req: HomeConsent = parse_json(&read_body(body, limits::CONSENT_CALL).await?)?;
    let facility = onshi_wire::ids::InstitutionCode::parse(&req.facility)
        .map_err(|e| ApiError::bad(format!("facility: {}", e.0)))?;
    if facility.kind().is_practitioner() {
        return Err(ApiError::bad(
            "facility: a 施術所 confirms qualifications only (資格確認限定型)",
        ));
    }
    let mut kinds = Vec::new();
    for k in &req.kinds {
        let kind = Kind::parse(k).ok_or_else(|| ApiError::bad(format!("kinds: unknown {k:?}")))?;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    if kinds.is_empty() {
        return Err(ApiError::bad("kinds: at least one"));
    }
    let now = core.clock.now();
    let until = now + chrono::TimeDelta::days(core.config.home_consent_days);
    let given = chain::Given {
        person: path.into_inner(),
        facility: facility.as_str().to_string(),
        kinds: kinds.clone(),
        at: now,
        until,
        session: home::session(onshi_wire::msg::home_care::Care::Online, "web"),
    };
    chain::record_given(&chain::Log::of(&core), &[given]).await?;
    Ok(HttpResponse::Created().json(serde_json::json!({
        "facility": facility.as_str(),
        "kinds": kinds.iter().map(|k| k.code()).collect::<Vec<_>>(),
        "until": DateTime::from_naive(until).compact(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Revoke {
    facility: String,
    kind: String,
    /// `patient` (OQSCD031 2) or `facility` (1).
    by: String,
}

async fn revoke(
    core: web::Data<Core>,
    path: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let req: Revoke = parse_json(&read_body(body, limits::CONSENT_CALL).await?)?;
    let kind = Kind::parse(&req.kind)
        .ok_or_else(|| ApiError::bad("kind: YZK, SRJ, SHJ, TKK, TSR or LIM"))?;
    let reason = match req.by.as_str() {
        "facility" => "1",
        "patient" => "2",
        _ => return Err(ApiError::bad("by: patient or facility")),
    };
    let seq = chain::revoke(
        &chain::Log::of(&core),
        &path,
        &req.facility,
        kind,
        reason,
        core.clock.now(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"seq": seq})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Disaster {
    name: String,
    #[serde(default)]
    prefectures: Vec<u8>,
    /// Districts: prefecture (2 digits) + 郡市区番号 (2 digits) of the facility codes, e.g. `0415`.
    #[serde(default)]
    districts: Vec<String>,
    from: String,
    to: String,
}

async fn declare(core: web::Data<Core>, body: web::Payload) -> Result<HttpResponse, ApiError> {
    let req: Disaster = parse_json(&read_body(body, limits::CONSENT_CALL).await?)?;
    let from = Date::parse(&req.from).map_err(|e| ApiError::bad(format!("from: {e}")))?;
    let to = Date::parse(&req.to).map_err(|e| ApiError::bad(format!("to: {e}")))?;
    if to < from {
        return Err(ApiError::bad("to is before from"));
    }
    if (to.naive() - from.naive()).num_days() >= DISASTER_MAX_DAYS {
        return Err(ApiError::bad(format!(
            "a declaration lasts at most {DISASTER_MAX_DAYS} days; declare again to extend it"
        )));
    }
    if req.prefectures.iter().any(|p| !(1..=47).contains(p)) {
        return Err(ApiError::bad("prefectures: 1 to 47"));
    }
    if let Some(d) = req.districts.iter().find(|d| {
        d.len() != 4
            || !d.bytes().all(|b| b.is_ascii_digit())
            || !(1..=47).contains(&d[..2].parse::<u8>().unwrap_or(0))
    }) {
        return Err(ApiError::bad(format!(
            "districts: {d:?} is not a prefecture (01-47) followed by a 2-digit 郡市区番号"
        )));
    }
    if req.prefectures.is_empty() && req.districts.is_empty() {
        return Err(ApiError::bad(
            "an area is required: prefectures, districts, or both",
        ));
    }
    if req.name.trim().is_empty() {
        return Err(ApiError::bad("name: required"));
    }
    let id = access::declare(&core, &req.name, &req.prefectures, &req.districts, from, to).await?;
    Ok(HttpResponse::Created().json(serde_json::json!({"id": id})))
}

async fn disasters(core: web::Data<Core>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(access::disasters(&core.pool).await?))
}

async fn verify(core: web::Data<Core>) -> Result<HttpResponse, ApiError> {
    let report = chain::verify(&chain::Log::of(&core)).await?;
    Ok(HttpResponse::Ok().json(report))
}

/// Who may call the consent API: patients see and revoke their own consents and access log; the operator
/// issues cards and declares disasters; logging in is public (it checks the card and PIN).
pub const ROUTES: &[RouteAccess] = &[
    route("POST", "/consent/v1/cards", Access::Operator),
    route("GET", "/consent/v1/cards/{serial}", Access::Operator),
    route(
        "POST",
        "/consent/v1/cards/{serial}/register",
        Access::Operator,
    ),
    route("POST", "/consent/v1/cards/{serial}/lost", Access::Operator),
    route("POST", "/consent/v1/patients/login", Access::Public),
    route(
        "GET",
        "/consent/v1/persons/{person_id}/consents",
        Access::OwnPatient,
    ),
    route(
        "POST",
        "/consent/v1/persons/{person_id}/consents/revoke",
        Access::OwnPatient,
    ),
    route(
        "GET",
        "/consent/v1/persons/{person_id}/access-log",
        Access::OwnPatient,
    ),
    route(
        "POST",
        "/consent/v1/persons/{person_id}/home-consents",
        Access::OwnPatient,
    ),
    route("GET", "/consent/v1/verify", Access::Operator),
    route("POST", "/admin/v1/disasters", Access::Operator),
    route("GET", "/admin/v1/disasters", Access::Operator),
];

/// The longest disaster declaration (days): a bounded period, never a key to every facility's data for ever.
pub const DISASTER_MAX_DAYS: i64 = 366;

/// How long a patient's token lasts (simulated minutes).
pub const PATIENT_TOKEN_MINUTES: i64 = 30;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatientLogin {
    card_serial: String,
    pin: String,
}

/// The patient's login (マイナポータル-like): their card and its PIN (wrong PINs count towards the lock, as at the
/// reader) → a short-lived token for their own views.
async fn patient_login(
    core: web::Data<Core>,
    credentials: web::Data<Credentials>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let req: PatientLogin = parse_json(&read_body(body, limits::CONSENT_CALL).await?)?;
    let refused = || {
        HttpResponse::Unauthorized().json(serde_json::json!({
            "error": {"code": "unauthorized", "message": "unknown, revoked, expired or locked card, or wrong PIN"}
        }))
    };
    let Some(card) = cards::get(&core.pool, &req.card_serial).await? else {
        return Ok(refused());
    };
    let now = core.clock.now_dt();
    if card.revoked_on.is_some() || now.date().naive() > card.expires_on {
        return Ok(refused());
    }
    match cards::verify_pin(&core.pool, &card.serial, &req.pin, now.naive()).await? {
        cards::Pin::Correct => {}
        _ => return Ok(refused()),
    }
    let expiry =
        DateTime::from_naive(now.naive() + chrono::TimeDelta::minutes(PATIENT_TOKEN_MINUTES));
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "person_id": card.person_id,
        "token": credentials.issue(TokenKind::Patient, &card.person_id, Some(expiry)),
        "expiresAt": expiry.compact(),
    })))
}

/// The consent API (needs `web::Data<Core>` and `web::Data<Credentials>`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/consent/v1")
            .route("/cards", web::post().to(post_card))
            .route("/cards/{serial}", web::get().to(get_card))
            .route("/cards/{serial}/register", web::post().to(register_card))
            .route("/cards/{serial}/lost", web::post().to(lost))
            .route("/patients/login", web::post().to(patient_login))
            .route(
                "/persons/{person_id}/consents",
                web::get().to(person_consents),
            )
            .route(
                "/persons/{person_id}/consents/revoke",
                web::post().to(revoke),
            )
            .route(
                "/persons/{person_id}/access-log",
                web::get().to(person_access),
            )
            .route(
                "/persons/{person_id}/home-consents",
                web::post().to(home_consent),
            )
            .route("/verify", web::get().to(verify)),
    )
    .route("/admin/v1/disasters", web::post().to(declare))
    .route("/admin/v1/disasters", web::get().to(disasters));
}
