//! The card reader's HTTP API (顔認証付きカードリーダー, per terminal of a facility; reference §1.5b):
//!
//! `POST /reader/v1/{code}/sessions` (place the card) → `…/sessions/{id}/identify` (face match or PIN) →
//! `…/sessions/{id}/register` (初回登録, only for a card not yet registered) → `…/sessions/{id}/consent` (the
//! consent screens and the prescription form) → the **face XML** in the facility's `face/` folder, also returned
//! and listed at `GET /reader/v1/{code}/face?after=<seq>` for polling.
//!
//! In a declared disaster, `POST /reader/v1/{code}/disaster-consents` records a patient's verbal consent without
//! the card (the facility's terminal).
//!
//! Card-side failures answer as the reader would (JSON `{"error":{"code","message"}}` with the reader's
//! message); no face XML is written for them. Every step is single-use (a replayed session is refused).

use std::sync::Arc;
use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{NaiveDateTime, TimeDelta};
use serde::Deserialize;

use onshi_consent::cards::Pin;
use onshi_consent::{Kind, CONSENT_HOURS};
use onshi_platform::directory::{CardQuery, CurrentQualification};
use onshi_platform::http::{parse_json, read_body};
use onshi_platform::peer::PeerError;
use onshi_platform::pki::PeerCert;
use onshi_platform::roles::{route, Access, RouteAccess};
use onshi_wire::codes::PrescriptionIssueSelect;
use onshi_wire::ids::{DateTime, InstitutionCode};
use onshi_wire::msg::qualification::Info2025;
use onshi_wire::xml::Encoding;

use crate::faces::{self, Face};
use crate::finish::Finish;
use crate::sessions::{self, Next, Placed, Session, SessionState};
use crate::Reader;

pub(crate) fn refuse(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    tracing::info!(code, "card reader: refused");
    HttpResponse::build(status)
        .json(serde_json::json!({"error": {"code": code, "message": message}}))
}

pub(crate) fn internal(err: anyhow::Error) -> HttpResponse {
    tracing::error!(error = format!("{err:#}"), "card reader: internal error");
    refuse(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "処理できませんでした。",
    )
}

/// The refusal for a facility that may not use the service today (not registered, not yet operational, suspended).
pub(crate) async fn inactive(r: &Reader, code: &InstitutionCode) -> Option<HttpResponse> {
    match r
        .eligibility
        .facility(code.as_str(), None, r.core.clock.today())
        .await
    {
        Err(e) => Some(unavailable(e)),
        Ok(check) => check.refused.is_some().then(|| {
            refuse(
                StatusCode::FORBIDDEN,
                "facility_inactive",
                "オンライン資格確認を利用できない医療機関です。",
            )
        }),
    }
}

/// The refusal when the eligibility service, which the reader asks who and what, does not answer (503).
pub(crate) fn unavailable(err: PeerError) -> HttpResponse {
    tracing::warn!(error = %err, "card reader: the eligibility service did not answer");
    refuse(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "只今処理できません。しばらくしてから再度お試しください。",
    )
}

/// What a face result shows besides the consents: the facility's encoding and the qualification of `person`.
pub(crate) async fn face_basis(
    r: &Reader,
    code: &str,
    person: Option<&str>,
    today: onshi_wire::ids::Date,
) -> Result<(Encoding, Option<CurrentQualification>), HttpResponse> {
    let encoding = r
        .eligibility
        .facility(code, None, today)
        .await
        .map_err(unavailable)?
        .encoding;
    let qualification = match person {
        Some(p) => r
            .eligibility
            .current_qualification(p, today)
            .await
            .map_err(unavailable)?,
        None => None,
    };
    Ok((encoding, qualification))
}

/// Tells the eligibility service a card was presented (the 2024 re-query rule); a failure is logged, the answer
/// already given.
pub(crate) async fn presented(r: &Reader, code: &str, person: &str, at: NaiveDateTime) {
    if let Err(e) = r.eligibility.presented(code, person, at).await {
        tracing::warn!(error = %e, "card reader: the presentation was not recorded");
    }
}

/// A card that can be read on `today`, or the reader's refusal: unknown, revoked (lost), its certificate expired,
/// its PIN locked.
pub(crate) async fn readable_card(
    r: &Reader,
    serial: &str,
    today: chrono::NaiveDate,
) -> Result<onshi_consent::cards::Card, Box<HttpResponse>> {
    let refused = |status, code, message: &str| Box::new(refuse(status, code, message));
    let card = match r.consent.card(serial).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return Err(refused(
                StatusCode::NOT_FOUND,
                "card_unreadable",
                "カードを読み取れませんでした。",
            ))
        }
        Err(err) => return Err(Box::new(internal(err))),
    };
    if card.revoked_on.is_some() {
        return Err(refused(
            StatusCode::FORBIDDEN,
            "card_revoked",
            "このカードは失効しています（紛失等の届出済み）。",
        ));
    }
    if today > card.expires_on {
        return Err(refused(
            StatusCode::FORBIDDEN,
            "card_expired",
            "カードの電子証明書の有効期限が切れています。市区町村の窓口で更新してください。",
        ));
    }
    if card.locked_at.is_some() {
        return Err(refused(
            StatusCode::FORBIDDEN,
            "card_locked",
            "暗証番号がロックされています。市区町村の窓口でロック解除の手続きをしてください。",
        ));
    }
    Ok(card)
}

/// The refusal of a PIN that was not correct (`None` for a correct one): wrong with the tries left, or the card
/// now locked.
pub(crate) fn pin_refusal(pin: &Pin) -> Option<HttpResponse> {
    match pin {
        Pin::Correct => None,
        Pin::Wrong { tries_left } => Some(refuse(
            StatusCode::UNAUTHORIZED,
            "pin_wrong",
            &format!("暗証番号が違います。あと{tries_left}回間違えるとロックされます。"),
        )),
        Pin::Locked => Some(refuse(
            StatusCode::FORBIDDEN,
            "card_locked",
            "暗証番号がロックされました。市区町村の窓口でロック解除の手続きをしてください。",
        )),
    }
}

/// The refusal of the face-recognition reader's consent flow (and of disaster consents) at a 資格確認限定型
/// facility: it confirms with the マイナ資格確認アプリ and sees no medical information.
async fn qualification_only(r: &Reader, code: &InstitutionCode) -> Option<HttpResponse> {
    match r.eligibility.qualification_only(code.as_str()).await {
        Err(e) => Some(unavailable(e)),
        Ok(only) => only.then(|| {
            refuse(
                StatusCode::FORBIDDEN,
                "qualification_only",
                onshi_consent::port::QUALIFICATION_ONLY,
            )
        }),
    }
}

/// The refusal for a facility that may not use the reader's consent flow: inactive, or 資格確認限定型.
async fn consent_flow_refused(r: &Reader, code: &InstitutionCode) -> Option<HttpResponse> {
    match inactive(r, code).await {
        Some(refused) => Some(refused),
        None => qualification_only(r, code).await,
    }
}

/// A small JSON request body, or the refusal for a bad one.
pub(crate) async fn json_body<T: serde::de::DeserializeOwned>(
    body: web::Payload,
) -> Result<T, HttpResponse> {
    read_body(body, onshi_platform::config::limits::READER_STEP)
        .await
        .and_then(|b| parse_json(&b))
        .map_err(|err| refuse(StatusCode::BAD_REQUEST, "bad_request", &err.to_string()))
}

/// Which facility a reader request speaks for: the authenticated one must be the claimed one.
async fn facility_of(
    r: &Reader,
    req: &HttpRequest,
    claimed: &str,
) -> Result<InstitutionCode, Box<HttpResponse>> {
    let refused = |status, code, message: &str| Box::new(refuse(status, code, message));
    let code = InstitutionCode::parse(claimed)
        .map_err(|err| refused(StatusCode::BAD_REQUEST, "bad_request", &err.0))?;
    let peer = req.conn_data::<PeerCert>().cloned();
    match r
        .eligibility
        .certificate(peer.as_ref())
        .await
        .map_err(|e| Box::new(unavailable(e)))?
    {
        Err(err) => Err(refused(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            &err.outcome.message,
        )),
        Ok(Some(c)) if c != code.as_str() => Err(refused(
            StatusCode::FORBIDDEN,
            "facility_mismatch",
            "この端末の医療機関ではありません。",
        )),
        Ok(_) => Ok(code),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Place {
    terminal: String,
    card_serial: String,
}

async fn place(
    r: web::Data<Arc<Reader>>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Payload,
) -> HttpResponse {
    let p: Place = match json_body(body).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let code = match facility_of(&r, &req, &path).await {
        Ok(c) => c,
        Err(resp) => return *resp,
    };
    let now = r.core.clock.now();
    let today = r.core.clock.today();
    if let Some(refused) = consent_flow_refused(&r, &code).await {
        return refused;
    }
    let card = match readable_card(&r, &p.card_serial, today.naive()).await {
        Ok(c) => c,
        Err(resp) => return *resp,
    };
    if let Err(err) = r.consent.ensure_certificate(&card).await {
        return internal(err);
    }
    let placed = Placed {
        facility: code.as_str(),
        terminal: &p.terminal,
        serial: &card.serial,
        person_id: &card.person_id,
        registered: card.registered_on.is_some(),
    };
    match sessions::create(&r.core.pool, placed, now).await {
        Ok(id) => HttpResponse::Created().json(serde_json::json!({
            "session": id,
            "next": SessionState::Identify,
            "registered": card.registered_on.is_some(),
        })),
        Err(err) => internal(err.into()),
    }
}

/// Explains why a step did not apply to a session (it does not exist for this facility, is past that step,
/// or timed out).
async fn diagnose(r: &Reader, code: &str, id: &str, expected: SessionState) -> HttpResponse {
    match sessions::get(&r.core.pool, id).await {
        Err(err) => internal(err.into()),
        Ok(Some(s)) if s.facility == code && s.state == expected => refuse(
            StatusCode::CONFLICT,
            "session_timeout",
            "時間切れです。カードを置き直してください。",
        ),
        Ok(Some(s)) if s.facility == code => refuse(
            StatusCode::CONFLICT,
            "session_used",
            "この受付は終了しています。カードを置き直してください。",
        ),
        _ => refuse(
            StatusCode::NOT_FOUND,
            "session_unknown",
            "受付情報がありません。カードを置き直してください。",
        ),
    }
}

/// A session of this facility waiting at `expected`, not timed out.
async fn session_at(
    r: &Reader,
    code: &str,
    id: &str,
    expected: SessionState,
) -> Result<Session, Box<HttpResponse>> {
    match sessions::get(&r.core.pool, id).await {
        Ok(Some(s))
            if s.facility == code
                && s.state == expected
                && r.core.clock.now()
                    <= s.created_at + TimeDelta::minutes(sessions::SESSION_MINUTES) =>
        {
            Ok(s)
        }
        Ok(_) => Err(Box::new(diagnose(r, code, id, expected).await)),
        Err(err) => Err(Box::new(internal(err.into()))),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Identify {
    /// `face` or `pin`.
    method: String,
    /// face: whether the face matched the card's photo (the outcome is the caller's to choose).
    #[serde(rename = "match")]
    face_match: Option<bool>,
    pin: Option<String>,
}

async fn identify(
    r: web::Data<Arc<Reader>>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Payload,
) -> HttpResponse {
    let (code, id) = path.into_inner();
    let i: Identify = match json_body(body).await {
        Ok(i) => i,
        Err(resp) => return resp,
    };
    if let Err(resp) = facility_of(&r, &req, &code).await {
        return *resp;
    }
    let pool = &r.core.pool;
    let now = r.core.clock.now();
    match (i.method.as_str(), i.face_match, i.pin.as_deref()) {
        ("face", Some(true), _) => {}
        ("face", Some(false), _) => {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "face_no_match",
                "顔認証できませんでした。暗証番号を入力してください。",
            )
        }
        ("pin", _, Some(pin)) => {
            let s = match session_at(&r, &code, &id, SessionState::Identify).await {
                Ok(s) => s,
                Err(resp) => return *resp,
            };
            let pin = match r.consent.verify_pin(&s.serial, pin, now).await {
                Ok(pin) => pin,
                Err(err) => return internal(err),
            };
            if pin == Pin::Locked {
                let failed = Next::To(SessionState::Failed);
                let _ =
                    sessions::advance(pool, &id, &code, SessionState::Identify, failed, now).await;
            }
            if let Some(refused) = pin_refusal(&pin) {
                return refused;
            }
        }
        _ => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "method face with match, or pin with pin",
            )
        }
    }
    let next = Next::AfterIdentify;
    match sessions::advance(pool, &id, &code, SessionState::Identify, next, now).await {
        Ok(Some(s)) => {
            HttpResponse::Ok().json(serde_json::json!({"identified": true, "next": s.state}))
        }
        Ok(None) => diagnose(&r, &code, &id, SessionState::Identify).await,
        Err(err) => internal(err.into()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterStep {
    /// `false`: the patient does not register the card for health-insurance use (初回登録 declined).
    register: Option<bool>,
}

async fn register(
    r: web::Data<Arc<Reader>>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Payload,
) -> HttpResponse {
    let (code, id) = path.into_inner();
    let started = Instant::now();
    // No body: register. `{"register": false}`: decline.
    let step = match read_body(body, onshi_platform::config::limits::READER_STEP).await {
        Ok(b) if b.trim_ascii().is_empty() => RegisterStep { register: None },
        Ok(b) => match parse_json::<RegisterStep>(&b) {
            Ok(step) => step,
            Err(err) => return refuse(StatusCode::BAD_REQUEST, "bad_request", &err.to_string()),
        },
        Err(err) => return refuse(StatusCode::BAD_REQUEST, "bad_request", &err.to_string()),
    };
    if let Err(resp) = facility_of(&r, &req, &code).await {
        return *resp;
    }
    let s = match session_at(&r, &code, &id, SessionState::Register).await {
        Ok(s) => s,
        Err(resp) => return *resp,
    };
    if step.register == Some(false) {
        return unregistered(&r, &code, &id, started).await;
    }
    let today = r.core.clock.today();
    let current = match r
        .eligibility
        .current_qualification(&s.person_id, today)
        .await
    {
        Ok(c) => c,
        Err(e) => return unavailable(e),
    };
    let Some(q) = current.filter(|q| q.valid) else {
        return refuse(
            StatusCode::CONFLICT,
            "no_qualification",
            "登録できる保険資格がありません。保険者にお問い合わせください。",
        );
    };
    if let Err(err) = r.consent.register(&s.serial, &q.id, today).await {
        return refuse(
            StatusCode::CONFLICT,
            "registration_failed",
            &err.to_string(),
        );
    }
    let next = Next::To(SessionState::Consent);
    let now = r.core.clock.now();
    match sessions::advance(&r.core.pool, &id, &code, SessionState::Register, next, now).await {
        Ok(Some(_)) => HttpResponse::Ok()
            .json(serde_json::json!({"registered": true, "next": SessionState::Consent})),
        Ok(None) => diagnose(&r, &code, &id, SessionState::Register).await,
        Err(err) => internal(err.into()),
    }
}

/// 初回登録 declined: the session ends and the face XML says so — no qualification (4), no consents, and the
/// `QualificationConfirmationKey` real face XML carries for a card not registered for insurance use.
async fn unregistered(r: &Reader, code: &str, id: &str, started: Instant) -> HttpResponse {
    let now = r.core.clock.now_dt();
    let next = Next::To(SessionState::Done);
    match sessions::advance(
        &r.core.pool,
        id,
        code,
        SessionState::Register,
        next,
        now.naive(),
    )
    .await
    {
        Ok(Some(_)) => {}
        Ok(None) => return diagnose(r, code, id, SessionState::Register).await,
        Err(err) => return internal(err.into()),
    }
    let (encoding, _) = match face_basis(r, code, None, now.date()).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let resp = faces::response(Face {
        facility: code,
        encoding,
        qualification: None,
        given: &[],
        prescription: None,
        reference_number: None,
        now,
        until: now,
        unregistered: true,
    });
    let (seq, file, xml) = r.publish_face(code, &resp, now);
    r.observe_face(code, started);
    HttpResponse::Ok()
        .json(serde_json::json!({"registered": false, "seq": seq, "face_file": file, "xml": xml}))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct Consents {
    medication: bool,
    clinical: bool,
    surgery: bool,
    checkup: bool,
    limit_certificate: bool,
    specific_disease: bool,
    /// The 2025 screens: 傷病名, 感染症, アレルギー, 禁忌, 検査, 処方.
    diagnosis_name: bool,
    infectious: bool,
    allergy: bool,
    contraindication: bool,
    test: bool,
    prescription_info: bool,
    /// `electronic` or `paper` (OQSCD017), when the reader asks.
    prescription: Option<String>,
}

impl Consents {
    pub(crate) fn kinds(&self) -> Vec<Kind> {
        [
            (self.medication, Kind::Medication),
            (self.clinical, Kind::Clinical),
            (self.surgery, Kind::Surgery),
            (self.checkup, Kind::Checkup),
            (self.limit_certificate, Kind::Limit),
            (self.specific_disease, Kind::SpecificDisease),
            (self.diagnosis_name, Kind::Info(Info2025::DiagnosisName)),
            (self.infectious, Kind::Info(Info2025::Infectious)),
            (self.allergy, Kind::Info(Info2025::Allergy)),
            (
                self.contraindication,
                Kind::Info(Info2025::Contraindication),
            ),
            (self.test, Kind::Info(Info2025::Test)),
            (self.prescription_info, Kind::Info(Info2025::Prescription)),
        ]
        .into_iter()
        .filter_map(|(yes, k)| yes.then_some(k))
        .collect()
    }
}

async fn consent(
    r: web::Data<Arc<Reader>>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Payload,
) -> HttpResponse {
    let (code, id) = path.into_inner();
    let started = Instant::now();
    let c: Consents = match json_body(body).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let prescription = match c.prescription.as_deref() {
        None => None,
        Some("electronic") => Some(PrescriptionIssueSelect::Electronic),
        Some("paper") => Some(PrescriptionIssueSelect::Paper),
        Some(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "prescription: electronic or paper",
            )
        }
    };
    if let Err(resp) = facility_of(&r, &req, &code).await {
        return *resp;
    }
    let now = r.core.clock.now_dt();
    let until = DateTime::from_naive(now.naive() + TimeDelta::hours(CONSENT_HOURS));
    let given = c.kinds();
    // The session ends and the consents are recorded together, once (group-committed with other readers).
    let finished = r
        .finisher
        .finish(Finish {
            session: id.clone(),
            facility: code.clone(),
            kinds: given.clone(),
            at: now.naive(),
            until: until.naive(),
            deadline: now.naive() - TimeDelta::minutes(sessions::SESSION_MINUTES),
        })
        .await;
    let person = match finished {
        Ok(Some(p)) => p,
        Ok(None) => return diagnose(&r, &code, &id, SessionState::Consent).await,
        Err(err) => return internal(err),
    };
    let reference_number = r
        .eligibility
        .reference_number(&code, &person)
        .await
        .unwrap_or_else(|err| {
            tracing::warn!(error = %err, "card reader: reference number lookup failed");
            None
        });
    let (encoding, qualification) = match face_basis(&r, &code, Some(&person), now.date()).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let mut resp = faces::response(Face {
        facility: &code,
        encoding,
        qualification,
        given: &given,
        prescription,
        reference_number,
        now,
        until,
        unregistered: false,
    });
    force_face(&r, &code, &mut resp).await;
    let (seq, file, xml) = r.publish_face(&code, &resp, now);
    r.observe_face(&code, started);
    presented(&r, &code, &person, now.naive()).await;
    HttpResponse::Ok().json(serde_json::json!({"seq": seq, "face_file": file, "xml": xml}))
}

/// A patient's consent given verbally at the facility in a declared disaster (seed 003: without the card, the
/// patient's consent is still required): who (the insurance data the patient states or shows), and the consent
/// screens' answers.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DisasterConsent {
    insurer: String,
    #[serde(default)]
    symbol: String,
    number: String,
    #[serde(default)]
    branch: Option<String>,
    #[serde(default)]
    birth: Option<String>,
    consents: Consents,
}

/// `POST /reader/v1/{code}/disaster-consents`: records the verbal consent of a patient without a card, when a
/// disaster declaration covers the facility today; the data services then answer under it (and log the view
/// with the declaration) while the consent lasts and the declaration still covers the facility.
async fn disaster_consent(
    r: web::Data<Arc<Reader>>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Payload,
) -> HttpResponse {
    let d: DisasterConsent = match json_body(body).await {
        Ok(d) => d,
        Err(resp) => return resp,
    };
    let code = match facility_of(&r, &req, &path).await {
        Ok(c) => c,
        Err(resp) => return *resp,
    };
    let now = r.core.clock.now();
    if let Some(refused) = consent_flow_refused(&r, &code).await {
        return refused;
    }
    let bad = |field: &str, e: onshi_wire::ids::IdError| {
        refuse(
            StatusCode::BAD_REQUEST,
            "bad_request",
            &format!("{field}: {}", e.0),
        )
    };
    let insurer = match onshi_wire::ids::InsurerNumber::parse(&d.insurer) {
        Ok(i) => i,
        Err(e) => return bad("insurer", e),
    };
    let symbol = match onshi_wire::ids::CardSymbol::parse(&d.symbol) {
        Ok(s) => s,
        Err(e) => return bad("symbol", e),
    };
    let number = match onshi_wire::ids::CardNumber::parse(&d.number) {
        Ok(n) => n,
        Err(e) => return bad("number", e),
    };
    let birth = match d
        .birth
        .as_deref()
        .map(onshi_wire::ids::Date::parse)
        .transpose()
    {
        Ok(b) => b,
        Err(e) => return bad("birth", e),
    };
    let kinds = d.consents.kinds();
    if kinds.is_empty() {
        return refuse(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "consents: at least one kind",
        );
    }
    let card = CardQuery {
        insurer,
        symbol,
        number,
        branch: d.branch.clone(),
        birth,
    };
    let found = match r.eligibility.person(&card).await {
        Ok(p) => p,
        Err(e) => return unavailable(e),
    };
    let Some(person) = found else {
        return refuse(
            StatusCode::NOT_FOUND,
            "unknown_person",
            "該当する資格情報が存在しません。",
        );
    };
    match r
        .consent
        .record_disaster_consent(&person.person_id, &code, &kinds, now)
        .await
    {
        Err(e) => internal(e),
        Ok(None) => refuse(
            StatusCode::FORBIDDEN,
            "no_disaster",
            "この医療機関の地域・期間に災害の指定がありません。",
        ),
        Ok(Some(declaration)) => HttpResponse::Created().json(serde_json::json!({
            "declaration": declaration,
            "kinds": kinds.iter().map(|k| k.code()).collect::<Vec<_>>(),
            "until": onshi_wire::ids::DateTime::from_naive(now + TimeDelta::hours(CONSENT_HOURS)).compact(),
        })),
    }
}

#[derive(Deserialize)]
struct After {
    after: Option<u64>,
}

async fn faces(
    r: web::Data<Arc<Reader>>,
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<After>,
) -> HttpResponse {
    let code = match facility_of(&r, &req, &path).await {
        Ok(c) => c,
        Err(resp) => return *resp,
    };
    HttpResponse::Ok().json(r.faces.after(code.as_str(), q.after.unwrap_or(0)))
}

/// Who may call the card reader: the facility in the path, with its terminal certificate.
pub const ROUTES: &[RouteAccess] = &[
    route("POST", "/reader/v1/{code}/sessions", Access::OwnFacility),
    route(
        "POST",
        "/reader/v1/{code}/sessions/{id}/identify",
        Access::OwnFacility,
    ),
    route(
        "POST",
        "/reader/v1/{code}/sessions/{id}/register",
        Access::OwnFacility,
    ),
    route(
        "POST",
        "/reader/v1/{code}/sessions/{id}/consent",
        Access::OwnFacility,
    ),
    route("GET", "/reader/v1/{code}/face", Access::OwnFacility),
    route(
        "POST",
        "/reader/v1/{code}/disaster-consents",
        Access::OwnFacility,
    ),
    // The マイナ資格確認アプリ: codes and devices at the terminal; the device's token speaks for its facility.
    route(
        "POST",
        "/reader/v1/{code}/app/activations",
        Access::OwnFacility,
    ),
    route("POST", "/app/v1/activate", Access::Public),
    route("POST", "/reader/v1/{code}/app/confirm", Access::OwnFacility),
    route("GET", "/reader/v1/{code}/app/devices", Access::OwnFacility),
    route(
        "POST",
        "/reader/v1/{code}/app/devices/{id}/revoke",
        Access::OwnFacility,
    ),
];

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/reader/v1")
            .route("/{code}/sessions", web::post().to(place))
            .route("/{code}/sessions/{id}/identify", web::post().to(identify))
            .route("/{code}/sessions/{id}/register", web::post().to(register))
            .route("/{code}/sessions/{id}/consent", web::post().to(consent))
            .route("/{code}/face", web::get().to(faces))
            .route(
                "/{code}/disaster-consents",
                web::post().to(disaster_consent),
            )
            .configure(crate::app::configure_reader),
    );
    crate::app::configure(cfg);
}

/// Gives the face result the answer an operator's forced rule holds for it, if any (`platform::control`).
async fn force_face(r: &Reader, code: &str, resp: &mut onshi_wire::msg::oqs_siquc01::Response) {
    let number = resp
        .body
        .as_ref()
        .and_then(|b| b.results.first())
        .map(|q| q.number.clone());
    match onshi_platform::control::take_for_face(&r.core.pool, code, number.as_deref()).await {
        Ok(Some((f, mark))) => {
            onshi_platform::control::forced::apply(resp, f);
            r.core
                .metrics
                .controls
                .with_label_values(&["forced", "operator"])
                .inc();
            tracing::info!(facility = code, %mark, "card reader: face result forced");
        }
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(error = %e, "card reader: forced rules unreadable; the face result is not forced")
        }
    }
}
