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
//! | [`Qualifications`] | the records of the generic registry API (`onshi_platform::registry_api`) |
//! | [`configure`] | the HTTP API under `/insurer/v1` (documented in `docs/INSURER.md`) |

#[cfg(test)]
mod api_tests;

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use onshi_platform::config::limits;
use onshi_platform::db::Migrations;
use onshi_platform::feed;
use onshi_platform::http::{parse_json, read_body, ApiError, Core};
use onshi_platform::registry_api::{self, Checked, Registry};
use onshi_platform::roles::{route, Access, Caller, RouteAccess};
use onshi_platform::versioned::{Applied, ApplyError, LineError, Mode, Store, Write};
use onshi_wire::ids::Date;
use onshi_wire::record::QualificationRecord;

/// The insurer schema's migrations.
pub const MIGRATIONS: Migrations = Migrations {
    schema: "insurer",
    steps: &[
        (
            "0001_qualifications",
            include_str!("../../../schema/insurer/0001_qualifications.sql"),
        ),
        (
            "0002_lean_versions",
            include_str!("../../../schema/insurer/0002_lean_versions.sql"),
        ),
        (
            "0003_loaded_files_index",
            include_str!("../../../schema/insurer/0003_loaded_files_index.sql"),
        ),
    ],
};

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
    table: "insurer.qualification_rows",
    versions: "insurer.qualification_versions",
    write: "insurer.write_versions",
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

/// A checked registration, ready to be written.
fn checked(record: &QualificationRecord, effective: Option<Date>) -> Checked {
    Checked {
        id: record.individual_number().key(),
        record: serde_json::to_value(record).expect("records serialise"),
        effective_date: effective,
    }
}

/// The qualification registry's records, for the generic registry API.
pub struct Qualifications;

impl Registry for Qualifications {
    const STORE: Store = STORE;
    const BODY_LIMIT: usize = limits::REGISTRY_RECORD;

    fn owner(id: &str) -> Option<&str> {
        id.split(':').next()
    }

    fn check(mut record: Value, effective: Option<Value>) -> Result<Checked, Vec<String>> {
        if let (Some(e), Some(o)) = (effective, record.as_object_mut()) {
            o.insert("effective_date".into(), e);
        }
        let (record, effective) = parse_registration(record)?;
        Ok(checked(&record, effective))
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
    /// Refused records with every reason (the first [`MAX_ERRORS_SHOWN`]); when any, nothing was applied.
    pub errors: Vec<LineError>,
    /// How many records were refused in all.
    pub errors_total: usize,
    /// SHA-256 of the file, recorded as the source of the versions it created.
    pub sha256: String,
}

/// Refused records listed in a report (the count covers them all).
pub const MAX_ERRORS_SHOWN: usize = 1_000;

/// Records applied per step of a bulk file (one transaction for the whole file, memory that of a chunk).
const CHUNK: usize = 2_000;

/// How many times a bulk file is read again when a concurrent writer created the same qualifications first.
const TRIES: usize = 3;

impl BulkReport {
    fn refuse(&mut self, e: LineError) {
        self.errors_total += 1;
        if self.errors.len() < MAX_ERRORS_SHOWN {
            self.errors.push(e);
        }
    }
}

/// Where a bulk file's lines come from; read once per try.
pub enum BulkSource<'a> {
    Bytes(&'a [u8]),
    File(&'a std::path::Path),
}

impl BulkSource<'_> {
    async fn open(&self) -> std::io::Result<Box<dyn tokio::io::AsyncBufRead + Unpin + Send + '_>> {
        Ok(match self {
            BulkSource::Bytes(b) => Box::new(*b),
            BulkSource::File(p) => {
                Box::new(tokio::io::BufReader::new(tokio::fs::File::open(p).await?))
            }
        })
    }
}

/// Loads a JSON Lines bulk file held in memory (demo data, tests); see [`load_bulk_from`].
pub async fn load_bulk(
    core: &Core,
    bytes: &[u8],
    dry_run: bool,
    label: &str,
    owner: Option<&str>,
) -> anyhow::Result<BulkReport> {
    let sha256 = onshi_platform::sha256_hex(bytes);
    load_bulk_from(
        core,
        BulkSource::Bytes(bytes),
        &sha256,
        dry_run,
        label,
        owner,
    )
    .await
}

/// Loads a JSON Lines bulk file: one registration per line (blank lines and lines starting with `#` are
/// skipped). The rule is **all-or-nothing**: every line is checked, every bad record is reported with its line
/// number and reasons, and if any is bad nothing is applied. A record equal to the latest version is unchanged,
/// so re-submitting a file changes nothing. One qualification may appear only once per file.
///
/// The file is read line by line and applied chunk by chunk inside one transaction, so memory does not grow with
/// the file. Versions created are recorded with the source `<label>:<sha256 of the file>`.
///
/// `owner`: the insurer whose credential sent the file (its lines may only be its own qualifications).
pub async fn load_bulk_from(
    core: &Core,
    source: BulkSource<'_>,
    sha256: &str,
    dry_run: bool,
    label: &str,
    owner: Option<&str>,
) -> anyhow::Result<BulkReport> {
    for _ in 1..TRIES {
        if let Some(report) = load_once(core, &source, sha256, dry_run, label, owner).await? {
            return Ok(report);
        }
        tracing::debug!(
            "insurer: a concurrent writer created the same qualifications; reading the file again"
        );
    }
    match load_once(core, &source, sha256, dry_run, label, owner).await? {
        Some(report) => Ok(report),
        None => anyhow::bail!("the qualifications changed concurrently; retry"),
    }
}

/// One pass over the file; `None` when a concurrent writer got there first (try again).
async fn load_once(
    core: &Core,
    source: &BulkSource<'_>,
    sha256: &str,
    dry_run: bool,
    label: &str,
    owner: Option<&str>,
) -> anyhow::Result<Option<BulkReport>> {
    use tokio::io::AsyncBufReadExt;
    let mut report = BulkReport {
        accepted: false,
        dry_run,
        records: 0,
        created: 0,
        changed: 0,
        unchanged: 0,
        errors: vec![],
        errors_total: 0,
        sha256: sha256.to_string(),
    };
    let src = format!("{label}:{sha256}");
    let now = core.clock.now();
    let mut tx = match dry_run {
        true => None,
        false => Some(STORE.begin(&core.pool).await?),
    };
    let mut lines = source.open().await?.lines();
    let mut chunk: Vec<Write> = Vec::with_capacity(CHUNK);
    let mut first_line: std::collections::HashMap<String, usize> = Default::default();
    let mut line_no = 0;
    loop {
        let line = match lines.next_line().await {
            Ok(Some(l)) => l,
            Ok(None) => break,
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                report.refuse(LineError {
                    line: line_no + 1,
                    id: None,
                    reasons: vec!["the file is not valid UTF-8".into()],
                });
                break;
            }
            Err(e) => return Err(e.into()),
        };
        line_no += 1;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        report.records += 1;
        let parsed = serde_json::from_str::<Value>(trimmed)
            .map_err(|e| vec![format!("invalid JSON: {e}")])
            .and_then(parse_registration);
        let (record, eff) = match parsed {
            Ok(p) => p,
            Err(reasons) => {
                report.refuse(LineError {
                    line: line_no,
                    id: None,
                    reasons,
                });
                continue;
            }
        };
        let w = checked(&record, eff).write(line_no, Mode::Upsert);
        let refusal = if owner.is_some_and(|o| Qualifications::owner(&w.id) != Some(o)) {
            Some("not a qualification of this insurer".to_string())
        } else {
            first_line.get(&w.id).map(|first| {
                format!(
                    "the same qualification is already on line {first}; one line per qualification"
                )
            })
        };
        if let Some(reason) = refusal {
            report.refuse(LineError {
                line: line_no,
                id: Some(w.id.clone()),
                reasons: vec![reason],
            });
            continue;
        }
        first_line.insert(w.id.clone(), line_no);
        chunk.push(w);
        if chunk.len() >= CHUNK && !apply_chunk(&mut tx, &mut chunk, &mut report, now, &src).await?
        {
            return Ok(None);
        }
    }
    if !apply_chunk(&mut tx, &mut chunk, &mut report, now, &src).await? {
        return Ok(None);
    }
    if report.errors_total > 0 {
        // The transaction is dropped unfinished: nothing of the file is applied.
        return Ok(Some(report));
    }
    if let Some(tx) = tx {
        tx.commit().await?;
        tracing::info!(
            records = report.records,
            created = report.created,
            changed = report.changed,
            unchanged = report.unchanged,
            "insurer: bulk file applied"
        );
    }
    report.accepted = true;
    Ok(Some(report))
}

/// Applies a chunk unless the file already has refused records (or this is a dry run), then empties it;
/// `false` when a concurrent writer created the same qualifications first.
async fn apply_chunk(
    tx: &mut Option<sqlx::Transaction<'static, sqlx::Postgres>>,
    chunk: &mut Vec<Write>,
    report: &mut BulkReport,
    now: chrono::NaiveDateTime,
    source: &str,
) -> anyhow::Result<bool> {
    let writes = std::mem::take(chunk);
    let Some(tx) = tx.as_mut().filter(|_| report.errors_total == 0) else {
        return Ok(true);
    };
    match STORE.apply_in(tx, now, writes, source).await {
        Ok(applied) => {
            for a in applied {
                match a {
                    Applied::Created { .. } => report.created += 1,
                    Applied::Changed { .. } => report.changed += 1,
                    Applied::Unchanged { .. } => report.unchanged += 1,
                }
            }
            Ok(true)
        }
        Err(ApplyError::Refused(errors)) => {
            for e in errors {
                report.refuse(e);
            }
            Ok(true)
        }
        Err(ApplyError::Db(e)) if onshi_platform::versioned::is_unique_violation(&e) => Ok(false),
        Err(ApplyError::Db(e)) => Err(e.into()),
    }
}

/// Whether a file was already loaded under `label` (some version records `<label>:<sha256 of bytes>`).
pub async fn already_loaded(core: &Core, label: &str, bytes: &[u8]) -> sqlx::Result<bool> {
    let source = format!("{label}:{}", onshi_platform::sha256_hex(bytes));
    let (found,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM insurer.qualification_rows \
         WHERE source = $1 AND source NOT LIKE 'seed:%')",
    )
    .bind(source)
    .fetch_one(&core.pool)
    .await?;
    Ok(found)
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
    http: actix_web::HttpRequest,
    path: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    registry_api::check_owner::<Qualifications>(&http, &path)?;
    let req: EndRequest = parse_json(&read_body(body, limits::REGISTRY_RECORD).await?)?;
    let mut patch = serde_json::json!({
        "disqualification_date": req.disqualification_date,
        "loss_reason": req.loss_reason,
    });
    if let Some(e) = req.effective_date {
        patch["effective_date"] = Value::String(e);
    }
    let written = registry_api::patch::<Qualifications>(&core, &path, patch).await?;
    Ok(HttpResponse::Ok().json(written))
}

#[derive(Deserialize)]
struct BulkQuery {
    dry_run: Option<bool>,
}

async fn bulk(
    core: web::Data<Core>,
    http: actix_web::HttpRequest,
    q: web::Query<BulkQuery>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    use actix_web::HttpMessage;
    let owner = match http.extensions().get::<Caller>() {
        Some(Caller::Insurer(n)) => Some(n.clone()),
        _ => None,
    };
    // The file goes to disk as it arrives, then is read line by line: memory does not grow with its size.
    let spooled = onshi_platform::http::spool_body(body, limits::INSURER_BULK).await?;
    let dry_run = q.dry_run.unwrap_or(false);
    let source = BulkSource::File(spooled.file.path());
    let report = load_bulk_from(
        &core,
        source,
        &spooled.sha256,
        dry_run,
        "bulk",
        owner.as_deref(),
    )
    .await?;
    if report.accepted {
        Ok(HttpResponse::Ok().json(report))
    } else {
        Ok(HttpResponse::UnprocessableEntity().json(serde_json::json!({
            "error": {
                "code": "records_refused",
                "message": format!("{} record(s) refused; nothing was applied", report.errors_total),
            },
            "report": report,
        })))
    }
}

/// Who may call the insurer API: an insurer (or the operator) registers and reads; only the operator lists every
/// record and reads the whole feed.
pub fn routes() -> Vec<RouteAccess> {
    let mut r = registry_api::record_routes(
        "/insurer/v1/qualifications",
        Access::Insurer,
        Access::Operator,
    );
    r.extend([
        route(
            "POST",
            "/insurer/v1/qualifications/{id}/end",
            Access::Insurer,
        ),
        route("POST", "/insurer/v1/bulk", Access::Insurer),
        route("GET", "/insurer/v1/feed", Access::Operator),
    ]);
    r
}

/// The insurer API under `/insurer/v1` (needs `web::Data<Core>`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        registry_api::records::<Qualifications>("/insurer/v1/qualifications")
            .route("/{id}/end", web::post().to(end)),
    )
    .route("/insurer/v1/bulk", web::post().to(bulk));
    registry_api::feed::<Qualifications>(cfg, "/insurer/v1/feed");
}
