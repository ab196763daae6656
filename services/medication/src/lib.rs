//! # onshi-medication — 薬剤情報 (medication history)
//!
//! | module | what |
//! |---|---|
//! | [`uke`] | the UKE claim-file parser (医科, 歯科, 調剤) |
//! | [`master`] | the drug master (Y master + MHLW price list), shipped sample and `onshi master import` |
//! | [`pdf`] | the PDF form of 薬剤情報 (Japanese, A4) |
//! | [`claims`] | intake (5th–12th window), the 11th/12th/13th schedule, extraction, later claim wins |
//! | [`yzk_siquc01`] | the handler of `YZKsiquc01` retrieval (consent-gated), XML, JSON or PDF |
//! | [`history`] | the visible medication history of a person, as `YZKsiquc01res` groups it |
//! | this file | [`Medication`]: the batch runner, the claims folder, the HTTP API and the patient view |
//!
//! The service asks the eligibility service who a patient is and whether a facility may be answered through
//! [`onshi_platform::directory::Directory`]; every view goes through the consent service's access decision and log
//! ([`onshi_consent::port::AccessPort`]).

pub mod claims;
pub mod history;
pub mod master;
pub mod pdf;
pub mod uke;
pub mod yzk_siquc01;

use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, HttpResponse};
use chrono::NaiveDate;

use onshi_platform::db::Migrations;
use onshi_platform::directory::Directory;
use onshi_platform::http::{spool_body, ApiError, Core};
use onshi_platform::roles::{route, Access, Caller, RouteAccess};
use onshi_wire::ids::Date;

pub const MIGRATIONS: Migrations = Migrations {
    schema: "medication",
    steps: &[
        (
            "0001_medication",
            include_str!("../../../schema/medication/0001_medication.sql"),
        ),
        (
            "0002_claim_chunks",
            include_str!("../../../schema/medication/0002_claim_chunks.sql"),
        ),
        (
            "0003_use_class_codes",
            include_str!("../../../schema/medication/0003_use_class_codes.sql"),
        ),
        (
            "0004_procedure_master",
            include_str!("../../../schema/medication/0004_procedure_master.sql"),
        ),
        (
            "0005_extracted_rows_unchecked",
            include_str!("../../../schema/medication/0005_extracted_rows_unchecked.sql"),
        ),
    ],
};

/// The name shown for a 診療行為 the 診療行為マスター does not know (followed by its code).
pub const NOT_IN_PROCEDURE_MASTER: &str = "（診療行為マスター未収載）";

/// Medication older than this is not shown (the system keeps 3 years).
pub const HISTORY_DAYS: i64 = 3 * 365;

pub struct Medication {
    pub core: Core,
    /// Who a patient is, whether a facility may be answered (the eligibility service).
    pub directory: Arc<dyn Directory>,
    /// Whether a facility may see a patient's data (the consent service).
    pub consent: Arc<dyn onshi_consent::port::AccessPort>,
}

impl Medication {
    /// Loads the shipped master if needed and runs due batches every second on the simulated clock.
    pub async fn start(
        core: Core,
        directory: Arc<dyn Directory>,
        consent: Arc<dyn onshi_consent::port::AccessPort>,
    ) -> anyhow::Result<Arc<Self>> {
        master::ensure_loaded(&core.pool).await?;
        let me = Arc::new(Self {
            core,
            directory,
            consent,
        });
        let tasks = &me.core.tasks;
        if let Some(root) = me.core.config.folder_root.clone() {
            let weak = Arc::downgrade(&me);
            tasks.spawn("medication claims folder", move || {
                onshi_platform::transport::intake_folder(
                    weak.clone(),
                    root.clone(),
                    "claims",
                    onshi_platform::config::limits::CLAIM_FILE,
                    Medication::take_in,
                )
            });
        }
        let weak = Arc::downgrade(&me);
        tasks.spawn("medication batches", move || run_due_batches(weak.clone()));
        Ok(me)
    }
}

/// Runs the due extraction batches every second on the simulated clock.
async fn run_due_batches(me: std::sync::Weak<Medication>) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let Some(m) = me.upgrade() else { return };
        let workers = m.core.config.medication.extract_workers;
        if let Err(e) = claims::run_batches(&m.core.pool, m.core.clock.now(), false, workers).await
        {
            tracing::warn!(
                error = format!("{e:#}"),
                "medication: batch run failed; retrying"
            );
        }
    }
}

impl Medication {
    /// Takes in one claim file of a facility's `claims/` folder (`transport::intake_folder`): its report, or why it
    /// was refused.
    async fn take_in(
        self: Arc<Self>,
        f: onshi_platform::transport::Complete,
        sha: String,
    ) -> serde_json::Value {
        let core = &self.core;
        let r = claims::intake(
            &core.pool,
            self.directory.as_ref(),
            core.config.medication.claims_window,
            core.clock.now(),
            Some(&f.facility),
            claims::ClaimFile {
                path: &f.path,
                sha256: &sha,
            },
        )
        .await;
        match r {
            Ok(report) => serde_json::to_value(&report).unwrap_or_default(),
            Err(e) => serde_json::json!({"error": {"code": "refused", "message": e.to_string()}}),
        }
    }
}

/// A claim file over HTTP: a facility sends its own claims (the file's institution must be the caller's
/// facility when the caller is one).
async fn post_claim(
    m: web::Data<Arc<Medication>>,
    req: actix_web::HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    use actix_web::HttpMessage;
    let facility = match req.extensions().get::<Caller>() {
        Some(Caller::Facility(code)) => Some(code.clone()),
        _ => None,
    };
    let spooled = spool_body(body, onshi_platform::config::limits::CLAIM_FILE).await?;
    let core = &m.core;
    match claims::intake(
        &core.pool,
        m.directory.as_ref(),
        core.config.medication.claims_window,
        core.clock.now(),
        facility.as_deref(),
        claims::ClaimFile {
            path: spooled.file.path(),
            sha256: &spooled.sha256,
        },
    )
    .await
    {
        Ok(report) if report.duplicate => Ok(HttpResponse::Ok().json(report)),
        Ok(report) => Ok(HttpResponse::Created().json(report)),
        Err(claims::IntakeError::Db(e)) => Err(e.into()),
        Err(claims::IntakeError::Directory(e)) => Err(e.into()),
        Err(claims::IntakeError::Io(e)) => Err(ApiError::Internal(e.into())),
        Err(e) => Err(ApiError::BadRequest {
            message: e.to_string(),
            details: vec![],
        }),
    }
}

async fn get_batches(m: web::Data<Arc<Medication>>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(claims::batches(&m.core.pool).await?))
}

async fn run_batch(m: web::Data<Arc<Medication>>) -> Result<HttpResponse, ApiError> {
    let workers = m.core.config.medication.extract_workers;
    let n = claims::run_batches(&m.core.pool, m.core.clock.now(), true, workers).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"files_extracted": n})))
}

/// 自己負担割合 used for the patient view's amounts, by age on the day (a documented approximation of the
/// qualification's own ratio): 未就学 and 70–74 2割, 75 and over 1割, otherwise 3割.
pub fn self_pay_ratio(birth: Date, on: Date) -> f64 {
    if onshi_wire::record::is_preschool(birth, on) {
        return 0.2;
    }
    match birth.age_on(on) {
        70..=74 => 0.2,
        75.. => 0.1,
        _ => 0.3,
    }
}

/// One drug of the patient view, with its amounts (yen).
#[derive(Debug, serde::Serialize, sqlx::FromRow)]
struct PatientDrug {
    month: String,
    date: NaiveDate,
    facility_name: Option<String>,
    prescriber_name: Option<String>,
    in_out: String,
    drug_code: String,
    drug_name: String,
    ingredient: Option<String>,
    /// 使用区分 code, and its label for people.
    use_class: String,
    #[sqlx(default)]
    use_class_name: String,
    usage: Option<String>,
    dose: Option<String>,
    quantity: Option<String>,
    unit: Option<String>,
    /// 薬価 per unit (current master), when known.
    price: Option<f64>,
    /// The cheapest generic of the same 一般名コード, when this drug is not itself the cheapest generic.
    generic_price: Option<f64>,
    generic_name: Option<String>,
    #[sqlx(default)]
    self_pay_yen: Option<i64>,
    #[sqlx(default)]
    saving_yen: Option<i64>,
}

/// The page of the patient view: `offset` (default 0) and `limit` (default and most [`PATIENT_PAGE`]).
#[derive(serde::Deserialize)]
struct ViewPage {
    offset: Option<usize>,
    limit: Option<usize>,
}

/// Most drugs in one page of the patient view (the totals always cover the whole history).
pub const PATIENT_PAGE: usize = 500;

/// The patient's own medication history (マイナポータル-like), with 自己負担相当額 and 削減可能額:
///
/// * units = 使用量 × 回数 (1日量 × 日数, 1回量 × 回数, or total × 1);
/// * 薬剤費 = units × 薬価; 自己負担相当額 = 薬剤費 × [`self_pay_ratio`], rounded to the yen;
/// * 削減可能額 = (薬価 − the cheapest 後発品 of the same 一般名コード) × units × the same ratio, when that generic is
///   cheaper (0 otherwise). Prices are the current master's.
async fn patient_view(
    m: web::Data<Arc<Medication>>,
    path: web::Path<String>,
    q: web::Query<ViewPage>,
) -> Result<HttpResponse, ApiError> {
    use futures_util::TryStreamExt;
    let now = m.core.clock.now();
    let since = now.date() - chrono::TimeDelta::days(HISTORY_DAYS);
    let offset = q.offset.unwrap_or(0);
    let limit = q.limit.unwrap_or(PATIENT_PAGE).clamp(1, PATIENT_PAGE);
    let birth: Option<(NaiveDate,)> = sqlx::query_as(
        "SELECT birth_date FROM medication.receipts WHERE person_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(path.as_str())
    .fetch_optional(&m.core.pool)
    .await?;
    let birth = birth.map(|(b,)| Date::from_naive(b));
    // Streamed: the totals cover every row, memory holds one page.
    let mut rows = sqlx::query_as::<_, PatientDrug>(
        "SELECT d.treatment_month AS month, d.date, d.facility_name, d.prescriber_name, d.in_out, d.drug_code, \
           d.drug_name, d.ingredient, d.use_class, d.usage, d.dose, d.quantity, d.unit, m.price::float8 AS price, \
           g.price::float8 AS generic_price, g.name AS generic_name \
         FROM medication.dispensings d JOIN medication.receipts r ON r.id = d.receipt_id \
         LEFT JOIN medication.drugs m ON m.code = d.drug_code \
         LEFT JOIN LATERAL (SELECT price, name FROM medication.drugs x WHERE x.generic_code = m.generic_code \
           AND x.generic AND x.price < m.price ORDER BY x.price LIMIT 1) g ON true \
         WHERE d.person_id = $1 AND r.superseded_by IS NULL AND d.visible_from <= $2 AND d.date >= $3 \
         ORDER BY d.date, d.id",
    )
    .bind(path.as_str())
    .bind(now)
    .bind(since)
    .fetch(&m.core.pool);
    let (mut total, mut saving, mut count) = (0i64, 0i64, 0usize);
    let mut page = Vec::new();
    while let Some(mut r) = rows.try_next().await? {
        r.use_class_name = onshi_wire::msg::yzk_siquc01::use_class_label(&r.use_class).to_string();
        let units = r
            .dose
            .as_deref()
            .and_then(|d| d.parse::<f64>().ok())
            .unwrap_or(0.0)
            * r.quantity
                .as_deref()
                .and_then(|q| q.parse::<f64>().ok())
                .unwrap_or(0.0);
        let ratio = birth.map_or(0.3, |b| self_pay_ratio(b, Date::from_naive(r.date)));
        if let Some(p) = r.price {
            let pay = (p * units * ratio).round() as i64;
            let save = r
                .generic_price
                .map_or(0, |g| ((p - g) * units * ratio).round() as i64);
            r.self_pay_yen = Some(pay);
            r.saving_yen = Some(save);
            total += pay;
            saving += save;
        }
        if count >= offset && page.len() < limit {
            page.push(r);
        }
        count += 1;
    }
    let next = (offset + page.len() < count).then_some(offset + page.len());
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "person_id": path.as_str(),
        "self_pay_total_yen": total,
        "saving_total_yen": saving,
        "count": count,
        "offset": offset,
        "next_offset": next,
        "medications": page,
    })))
}

/// Who may call the medication API: a facility sends its claims; the patient sees their own view; the operator
/// runs the batches (the message `YZKsiquc01` is the entry pipeline's).
pub const ROUTES: &[RouteAccess] = &[
    route("POST", "/medication/v1/claims", Access::Facility),
    route("GET", "/medication/v1/batches", Access::Operator),
    route("POST", "/medication/v1/batches/run", Access::Operator),
    route(
        "GET",
        "/medication/v1/persons/{person_id}/medications",
        Access::OwnPatient,
    ),
];

/// The medication API (needs `web::Data<Arc<Medication>>`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/medication/v1")
            .route("/claims", web::post().to(post_claim))
            .route("/batches", web::get().to(get_batches))
            .route("/batches/run", web::post().to(run_batch))
            .route(
                "/persons/{person_id}/medications",
                web::get().to(patient_view),
            ),
    );
}
