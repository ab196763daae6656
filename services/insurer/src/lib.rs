//! # onshi-insurer — the insurer registration service (保険者)
//!
//! Insurers register, change and end people's qualifications. Every change is a new version (see
//! [`onshi_platform::versioned`]), so the registry can answer "as of" any past date, and the versions are published on
//! the `insurer.feed_v1` change feed that the eligibility service consumes.
//!
//! | item | what |
//! |---|---|
//! | [`MIGRATIONS`] | `schema/insurer/*.sql` |
//! | [`STORE`] | the versioned qualification table and its plan (register / change / end, effective dates) |
//! | [`parse_registration`] | one JSON registration → validated record (every reason reported) |
//! | [`load_bulk`] | a JSON Lines bulk file, all-or-nothing, idempotent |
//! | [`configure`] | the HTTP API under `/insurer/v1` (documented in `docs/INSURER.md`) |

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use onshi_platform::db::Migrations;
use onshi_platform::feed;
use onshi_platform::http::{parse_json, read_body, ApiError, Core};
use onshi_platform::versioned::{
    self, in_force, Applied, ApplyError, LineError, Mode, Store, Write, Written,
};
use onshi_wire::ids::Date;
use onshi_wire::record::QualificationRecord;

/// The insurer schema's migrations.
pub const MIGRATIONS: Migrations = Migrations {
    schema: "insurer",
    steps: &[(
        "0001_qualifications",
        include_str!("../../../schema/insurer/0001_qualifications.sql"),
    )],
};

/// Largest bulk file accepted over HTTP (the CLI has no limit).
pub const BULK_LIMIT: usize = 256 * 1024 * 1024;
/// Largest single-record body.
pub const RECORD_LIMIT: usize = 64 * 1024;

fn plan(prev: Option<&Value>, new: &Value, today: Date) -> (&'static str, Date) {
    let date = |v: &Value, f: &str| {
        v.get(f)
            .and_then(Value::as_str)
            .and_then(|s| Date::parse(s).ok())
    };
    match prev {
        // A registration describes reality from the qualification date.
        None => ("register", date(new, "qualification_date").unwrap_or(today)),
        Some(p) => match date(new, "disqualification_date") {
            // Ending a qualification takes effect on the loss date (possibly in the past).
            Some(d) if date(p, "disqualification_date") != Some(d) => ("end", d),
            _ => ("change", today),
        },
    }
}

/// The qualification registry.
pub const STORE: Store = Store {
    heads: "insurer.qualification_heads",
    versions: "insurer.qualification_versions",
    feed: feed::INSURER,
    immutable: &["person_id", "insurer_number", "symbol", "number", "branch"],
    plan,
    what: "qualification",
};

/// A registration as submitted: a [`QualificationRecord`] plus an optional `effective_date`.
pub fn parse_registration(
    mut v: Value,
) -> Result<(QualificationRecord, Option<Date>), Vec<String>> {
    let Some(obj) = v.as_object_mut() else {
        return Err(vec!["a registration must be a JSON object".into()]);
    };
    let effective = match obj.remove("effective_date") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            Some(Date::parse(&s).map_err(|e| vec![format!("effective_date: {e}")])?)
        }
        Some(_) => return Err(vec!["effective_date: must be a YYYYMMDD string".into()]),
    };
    let record: QualificationRecord = serde_json::from_value(v).map_err(|e| vec![e.to_string()])?;
    let problems = record.check();
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok((record, effective))
}

fn write_of(
    line: usize,
    record: &QualificationRecord,
    effective: Option<Date>,
    mode: Mode,
) -> Write {
    Write {
        line,
        id: record.individual_number().key(),
        record: serde_json::to_value(record).expect("records serialise"),
        effective_date: effective,
        mode,
    }
}

/// The outcome of a bulk file.
#[derive(Debug, Clone, Serialize)]
pub struct BulkReport {
    /// True when the file was applied (or, in a dry run, would be).
    pub accepted: bool,
    pub dry_run: bool,
    pub records: usize,
    pub created: usize,
    pub changed: usize,
    pub unchanged: usize,
    /// Every refused record with every reason; when non-empty nothing was applied.
    pub errors: Vec<LineError>,
    /// SHA-256 of the file, recorded as the source of the versions it created.
    pub sha256: String,
}

/// Loads a JSON Lines bulk file: one registration per line (blank lines and lines starting with `#` are
/// skipped). The rule is **all-or-nothing**: every line is checked, every bad record is reported with its line
/// number and reasons, and if any is bad nothing is applied. A record equal to the latest version is unchanged,
/// so re-submitting a file changes nothing. One qualification may appear only once per file.
///
/// Versions created are recorded with the source `<label>:<sha256 of the file>`.
pub async fn load_bulk(
    core: &Core,
    bytes: &[u8],
    dry_run: bool,
    label: &str,
) -> anyhow::Result<BulkReport> {
    let sha256 = onshi_platform::sha256_hex(bytes);
    let mut report = BulkReport {
        accepted: false,
        dry_run,
        records: 0,
        created: 0,
        changed: 0,
        unchanged: 0,
        errors: vec![],
        sha256: sha256.clone(),
    };
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            report.errors.push(LineError {
                line: bytes[..e.valid_up_to()]
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count()
                    + 1,
                id: None,
                reasons: vec!["the file is not valid UTF-8".into()],
            });
            return Ok(report);
        }
    };
    let mut writes = Vec::new();
    let mut first_line: std::collections::HashMap<String, usize> = Default::default();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        report.records += 1;
        let parsed = serde_json::from_str::<Value>(trimmed)
            .map_err(|e| vec![format!("invalid JSON: {e}")])
            .and_then(parse_registration);
        match parsed {
            Err(reasons) => report.errors.push(LineError {
                line: line_no,
                id: None,
                reasons,
            }),
            Ok((record, eff)) => {
                let w = write_of(line_no, &record, eff, Mode::Upsert);
                if let Some(first) = first_line.get(&w.id) {
                    report.errors.push(LineError {
                        line: line_no,
                        id: Some(w.id.clone()),
                        reasons: vec![format!(
                            "the same qualification is already on line {first}; one line per qualification"
                        )],
                    });
                    continue;
                }
                first_line.insert(w.id.clone(), line_no);
                writes.push(w);
            }
        }
    }
    if !report.errors.is_empty() {
        return Ok(report);
    }
    if dry_run {
        report.accepted = true;
        return Ok(report);
    }
    match STORE
        .apply(
            &core.pool,
            core.clock.now(),
            writes,
            &format!("{label}:{sha256}"),
        )
        .await
    {
        Ok(applied) => {
            for a in applied {
                match a {
                    Applied::Created { .. } => report.created += 1,
                    Applied::Changed { .. } => report.changed += 1,
                    Applied::Unchanged { .. } => report.unchanged += 1,
                }
            }
            report.accepted = true;
            tracing::info!(
                records = report.records,
                created = report.created,
                changed = report.changed,
                unchanged = report.unchanged,
                "insurer: bulk file applied"
            );
            Ok(report)
        }
        Err(ApplyError::Refused(errors)) => {
            report.errors = errors;
            Ok(report)
        }
        Err(ApplyError::Db(e)) => Err(e.into()),
    }
}

/// Whether a file was already loaded under `label` (some version records `<label>:<sha256 of bytes>`).
pub async fn already_loaded(core: &Core, label: &str, bytes: &[u8]) -> sqlx::Result<bool> {
    let source = format!("{label}:{}", onshi_platform::sha256_hex(bytes));
    let (found,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM insurer.qualification_versions WHERE source = $1)",
    )
    .bind(source)
    .fetch_one(&core.pool)
    .await?;
    Ok(found)
}

async fn apply_one(core: &Core, w: Write) -> Result<(String, Applied), ApiError> {
    let id = w.id.clone();
    match STORE
        .apply(&core.pool, core.clock.now(), vec![w], "api")
        .await
    {
        Ok(mut a) => Ok((id, a.remove(0))),
        Err(e) => Err(e.into()),
    }
}

async fn register(core: web::Data<Core>, body: web::Payload) -> Result<HttpResponse, ApiError> {
    let v: Value = parse_json(&read_body(body, RECORD_LIMIT).await?)?;
    let (record, eff) = parse_registration(v).map_err(|details| ApiError::BadRequest {
        message: "the record was refused".into(),
        details,
    })?;
    let (id, applied) = apply_one(&core, write_of(1, &record, eff, Mode::Create)).await?;
    Ok(HttpResponse::Created().json(Written { id, applied }))
}

async fn latest_version(core: &Core, id: &str) -> Result<versioned::VersionRow, ApiError> {
    STORE
        .versions_of(&core.pool, id)
        .await?
        .pop()
        .ok_or_else(|| ApiError::NotFound(format!("qualification {id} does not exist")))
}

/// Merges `patch` onto the latest record and writes the result as a new version.
async fn patch_record(core: &Core, id: &str, mut patch: Value) -> Result<HttpResponse, ApiError> {
    let latest = latest_version(core, id).await?;
    let effective = patch
        .as_object_mut()
        .and_then(|o| o.remove("effective_date"));
    let mut merged = latest.record.clone();
    versioned::merge_patch(&mut merged, &patch);
    if let Some(e) = effective {
        merged["effective_date"] = e;
    }
    let (record, eff) = parse_registration(merged).map_err(|details| ApiError::BadRequest {
        message: "the changed record was refused".into(),
        details,
    })?;
    let w = write_of(
        1,
        &record,
        eff,
        Mode::Update {
            expected_version: Some(latest.version),
        },
    );
    if w.id != id {
        return Err(ApiError::bad(
            "insurer_number, symbol, number and branch identify the qualification and cannot change",
        ));
    }
    let (id, applied) = apply_one(core, w).await?;
    Ok(HttpResponse::Ok().json(Written { id, applied }))
}

async fn change(
    core: web::Data<Core>,
    path: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let patch: Value = parse_json(&read_body(body, RECORD_LIMIT).await?)?;
    if !patch.is_object() {
        return Err(ApiError::bad(
            "a change must be a JSON object (merge patch)",
        ));
    }
    patch_record(&core, &path, patch).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EndRequest {
    disqualification_date: String,
    loss_reason: String,
    #[serde(default)]
    effective_date: Option<String>,
}

async fn end(
    core: web::Data<Core>,
    path: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let req: EndRequest = parse_json(&read_body(body, RECORD_LIMIT).await?)?;
    let mut patch = serde_json::json!({
        "disqualification_date": req.disqualification_date,
        "loss_reason": req.loss_reason,
    });
    if let Some(e) = req.effective_date {
        patch["effective_date"] = Value::String(e);
    }
    patch_record(&core, &path, patch).await
}

#[derive(Deserialize)]
struct AsOf {
    as_of: Option<String>,
}

async fn get_one(
    core: web::Data<Core>,
    path: web::Path<String>,
    q: web::Query<AsOf>,
) -> Result<HttpResponse, ApiError> {
    let versions = STORE.versions_of(&core.pool, &path).await?;
    if versions.is_empty() {
        return Err(ApiError::NotFound(format!(
            "qualification {path} does not exist"
        )));
    }
    let row = match q.as_of.as_deref() {
        None => versions.last(),
        Some(s) => {
            let on = Date::parse(s).map_err(|e| ApiError::bad(format!("as_of: {e}")))?;
            in_force(&versions, on, |v| {
                (Date::from_naive(v.effective_from), v.seq)
            })
        }
    };
    match row {
        Some(r) => Ok(HttpResponse::Ok().json(r)),
        None => Err(ApiError::NotFound(format!(
            "qualification {path} has no version in force on that date"
        ))),
    }
}

async fn get_versions(
    core: web::Data<Core>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let versions = STORE.versions_of(&core.pool, &path).await?;
    if versions.is_empty() {
        return Err(ApiError::NotFound(format!(
            "qualification {path} does not exist"
        )));
    }
    Ok(HttpResponse::Ok().json(versions))
}

#[derive(Deserialize)]
struct Page {
    after: Option<String>,
    limit: Option<i64>,
}

async fn list(core: web::Data<Core>, q: web::Query<Page>) -> Result<HttpResponse, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let rows = STORE
        .list_latest(&core.pool, q.after.as_deref().unwrap_or(""), limit)
        .await?;
    Ok(HttpResponse::Ok().json(rows))
}

#[derive(Deserialize)]
struct FeedQuery {
    after: Option<i64>,
    limit: Option<i64>,
}

async fn feed_page(
    core: web::Data<Core>,
    q: web::Query<FeedQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = q.limit.unwrap_or(1000).clamp(1, 10_000);
    // Writers are brief; retry the try-lock a few times before answering "busy".
    for _ in 0..50 {
        if let Some(rows) = STORE
            .feed_after(&core.pool, q.after.unwrap_or(0), limit)
            .await?
        {
            return Ok(HttpResponse::Ok().json(rows));
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    Err(ApiError::Conflict("writers are busy; retry".into()))
}

#[derive(Deserialize)]
struct BulkQuery {
    dry_run: Option<bool>,
}

async fn bulk(
    core: web::Data<Core>,
    q: web::Query<BulkQuery>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let bytes = read_body(body, BULK_LIMIT).await?;
    let report = load_bulk(&core, &bytes, q.dry_run.unwrap_or(false), "bulk").await?;
    if report.accepted {
        Ok(HttpResponse::Ok().json(report))
    } else {
        Ok(HttpResponse::UnprocessableEntity().json(serde_json::json!({
            "error": {
                "code": "records_refused",
                "message": format!("{} record(s) refused; nothing was applied", report.errors.len()),
            },
            "report": report,
        })))
    }
}

/// The insurer API under `/insurer/v1` (needs `web::Data<Core>`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/insurer/v1")
            .route("/qualifications", web::post().to(register))
            .route("/qualifications", web::get().to(list))
            .route("/qualifications/{id}", web::get().to(get_one))
            .route("/qualifications/{id}", web::patch().to(change))
            .route("/qualifications/{id}/versions", web::get().to(get_versions))
            .route("/qualifications/{id}/end", web::post().to(end))
            .route("/bulk", web::post().to(bulk))
            .route("/feed", web::get().to(feed_page)),
    );
}
