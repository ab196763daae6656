//! # onshi-portal — the facility portal
//!
//! Registers facilities (医療機関コード with check digit, name, adoption status applied → ready → operational with
//! dates), issues Web API credentials, and publishes every version on the `portal.feed_v1` change feed, from
//! which the eligibility service learns which facilities may query.
//!
//! | item | what |
//! |---|---|
//! | [`MIGRATIONS`] | `schema/portal/*.sql` |
//! | [`STORE`] | the versioned facility table |
//! | [`register_facilities`] | idempotent registration of many facilities (demo data, seeds) |
//! | [`configure`] | the HTTP API under `/portal/v1` (documented in `docs/PORTAL.md`) |

use actix_web::{web, HttpResponse};
use serde::Serialize;
use serde_json::Value;

use onshi_core::db::Migrations;
use onshi_core::feed;
use onshi_core::http::{parse_json, read_body, ApiError, Core};
use onshi_core::ids::{Date, InstitutionCode};
use onshi_core::record::FacilityRecord;
use onshi_core::versioned::{self, Applied, Mode, Store, Write};

pub const MIGRATIONS: Migrations = Migrations {
    schema: "portal",
    steps: &[(
        "0001_facilities",
        include_str!("../../../schema/portal/0001_facilities.sql"),
    )],
};

const BODY_LIMIT: usize = 64 * 1024;

fn plan(prev: Option<&Value>, _new: &Value, today: Date) -> (&'static str, Date) {
    match prev {
        None => ("register", today),
        Some(_) => ("change", today),
    }
}

/// The facility registry.
pub const STORE: Store = Store {
    heads: "portal.facility_heads",
    versions: "portal.facility_versions",
    feed: feed::PORTAL,
    immutable: &["code"],
    plan,
    what: "facility",
};

fn parse_facility(v: Value) -> Result<FacilityRecord, Vec<String>> {
    let f: FacilityRecord = serde_json::from_value(v).map_err(|e| vec![e.to_string()])?;
    let problems = f.check();
    if problems.is_empty() {
        Ok(f)
    } else {
        Err(problems)
    }
}

fn write_of(line: usize, f: &FacilityRecord, mode: Mode) -> Write {
    Write {
        line,
        id: f.code.as_str().to_string(),
        record: serde_json::to_value(f).expect("records serialise"),
        effective_date: None,
        mode,
    }
}

/// Registers or updates many facilities at once (all-or-nothing; unchanged records stay unchanged).
pub async fn register_facilities(
    core: &Core,
    facilities: &[FacilityRecord],
    source: &str,
) -> Result<Vec<Applied>, ApiError> {
    let mut writes = Vec::with_capacity(facilities.len());
    for (i, f) in facilities.iter().enumerate() {
        let problems = f.check();
        if !problems.is_empty() {
            return Err(ApiError::BadRequest {
                message: format!("facility {} was refused", f.code),
                details: problems,
            });
        }
        writes.push(write_of(i + 1, f, Mode::Upsert));
    }
    match STORE
        .apply(&core.pool, core.clock.now(), writes, source)
        .await
    {
        Ok(a) => Ok(a),
        Err(e) => Err(e.into()),
    }
}

#[derive(Serialize)]
struct WriteResponse {
    id: String,
    #[serde(flatten)]
    applied: Applied,
}

async fn apply_one(core: &Core, w: Write) -> Result<HttpResponse, ApiError> {
    let id = w.id.clone();
    let created = matches!(w.mode, Mode::Create);
    match STORE
        .apply(&core.pool, core.clock.now(), vec![w], "api")
        .await
    {
        Ok(mut a) => {
            let body = WriteResponse {
                id,
                applied: a.remove(0),
            };
            Ok(if created {
                HttpResponse::Created().json(body)
            } else {
                HttpResponse::Ok().json(body)
            })
        }
        Err(e) => Err(e.into()),
    }
}

async fn register(core: web::Data<Core>, body: web::Payload) -> Result<HttpResponse, ApiError> {
    let v: Value = parse_json(&read_body(body, BODY_LIMIT).await?)?;
    if v.get("web_api_secret_sha256").is_some() {
        return Err(ApiError::bad(
            "web_api_secret_sha256 is set by POST /portal/v1/facilities/{code}/web-api-credentials",
        ));
    }
    let f = parse_facility(v).map_err(|details| ApiError::BadRequest {
        message: "the facility was refused".into(),
        details,
    })?;
    apply_one(&core, write_of(1, &f, Mode::Create)).await
}

async fn latest(core: &Core, code: &str) -> Result<versioned::VersionRow, ApiError> {
    let code = InstitutionCode::parse(code).map_err(|e| ApiError::bad(e.0))?;
    STORE
        .versions_of(&core.pool, code.as_str())
        .await?
        .pop()
        .ok_or_else(|| ApiError::NotFound(format!("facility {code} does not exist")))
}

async fn patch_facility(core: &Core, code: &str, patch: &Value) -> Result<HttpResponse, ApiError> {
    let row = latest(core, code).await?;
    let mut merged = row.record.clone();
    versioned::merge_patch(&mut merged, patch);
    let f = parse_facility(merged).map_err(|details| ApiError::BadRequest {
        message: "the changed facility was refused".into(),
        details,
    })?;
    apply_one(
        core,
        write_of(
            1,
            &f,
            Mode::Update {
                expected_version: Some(row.version),
            },
        ),
    )
    .await
}

async fn change(
    core: web::Data<Core>,
    path: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let patch: Value = parse_json(&read_body(body, BODY_LIMIT).await?)?;
    if !patch.is_object() {
        return Err(ApiError::bad(
            "a change must be a JSON object (merge patch)",
        ));
    }
    if patch.get("web_api_secret_sha256").is_some() {
        return Err(ApiError::bad(
            "web_api_secret_sha256 is set by the web-api-credentials endpoint",
        ));
    }
    patch_facility(&core, &path, &patch).await
}

async fn issue_credentials(
    core: web::Data<Core>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    use ring::rand::SecureRandom;
    let mut raw = [0u8; 24];
    ring::rand::SystemRandom::new()
        .fill(&mut raw)
        .map_err(|_| ApiError::Internal(anyhow::anyhow!("no randomness")))?;
    let secret: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let patch =
        serde_json::json!({ "web_api_secret_sha256": onshi_core::sha256_hex(secret.as_bytes()) });
    patch_facility(&core, &path, &patch).await?;
    let code = InstitutionCode::parse(&path).map_err(|e| ApiError::bad(e.0))?;
    Ok(HttpResponse::Created().json(serde_json::json!({
        "MedicalInstitutionCode": code.as_str(),
        "ClientSecret": secret,
        "note": "shown once; send both to the Web API login (docs/WIRE.md)",
    })))
}

async fn get_one(core: web::Data<Core>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(latest(&core, &path).await?))
}

#[derive(serde::Deserialize)]
struct Page {
    after: Option<String>,
    limit: Option<i64>,
}

async fn list(core: web::Data<Core>, q: web::Query<Page>) -> Result<HttpResponse, ApiError> {
    let rows = STORE
        .list_latest(
            &core.pool,
            q.after.as_deref().unwrap_or(""),
            q.limit.unwrap_or(100).clamp(1, 1000),
        )
        .await?;
    Ok(HttpResponse::Ok().json(rows))
}

/// The portal API under `/portal/v1` (needs `web::Data<Core>`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/portal/v1")
            .route("/facilities", web::post().to(register))
            .route("/facilities", web::get().to(list))
            .route("/facilities/{code}", web::get().to(get_one))
            .route("/facilities/{code}", web::patch().to(change))
            .route(
                "/facilities/{code}/web-api-credentials",
                web::post().to(issue_credentials),
            ),
    );
}
