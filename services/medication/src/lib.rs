//! # onshi-medication — 薬剤情報 (medication history)
//!
//! | module | what |
//! |---|---|
//! | [`uke`] | the UKE claim-file parser (医科, 歯科, 調剤) |
//! | [`master`] | the drug master (Y master + MHLW price list), shipped sample and `onshi master import` |
//! | [`pdf`] | the PDF form of 薬剤情報 (Japanese, A4) |
//! | [`claims`] | intake (5th–12th window), the 11th/12th/13th schedule, extraction, later claim wins |
//! | this file | [`Medication`]: the batch runner, `YZKsiquc01` retrieval (consent-gated), the HTTP API |
//!
//! The service asks the eligibility service who a patient is and whether a facility may be answered through
//! [`onshi_platform::directory::Directory`]; every view goes through the consent service's access decision and log.

pub mod claims;
pub mod master;
pub mod pdf;
pub mod uke;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, HttpResponse};
use chrono::NaiveDate;

use onshi_platform::db::Migrations;
use onshi_platform::directory::Directory;
use onshi_platform::http::{read_body, ApiError, Core};
use onshi_platform::transport::{Incoming, Router};
use onshi_wire::ids::Date;
use onshi_wire::msg::file_name::MessageKind;
use onshi_wire::msg::yzk_siquc01::{self, Day, Drug, MonthInf, Patient, Procedure};
use onshi_wire::msg::FileError;
use onshi_wire::xml::{self, OutputForm};

pub const MIGRATIONS: Migrations = Migrations {
    schema: "medication",
    steps: &[(
        "0001_medication",
        include_str!("../../../schema/medication/0001_medication.sql"),
    )],
};

/// A stored 診療行為 as the history reads it.
#[derive(sqlx::FromRow)]
struct ProcedureRow {
    date: NaiveDate,
    facility: String,
    code: String,
    class: String,
    quantity: Option<String>,
    count: String,
    month: String,
}

/// The name shown for a 診療行為: the simulator has no 診療行為マスター yet.
pub const NOT_IN_PROCEDURE_MASTER: &str = "（診療行為マスター未収載）";

/// Medication older than this is not shown (the system keeps 3 years).
pub const HISTORY_DAYS: i64 = 3 * 365;

/// Largest claim file accepted over HTTP.
pub const CLAIM_LIMIT: usize = 64 * 1024 * 1024;

pub struct Medication {
    pub core: Core,
    pub directory: Arc<dyn Directory>,
}

impl Medication {
    /// Loads the shipped master if needed and runs due batches every second on the simulated clock.
    pub async fn start(core: Core, directory: Arc<dyn Directory>) -> anyhow::Result<Arc<Self>> {
        master::ensure_loaded(&core.pool).await?;
        let me = Arc::new(Self { core, directory });
        if let Some(root) = me.core.config.folder_root.clone() {
            tokio::spawn(watch_claims(Arc::downgrade(&me), root));
        }
        let weak = Arc::downgrade(&me);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let Some(m) = weak.upgrade() else { return };
                if let Err(e) = claims::run_batches(&m.core.pool, m.core.clock.now(), false).await {
                    tracing::warn!(
                        error = format!("{e:#}"),
                        "medication: batch run failed; retrying"
                    );
                }
            }
        });
        Ok(me)
    }

    /// Handlers of the message kinds this service answers.
    pub fn router(self: &Arc<Self>) -> Router {
        let mut router = Router::new();
        let me = self.clone();
        router.add(MessageKind::YzkSiquc01, move |i: Incoming| {
            let me = me.clone();
            async move { me.answer_yzk(&i).await }
        });
        router
    }

    /// `YZKsiquc01req` → `YZKsiquc01res` for the file transports.
    pub async fn answer_yzk(&self, i: &Incoming) -> Vec<u8> {
        let parsed = xml::parse(&i.bytes, &self.core.config.limits);
        let tree = parsed.as_ref().map(|d| &d.root).map_err(|e| {
            FileError::new(
                onshi_wire::result_codes::ResultKey::MalformedXml,
                &e.to_string(),
            )
        });
        self.respond_yzk(tree, i.terminal.as_deref(), None).await
    }

    /// Answers a request tree: XML (even `FileCategory`) or the PDF form (odd); errors are `ResultCode` 2 with
    /// `MessageContents`. `json`: answer as the Web API's JSON (`Some(encoding)` ignored for JSON).
    pub async fn respond_yzk(
        &self,
        tree: Result<&xml::Element, FileError>,
        terminal: Option<&str>,
        json: Option<()>,
    ) -> Vec<u8> {
        let now = self.core.clock.now();
        let default = self.core.config.response_encoding;
        let form = |enc| {
            if json.is_some() {
                OutputForm::Json
            } else {
                OutputForm::Xml(enc)
            }
        };
        let fail = |echo: &onshi_wire::msg::HeaderEcho, enc, message: &str| {
            yzk_siquc01::write(echo, None, Err(message), form(enc))
        };
        let req = match tree.and_then(yzk_siquc01::parse) {
            Ok(r) => r,
            Err(e) => return fail(&e.echo, default, &e.outcome.message),
        };
        let today = Date::from_naive(now.date());
        let (enc, check) = self
            .directory
            .facility(req.institution.as_str(), terminal, today);
        if let Err(key) = check {
            let o = onshi_wire::result_codes::outcome(key, "");
            return fail(&req.echo, enc, &o.message);
        }
        let Some(person) = self.directory.person(
            &req.insurer,
            &req.symbol,
            &req.number,
            Some(&req.branch.as_string()),
            None,
        ) else {
            return fail(&req.echo, enc, "該当する資格情報が存在しません。");
        };
        let allowed = onshi_consent::access::view(
            &self.core.pool,
            &person.person_id,
            &req.institution,
            onshi_consent::Kind::Medication,
            now,
        )
        .await;
        match allowed {
            Err(e) => {
                tracing::error!(error = %e, "medication: access check failed");
                return fail(&req.echo, enc, "処理できませんでした。");
            }
            Ok(Err(refusal)) => return fail(&req.echo, enc, refusal.message()),
            Ok(Ok(_)) => {}
        }
        let months = match self
            .history(
                &person.person_id,
                req.from_month.as_deref(),
                req.to_month.as_deref(),
                req.file_category >= 3,
            )
            .await
        {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(error = %e, "medication: history query failed");
                return fail(&req.echo, enc, "処理できませんでした。");
            }
        };
        let patient = Patient {
            name: person.name.clone(),
            kana: person.kana.clone(),
            birth: person.birth.compact(),
            sex: person.sex.clone(),
        };
        if req.file_category % 2 == 1 {
            return pdf::write(&patient, &months, &self.core.clock.now_dt().compact());
        }
        yzk_siquc01::write(&req.echo, Some(&patient), Ok(&months), form(enc))
    }

    /// The visible, current (not superseded), last-3-years medication of a person, grouped by institution and
    /// month, then by day.
    pub async fn history(
        &self,
        person: &str,
        from: Option<&str>,
        to: Option<&str>,
        with_procedures: bool,
    ) -> sqlx::Result<Vec<MonthInf>> {
        let now = self.core.clock.now();
        let since = now.date() - chrono::TimeDelta::days(HISTORY_DAYS);
        type Row = (
            NaiveDate,
            Option<NaiveDate>,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            String,
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            String,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT d.date, d.prescribed_on, d.facility, d.facility_name, d.prescriber, d.prescriber_name, d.in_out, \
             d.use_class, d.drug_code, d.drug_name, d.ingredient, d.usage, d.dose, d.quantity, d.unit, d.treatment_month \
             FROM medication.dispensings d JOIN medication.receipts r ON r.id = d.receipt_id \
             WHERE d.person_id = $1 AND r.superseded_by IS NULL AND d.visible_from <= $2 AND d.date >= $3 \
               AND ($4::text IS NULL OR d.treatment_month >= $4) AND ($5::text IS NULL OR d.treatment_month <= $5) \
             ORDER BY d.treatment_month, d.facility, d.date, d.id",
        )
        .bind(person)
        .bind(now)
        .bind(since)
        .bind(from)
        .bind(to)
        .fetch_all(&self.core.pool)
        .await?;
        let mut months: BTreeMap<(String, String, String), MonthInf> = BTreeMap::new();
        for r in rows {
            let pharmacy = r.6 == "2";
            let m = months
                .entry((r.15.clone(), r.2.clone(), r.4.clone().unwrap_or_default()))
                .or_insert_with(|| MonthInf {
                    pharmacy,
                    org: r.2[2..3].to_string(),
                    facility: r.2.clone(),
                    facility_name: r.3.clone().unwrap_or_default(),
                    prescriber: r.4.clone().unwrap_or_default(),
                    prescriber_name: r.5.clone().unwrap_or_default(),
                    month: r.15.clone(),
                    in_out: r.6.clone(),
                    days: vec![],
                });
            let date = Date::from_naive(r.0).compact();
            if m.days.last().is_none_or(|d| d.date != date) {
                m.days.push(Day {
                    date: date.clone(),
                    prescribed: r.1.map(|p| Date::from_naive(p).compact()),
                    drugs: vec![],
                    procedures: vec![],
                });
            }
            m.days.last_mut().expect("pushed").drugs.push(Drug {
                code: r.8,
                name: r.9,
                quantity: r.12.unwrap_or_default(),
                unit: r.14.unwrap_or_default(),
                usage: r.11.unwrap_or_default(),
                times: r.13.unwrap_or_default(),
                ingredient: r.10.unwrap_or_default(),
                use_class: r.7,
            });
        }
        if with_procedures {
            let procs: Vec<ProcedureRow> = sqlx::query_as(
                "SELECT p.date, p.facility, p.code, p.shinryo AS class, p.quantity, p.count, p.treatment_month AS month \
                 FROM medication.procedures p JOIN medication.receipts r ON r.id = p.receipt_id \
                 WHERE p.person_id = $1 AND r.superseded_by IS NULL AND p.visible_from <= $2 AND p.date >= $3 \
                   AND ($4::text IS NULL OR p.treatment_month >= $4) AND ($5::text IS NULL OR p.treatment_month <= $5) \
                 ORDER BY p.treatment_month, p.facility, p.date, p.id",
            )
            .bind(person)
            .bind(now)
            .bind(since)
            .bind(from)
            .bind(to)
            .fetch_all(&self.core.pool)
            .await?;
            for ProcedureRow {
                date,
                facility,
                code,
                class,
                quantity,
                count,
                month,
            } in procs
            {
                let m = months
                    .entry((month.clone(), facility.clone(), facility.clone()))
                    .or_insert_with(|| MonthInf {
                        pharmacy: false,
                        org: facility[2..3].to_string(),
                        facility: facility.clone(),
                        facility_name: String::new(),
                        prescriber: facility.clone(),
                        prescriber_name: String::new(),
                        month,
                        in_out: "1".into(),
                        days: vec![],
                    });
                let date = Date::from_naive(date).compact();
                let i = match m.days.iter().position(|d| d.date == date) {
                    Some(i) => i,
                    None => {
                        let at = m.days.partition_point(|d| d.date < date);
                        m.days.insert(
                            at,
                            Day {
                                date: date.clone(),
                                prescribed: None,
                                drugs: vec![],
                                procedures: vec![],
                            },
                        );
                        at
                    }
                };
                m.days[i].procedures.push(Procedure {
                    name: format!("{NOT_IN_PROCEDURE_MASTER}{code}"),
                    code,
                    class,
                    quantity: quantity.unwrap_or_default(),
                    times: count,
                });
            }
        }
        Ok(months.into_values().collect())
    }
}

/// Claim files dropped in `<folders>/<code>/claims/` are taken in like `POST /medication/v1/claims`; the
/// report (or the refusal) is written next to it as `<name>.result.json` and the file is removed (it is stored).
async fn watch_claims(me: std::sync::Weak<Medication>, root: std::path::PathBuf) {
    let mut seen = onshi_platform::transport::Seen::new();
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let Some(m) = me.upgrade() else { return };
        for f in onshi_platform::transport::complete_files(&root, "claims", &mut seen) {
            let result = match std::fs::read(&f.path) {
                Err(e) => {
                    serde_json::json!({"error": {"code": "unreadable", "message": e.to_string()}})
                }
                Ok(bytes) => {
                    let core = &m.core;
                    let r = claims::intake(
                        &core.pool,
                        m.directory.as_ref(),
                        core.config.claims_window,
                        core.clock.now(),
                        Some(&f.facility),
                        &bytes,
                    )
                    .await;
                    match r {
                        Ok(report) => serde_json::to_value(&report).unwrap_or_default(),
                        Err(e) => {
                            serde_json::json!({"error": {"code": "refused", "message": e.to_string()}})
                        }
                    }
                }
            };
            let dir = f.facility_dir.join("claims");
            let name = format!("{}.result.json", f.name);
            let written = onshi_platform::transport::write_atomically(
                &dir,
                &name,
                result.to_string().as_bytes(),
            )
            .and_then(|_| std::fs::remove_file(&f.path));
            if let Err(e) = written {
                tracing::warn!(error = %e, "medication: claim folder");
            }
        }
    }
}

async fn post_claim(
    m: web::Data<Arc<Medication>>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let bytes = read_body(body, CLAIM_LIMIT).await?;
    let core = &m.core;
    match claims::intake(
        &core.pool,
        m.directory.as_ref(),
        core.config.claims_window,
        core.clock.now(),
        None,
        &bytes,
    )
    .await
    {
        Ok(report) if report.duplicate => Ok(HttpResponse::Ok().json(report)),
        Ok(report) => Ok(HttpResponse::Created().json(report)),
        Err(claims::IntakeError::Db(e)) => Err(e.into()),
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
    let n = claims::run_batches(&m.core.pool, m.core.clock.now(), true).await?;
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
    use_class: String,
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

/// The patient's own medication history (マイナポータル-like), with 自己負担相当額 and 削減可能額:
///
/// * units = 使用量 × 回数 (1日量 × 日数, 1回量 × 回数, or total × 1);
/// * 薬剤費 = units × 薬価; 自己負担相当額 = 薬剤費 × [`self_pay_ratio`], rounded to the yen;
/// * 削減可能額 = (薬価 − the cheapest 後発品 of the same 一般名コード) × units × the same ratio, when that generic is
///   cheaper (0 otherwise). Prices are the current master's.
async fn patient_view(
    m: web::Data<Arc<Medication>>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let now = m.core.clock.now();
    let since = now.date() - chrono::TimeDelta::days(HISTORY_DAYS);
    let mut rows: Vec<PatientDrug> = sqlx::query_as(
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
    .fetch_all(&m.core.pool)
    .await?;
    let birth: Option<(NaiveDate,)> = sqlx::query_as(
        "SELECT birth_date FROM medication.receipts WHERE person_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(path.as_str())
    .fetch_optional(&m.core.pool)
    .await?;
    let birth = birth.map(|(b,)| Date::from_naive(b));
    let (mut total, mut saving) = (0i64, 0i64);
    for r in &mut rows {
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
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "person_id": path.as_str(),
        "self_pay_total_yen": total,
        "saving_total_yen": saving,
        "medications": rows,
    })))
}

/// The Web API path of 薬剤情報 retrieval. The reference documents only the qualification search's path, so this
/// one is the simulator's own (next to it, same `Authorization: <idToken>`, same JSON mirroring of the tree).
pub const WEB_API_PATH: &str = "/oqs-api-pro/MSA01030/ILI01030SV01/yzk";

async fn web_api(
    m: web::Data<Arc<Medication>>,
    req: actix_web::HttpRequest,
    body: web::Payload,
) -> HttpResponse {
    let unauthorized = |message: &str| {
        let echo = onshi_wire::msg::HeaderEcho::default();
        HttpResponse::Unauthorized()
            .content_type("application/json; charset=UTF-8")
            .body(yzk_siquc01::write(
                &echo,
                None,
                Err(message),
                OutputForm::Json,
            ))
    };
    let cert = match m.directory.authenticate(&req) {
        Ok(c) => c,
        Err(e) => return unauthorized(&e.outcome.message),
    };
    let token = onshi_platform::http::id_token(&req);
    let facility = token
        .and_then(|t| m.directory.token_facility(&t))
        .filter(|f| cert.as_deref().is_none_or(|c| c == f));
    let Some(facility) = facility else {
        return unauthorized("認証が必要です。（idToken）");
    };
    let bytes = match read_body(body, m.core.config.limits.max_bytes).await {
        Ok(b) => b,
        Err(e) => return unauthorized(&e.to_string()),
    };
    let tree = serde_json::from_slice::<serde_json::Value>(&bytes)
        .map_err(|e| xml::XmlError::Malformed(format!("JSON: {e}")))
        .and_then(|v| xml::from_json(&v))
        .map_err(|e| {
            FileError::new(
                onshi_wire::result_codes::ResultKey::MalformedXml,
                &e.to_string(),
            )
        });
    let out = m
        .respond_yzk(
            tree.as_ref().map_err(Clone::clone),
            Some(&facility),
            Some(()),
        )
        .await;
    let content_type = if out.starts_with(b"%PDF-") {
        "application/pdf"
    } else {
        "application/json; charset=UTF-8"
    };
    HttpResponse::Ok().content_type(content_type).body(out)
}

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
    )
    .route(WEB_API_PATH, web::post().to(web_api));
}
