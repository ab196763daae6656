//! Card-reader emulation (顔認証付きカードリーダー), per terminal of a facility (reference §1.5b):
//!
//! `POST /reader/v1/{code}/sessions` (place the card) → `…/sessions/{id}/identify` (face match or PIN) →
//! `…/sessions/{id}/register` (初回登録, only for a card not yet registered) → `…/sessions/{id}/consent` (the
//! consent screens and the prescription form) → the **face XML**
//! `OQSsiquc01res_face_<code><20 hex>_<yyyyMMddHHmmss>.xml` in the facility's `face/` folder, also returned and
//! listed at `GET /reader/v1/{code}/face?after=<seq>` for polling.
//!
//! Card-side failures answer as the reader would (JSON `{"error":{"code","message"}}` with the reader's
//! message); no face XML is written for them. Every step is single-use (a replayed session is refused).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::TimeDelta;
use serde::{Deserialize, Serialize};

use onshi_consent::{cards, chain, sessions, Kind, CONSENT_HOURS};
use onshi_platform::http::{parse_json, read_body};
use onshi_wire::codes::{
    ConsentStatus, PrescriptionIssueSelect, ProcessingResultStatus, QualificationValidity,
    ReferenceClassification, SegmentOfResult,
};
use onshi_wire::ids::{DateTime, InstitutionCode};
use onshi_wire::msg::oqs_siquc01::{Body, Response};
use onshi_wire::msg::qualification::{Consent, Disclosure, QualificationResult};
use onshi_wire::msg::{HeaderEcho, ResponseHeader};

use crate::decide::{state, State};
use crate::Eligibility;

/// Face results kept per facility for polling.
const KEEP: usize = 1_000;

/// The face results produced by this process, per facility, for `GET /reader/v1/face/{code}`.
#[derive(Default)]
pub struct FaceStore {
    seq: AtomicU64,
    by_facility: Mutex<HashMap<String, VecDeque<FaceResult>>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FaceResult {
    pub seq: u64,
    pub file: String,
    pub xml: String,
}

impl FaceStore {
    fn push(&self, facility: &str, file: String, xml: String) -> u64 {
        let seq = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        let mut m = self.by_facility.lock().expect("face store");
        let q = m.entry(facility.to_string()).or_default();
        q.push_back(FaceResult { seq, file, xml });
        while q.len() > KEEP {
            q.pop_front();
        }
        seq
    }
    fn after(&self, facility: &str, after: u64) -> Vec<FaceResult> {
        let m = self.by_facility.lock().expect("face store");
        m.get(facility)
            .map(|q| q.iter().filter(|r| r.seq > after).cloned().collect())
            .unwrap_or_default()
    }
}

fn refuse(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    tracing::info!(code, "card reader: refused");
    HttpResponse::build(status)
        .json(serde_json::json!({"error": {"code": code, "message": message}}))
}

/// A small JSON request body, or the refusal for a bad one.
async fn json_body<T: serde::de::DeserializeOwned>(body: web::Payload) -> Result<T, HttpResponse> {
    read_body(body, 4096)
        .await
        .and_then(|b| parse_json(&b))
        .map_err(|err| refuse(StatusCode::BAD_REQUEST, "bad_request", &err.to_string()))
}

fn random_bytes<const N: usize>() -> [u8; N] {
    use ring::rand::SecureRandom;
    let mut raw = [0u8; N];
    let _ = ring::rand::SystemRandom::new().fill(&mut raw);
    raw
}

/// A 16-character base64 token, like the system's face-result `ArbitraryFileIdentifier`.
fn token() -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let raw: [u8; 12] = random_bytes();
    raw.chunks(3)
        .flat_map(|c| {
            let n = (u32::from(c[0]) << 16) | (u32::from(c[1]) << 8) | u32::from(c[2]);
            [18, 12, 6, 0].map(|s| A[((n >> s) & 63) as usize] as char)
        })
        .collect()
}

/// Which facility a reader request speaks for: the authenticated one must be the claimed one.
fn facility_of(
    e: &Eligibility,
    req: &HttpRequest,
    claimed: &str,
) -> Result<InstitutionCode, Box<HttpResponse>> {
    let refused = |status, code, message: &str| Box::new(refuse(status, code, message));
    let code = InstitutionCode::parse(claimed)
        .map_err(|err| refused(StatusCode::BAD_REQUEST, "bad_request", &err.0))?;
    match e.authenticate(req) {
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
    e: web::Data<Arc<Eligibility>>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Payload,
) -> HttpResponse {
    let p: Place = match json_body(body).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let code = match facility_of(&e, &req, &path) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let now = e.core.clock.now();
    let today = e.core.clock.today();
    let operational = e
        .registry
        .read()
        .expect("registry")
        .facility(code.as_str())
        .is_some_and(|f| f.is_operational_on(today));
    if !operational {
        return refuse(
            StatusCode::FORBIDDEN,
            "facility_inactive",
            "オンライン資格確認を利用できない医療機関です。",
        );
    }
    let pool = &e.core.pool;
    let card = match cards::get(pool, &p.card_serial).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return refuse(
                StatusCode::NOT_FOUND,
                "card_unreadable",
                "カードを読み取れませんでした。",
            )
        }
        Err(err) => return internal(err.into()),
    };
    if card.revoked_on.is_some() {
        return refuse(
            StatusCode::FORBIDDEN,
            "card_revoked",
            "このカードは失効しています（紛失等の届出済み）。",
        );
    }
    if today.naive() > card.expires_on {
        return refuse(
            StatusCode::FORBIDDEN,
            "card_expired",
            "カードの電子証明書の有効期限が切れています。市区町村の窓口で更新してください。",
        );
    }
    if card.locked_at.is_some() {
        return refuse(
            StatusCode::FORBIDDEN,
            "card_locked",
            "暗証番号がロックされています。市区町村の窓口でロック解除の手続きをしてください。",
        );
    }
    if let Err(err) = cards::ensure_certificate(&e.core, &card).await {
        return internal(err);
    }
    match sessions::create(
        pool,
        code.as_str(),
        &p.terminal,
        &card.serial,
        &card.person_id,
        card.registered_on.is_some(),
        now,
    )
    .await
    {
        Ok(id) => HttpResponse::Created().json(serde_json::json!({
            "session": id,
            "next": "identify",
            "registered": card.registered_on.is_some(),
        })),
        Err(err) => internal(err.into()),
    }
}

fn internal(err: anyhow::Error) -> HttpResponse {
    tracing::error!(error = format!("{err:#}"), "card reader: internal error");
    refuse(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "処理できませんでした。",
    )
}

/// Explains why a step did not apply to a session (it does not exist for this facility, is past that step,
/// or timed out).
async fn diagnose(e: &Eligibility, code: &str, id: &str, expected: &str) -> HttpResponse {
    match sessions::get(&e.core.pool, id).await {
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
    e: &Eligibility,
    code: &str,
    id: &str,
    expected: &str,
) -> Result<sessions::Session, Box<HttpResponse>> {
    match sessions::get(&e.core.pool, id).await {
        Ok(Some(s))
            if s.facility == code
                && s.state == expected
                && e.core.clock.now()
                    <= s.created_at + TimeDelta::minutes(sessions::SESSION_MINUTES) =>
        {
            Ok(s)
        }
        Ok(_) => Err(Box::new(diagnose(e, code, id, expected).await)),
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
    e: web::Data<Arc<Eligibility>>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Payload,
) -> HttpResponse {
    let (code, id) = path.into_inner();
    let i: Identify = match json_body(body).await {
        Ok(i) => i,
        Err(r) => return r,
    };
    if let Err(r) = facility_of(&e, &req, &code) {
        return *r;
    }
    let pool = &e.core.pool;
    let now = e.core.clock.now();
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
            let s = match session_at(&e, &code, &id, "identify").await {
                Ok(s) => s,
                Err(r) => return *r,
            };
            match cards::verify_pin(pool, &s.serial, pin, now).await {
                Ok(cards::Pin::Correct) => {}
                Ok(cards::Pin::Wrong { tries_left }) => {
                    return refuse(
                        StatusCode::UNAUTHORIZED,
                        "pin_wrong",
                        &format!(
                            "暗証番号が違います。あと{tries_left}回間違えるとロックされます。"
                        ),
                    )
                }
                Ok(cards::Pin::Locked) => {
                    let _ = sessions::advance(pool, &id, &code, "identify", "failed", now).await;
                    return refuse(StatusCode::FORBIDDEN, "card_locked", "暗証番号がロックされました。市区町村の窓口でロック解除の手続きをしてください。");
                }
                Err(err) => return internal(err.into()),
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
    match sessions::advance(pool, &id, &code, "identify", "after_identify", now).await {
        Ok(Some(s)) => {
            HttpResponse::Ok().json(serde_json::json!({"identified": true, "next": s.state}))
        }
        Ok(None) => diagnose(&e, &code, &id, "identify").await,
        Err(err) => internal(err.into()),
    }
}

/// The person's qualification to show for a card: one valid today (the most recent), else the most recent.
fn current_qualification(
    e: &Eligibility,
    person: &str,
    on: onshi_wire::ids::Date,
) -> Option<(String, bool)> {
    let reg = e.registry.read().expect("registry");
    let rules = &e.core.config.rules;
    let mut quals: Vec<_> = reg
        .of_person(person)
        .map(|q| {
            let r = q.on(on).unwrap_or_else(|| q.first());
            (
                q.id.clone(),
                state(q, on, rules) == State::Valid,
                r.record.qualification_date,
            )
        })
        .collect();
    quals.sort_by_key(|(_, valid, start)| (*valid, *start));
    quals.pop().map(|(id, valid, _)| (id, valid))
}

async fn register(
    e: web::Data<Arc<Eligibility>>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (code, id) = path.into_inner();
    if let Err(r) = facility_of(&e, &req, &code) {
        return *r;
    }
    let s = match session_at(&e, &code, &id, "register").await {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let today = e.core.clock.today();
    let Some((qualification, true)) = current_qualification(&e, &s.person_id, today) else {
        return refuse(
            StatusCode::CONFLICT,
            "no_qualification",
            "登録できる保険資格がありません。保険者にお問い合わせください。",
        );
    };
    if let Err(err) = cards::register(&e.core.pool, &s.serial, &qualification, today).await {
        return refuse(
            StatusCode::CONFLICT,
            "registration_failed",
            &err.to_string(),
        );
    }
    match sessions::advance(
        &e.core.pool,
        &id,
        &code,
        "register",
        "consent",
        e.core.clock.now(),
    )
    .await
    {
        Ok(Some(_)) => {
            HttpResponse::Ok().json(serde_json::json!({"registered": true, "next": "consent"}))
        }
        Ok(None) => diagnose(&e, &code, &id, "register").await,
        Err(err) => internal(err.into()),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct Consents {
    medication: bool,
    clinical: bool,
    surgery: bool,
    checkup: bool,
    limit_certificate: bool,
    specific_disease: bool,
    /// `electronic` or `paper` (OQSCD017), when the reader asks.
    prescription: Option<String>,
}

async fn consent(
    e: web::Data<Arc<Eligibility>>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Payload,
) -> HttpResponse {
    let (code, id) = path.into_inner();
    let started = Instant::now();
    let c: Consents = match json_body(body).await {
        Ok(c) => c,
        Err(r) => return r,
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
    if let Err(r) = facility_of(&e, &req, &code) {
        return *r;
    }
    let now = e.core.clock.now_dt();
    let until = DateTime::from_naive(now.naive() + TimeDelta::hours(CONSENT_HOURS));
    let given: Vec<Kind> = [
        (c.medication, Kind::Medication),
        (c.clinical, Kind::Clinical),
        (c.surgery, Kind::Surgery),
        (c.checkup, Kind::Checkup),
        (c.limit_certificate, Kind::Limit),
        (c.specific_disease, Kind::SpecificDisease),
    ]
    .into_iter()
    .filter_map(|(yes, k)| yes.then_some(k))
    .collect();
    // The session ends and the consents are recorded together, once (group-committed with other readers).
    let finished = e
        .consent_writer
        .finish(chain::Finish {
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
        Ok(None) => return diagnose(&e, &code, &id, "consent").await,
        Err(err) => return internal(err),
    };
    let reference = crate::reference_numbers::reference_for(&e.core.pool, &code, &person)
        .await
        .unwrap_or_else(|err| {
            tracing::warn!(error = %err, "card reader: reference number lookup failed");
            None
        });
    let mut resp = face_response(&e, &code, &person, &given, prescription, now, until);
    if let Some(r) = resp.body.as_mut().and_then(|b| b.results.first_mut()) {
        r.reference_number = reference;
    }
    let file = format!(
        "OQSsiquc01res_face_{}{}_{}.xml",
        code,
        random_bytes::<10>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>(),
        now.compact()
    );
    let bytes = resp.to_xml();
    if let Some(root) = &e.core.config.folder_root {
        let dir = root.join(&code).join("face");
        if let Err(err) = std::fs::create_dir_all(&dir)
            .and_then(|_| onshi_platform::transport::write_atomically(&dir, &file, &bytes))
        {
            tracing::warn!(error = %err, "card reader: cannot write the face file");
        }
    }
    let xml = match resp.header.encoding {
        onshi_wire::xml::Encoding::Utf8 => String::from_utf8_lossy(&bytes).into_owned(),
        onshi_wire::xml::Encoding::ShiftJis => encoding_rs::SHIFT_JIS.decode(&bytes).0.into_owned(),
    };
    let seq = e.faces.push(&code, file.clone(), xml.clone());
    e.observe_face(started);
    HttpResponse::Ok().json(serde_json::json!({"seq": seq, "face_file": file, "xml": xml}))
}

/// The face result: ReferenceClassification 1, the person's qualification today, the consents just given.
fn face_response(
    e: &Eligibility,
    facility: &str,
    person: &str,
    given: &[Kind],
    prescription: Option<PrescriptionIssueSelect>,
    now: DateTime,
    until: DateTime,
) -> Response {
    let today = now.date();
    let has = |k: Kind| given.contains(&k);
    let consent = |k: Kind| {
        Some(if has(k) {
            Consent {
                flag: ConsentStatus::Consented,
                time: Some(now),
                available_until: Some(until),
            }
        } else {
            Consent {
                flag: ConsentStatus::NoConsent,
                time: None,
                available_until: None,
            }
        })
    };
    let chosen = current_qualification(e, person, today);
    let reg = e.registry.read().expect("registry");
    let (validity, results) = match &chosen {
        None => (QualificationValidity::NotFound, vec![]),
        Some((id, valid)) => {
            let q = reg
                .of_person(person)
                .find(|q| &q.id == id)
                .expect("chosen from the registry");
            let rec = &q.on(today).unwrap_or_else(|| q.first()).record;
            let mut r = QualificationResult::from_record(
                rec,
                today,
                Disclosure {
                    limit_consent: has(Kind::Limit),
                    specific_consent: has(Kind::SpecificDisease),
                    consent_time: now,
                },
            );
            r.checkup_consent = consent(Kind::Checkup);
            r.pharmacists_consent = consent(Kind::Medication);
            r.diagnosis_consent = consent(Kind::Clinical);
            r.operation_consent = consent(Kind::Surgery);
            if !has(Kind::SpecificDisease) {
                r.specific_consent = Some((ConsentStatus::NoConsent, None));
            }
            (
                if *valid {
                    QualificationValidity::Valid
                } else {
                    QualificationValidity::Invalid
                },
                vec![r],
            )
        }
    };
    let encoding = reg
        .facility(facility)
        .and_then(|f| f.response_encoding)
        .unwrap_or(e.core.config.response_encoding);
    Response {
        header: ResponseHeader {
            process_time: now,
            echo: HeaderEcho {
                confirmation_date: Some(today.compact()),
                institution: Some(facility.to_string()),
                arbitrary_file_identifier: Some(token()),
            },
            reference_classification: ReferenceClassification::MyNumberCard,
            segment: SegmentOfResult::Normal,
            error: None,
            encoding,
        },
        body: Some(Body {
            status: ProcessingResultStatus::Normal,
            code: None,
            validity: Some(validity),
            search: None,
            prescription_issue_select: prescription,
            results,
        }),
    }
}

#[derive(Deserialize)]
struct After {
    after: Option<u64>,
}

async fn faces(
    e: web::Data<Arc<Eligibility>>,
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<After>,
) -> HttpResponse {
    let code = match facility_of(&e, &req, &path) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    HttpResponse::Ok().json(e.faces.after(code.as_str(), q.after.unwrap_or(0)))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/reader/v1")
            .route("/{code}/sessions", web::post().to(place))
            .route("/{code}/sessions/{id}/identify", web::post().to(identify))
            .route("/{code}/sessions/{id}/register", web::post().to(register))
            .route("/{code}/sessions/{id}/consent", web::post().to(consent))
            .route("/{code}/face", web::get().to(faces)),
    );
}
