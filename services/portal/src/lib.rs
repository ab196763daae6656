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
//! | [`Facilities`] | the records of the generic registry API (`onshi_platform::registry_api`) |
//! | [`configure`] | the HTTP API under `/portal/v1` (documented in `docs/PORTAL.md`) |

#[cfg(test)]
mod api_tests;

use actix_web::{web, HttpResponse};
use serde_json::Value;

use onshi_platform::config::limits;
use onshi_platform::credentials::{Credentials, TokenKind};
use onshi_platform::db::Migrations;
use onshi_platform::feed;
use onshi_platform::http::{parse_json, read_body, ApiError, Core};
use onshi_platform::pki::{Ca, Issued, ServerIdentity};
use onshi_platform::registry_api::{self, Checked, Registry};
use onshi_platform::roles::{route, Access, RouteAccess};
use onshi_platform::versioned::{Applied, Mode, Store};
use onshi_wire::ids::{Date, InstitutionCode, InsurerNumber};
use onshi_wire::record::{FacilityRecord, FacilityStatus, TerminalCert};

pub const MIGRATIONS: Migrations = Migrations {
    schema: "portal",
    steps: &[
        (
            "0001_facilities",
            include_str!("../../../schema/portal/0001_facilities.sql"),
        ),
        (
            "0002_ca",
            include_str!("../../../schema/portal/0002_ca.sql"),
        ),
        (
            "0003_no_heads",
            include_str!("../../../schema/portal/0003_no_heads.sql"),
        ),
    ],
};

/// Writes a changed facility as a new version, if it is still at `version`.
async fn save(core: &Core, f: &FacilityRecord, version: i32) -> Result<(), ApiError> {
    registry_api::save::<Facilities>(core, checked(f), version).await?;
    Ok(())
}

/// The simulator's CA of this database (created on first use): it issues the terminals' and the front door's
/// certificates.
pub async fn ca(pool: &sqlx::PgPool) -> anyhow::Result<Ca> {
    onshi_platform::pki::stored_ca(pool, "portal.ca").await
}

/// Issues a client certificate for a terminal of an existing facility (a new facility version lists it).
pub async fn issue_certificate(
    core: &Core,
    code: &str,
    terminal: &str,
    valid_from: Date,
    valid_to: Date,
) -> Result<(Issued, TerminalCert), ApiError> {
    if terminal.is_empty()
        || terminal.len() > 32
        || !terminal
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(ApiError::bad(
            "terminal: 1-32 characters of A-Z a-z 0-9 - _",
        ));
    }
    if valid_to < valid_from {
        return Err(ApiError::bad("the certificate would end before it starts"));
    }
    let row = registry_api::latest::<Facilities>(core, code).await?;
    let mut f: FacilityRecord =
        serde_json::from_value(row.record).map_err(|e| ApiError::Internal(e.into()))?;
    let ca = ca(&core.pool).await?;
    let issued = ca.issue_client(f.code.as_str(), terminal, valid_from, valid_to)?;
    let info = TerminalCert {
        terminal: terminal.to_string(),
        serial: issued.serial.clone(),
        sha256: issued.sha256.clone(),
        not_before: valid_from,
        not_after: valid_to,
        revoked_on: None,
    };
    f.certificates.push(info.clone());
    save(core, &f, row.version).await?;
    tracing::info!(facility = %f.code, terminal, "portal: client certificate issued");
    Ok((issued, info))
}

fn plan(prev: Option<&Value>, _new: &Value, today: Date) -> (&'static str, Date) {
    match prev {
        None => ("register", today),
        Some(_) => ("change", today),
    }
}

/// The facility registry.
pub const STORE: Store = Store {
    table: "portal.facility_versions",
    versions: "portal.facility_versions",
    write: "portal.write_versions",
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

/// A checked facility, ready to be written.
fn checked(f: &FacilityRecord) -> Checked {
    Checked {
        id: f.code.as_str().to_string(),
        record: serde_json::to_value(f).expect("records serialise"),
        effective_date: None,
    }
}

/// The facility registry's records, for the generic registry API.
pub struct Facilities;

impl Registry for Facilities {
    const STORE: Store = STORE;
    const BODY_LIMIT: usize = limits::REGISTRY_RECORD;

    fn path_id(raw: &str) -> Result<String, ApiError> {
        let code = InstitutionCode::parse(raw).map_err(|e| ApiError::bad(e.0))?;
        Ok(code.as_str().to_string())
    }

    fn refuse_fields(body: &Value) -> Result<(), ApiError> {
        if body.get("web_api_secret_sha256").is_some() {
            return Err(ApiError::bad(
                "web_api_secret_sha256 is set by POST /portal/v1/facilities/{code}/web-api-credentials",
            ));
        }
        Ok(())
    }

    fn check(record: Value, effective: Option<Value>) -> Result<Checked, Vec<String>> {
        if effective.is_some() {
            return Err(vec![
                "effective_date: a facility version takes effect when it is recorded".into(),
            ]);
        }
        Ok(checked(&parse_facility(record)?))
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
        writes.push(checked(f).write(i + 1, Mode::Upsert));
    }
    match STORE
        .apply(&core.pool, core.clock.now(), writes, source)
        .await
    {
        Ok(a) => Ok(a),
        Err(e) => Err(e.into()),
    }
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
    let secret = onshi_platform::hex(&raw);
    let patch = serde_json::json!({ "web_api_secret_sha256": onshi_platform::sha256_hex(secret.as_bytes()) });
    registry_api::patch::<Facilities>(&core, &path, patch).await?;
    let code = InstitutionCode::parse(&path).map_err(|e| ApiError::bad(e.0))?;
    Ok(HttpResponse::Created().json(serde_json::json!({
        "MedicalInstitutionCode": code.as_str(),
        "ClientSecret": secret,
        "note": "shown once; send both to the Web API login (docs/WIRE.md)",
    })))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CertRequest {
    terminal: String,
    /// Days of validity from the simulated today (default 365; negative for an already expired certificate).
    valid_days: Option<i64>,
}

async fn post_certificate(
    core: web::Data<Core>,
    path: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let req: CertRequest = parse_json(&read_body(body, limits::REGISTRY_RECORD).await?)?;
    let today = core.clock.today();
    let days = req.valid_days.unwrap_or(365);
    if !(-3650..=3650).contains(&days) {
        return Err(ApiError::bad("valid_days: -3650 to 3650"));
    }
    let (from, to) = if days >= 0 {
        (today, today.add_days(days))
    } else {
        (today.add_days(days - 30), today.add_days(days))
    };
    let (issued, info) = issue_certificate(&core, &path, &req.terminal, from, to).await?;
    let ca = ca(&core.pool).await?;
    Ok(HttpResponse::Created().json(serde_json::json!({
        "certificate": info,
        "cert_pem": issued.cert_pem,
        "key_pem": issued.key_pem,
        "ca_pem": ca.cert_pem,
    })))
}

async fn list_certificates(
    core: web::Data<Core>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = registry_api::latest::<Facilities>(&core, &path).await?;
    let f: FacilityRecord =
        serde_json::from_value(row.record).map_err(|e| ApiError::Internal(e.into()))?;
    Ok(HttpResponse::Ok().json(f.certificates))
}

async fn revoke_certificate(
    core: web::Data<Core>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (code, sha) = path.into_inner();
    let row = registry_api::latest::<Facilities>(&core, &code).await?;
    let mut f: FacilityRecord =
        serde_json::from_value(row.record).map_err(|e| ApiError::Internal(e.into()))?;
    let today = core.clock.today();
    let cert = f
        .certificates
        .iter_mut()
        .find(|c| c.sha256 == sha)
        .ok_or_else(|| ApiError::NotFound(format!("facility {code} has no certificate {sha}")))?;
    if cert.revoked_on.is_some() {
        return Err(ApiError::Conflict(
            "the certificate is already revoked".into(),
        ));
    }
    cert.revoked_on = Some(today);
    let out = cert.clone();
    save(&core, &f, row.version).await?;
    tracing::info!(facility = %f.code, "portal: client certificate revoked");
    Ok(HttpResponse::Ok().json(out))
}

async fn ca_pem(core: web::Data<Core>) -> Result<HttpResponse, ApiError> {
    let ca = ca(&core.pool).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/x-pem-file")
        .body(ca.cert_pem))
}

/// Adoption counts like the seed documents' tables: by type (病院, 医科診療所, 歯科診療所, 薬局, and the kinds added in
/// 2024: 訪問看護ステーション, 施術所) and state.
async fn adoption(core: web::Data<Core>) -> Result<HttpResponse, ApiError> {
    let rows: Vec<(serde_json::Value,)> = sqlx::query_as(
        "SELECT DISTINCT ON (id) record FROM portal.facility_versions ORDER BY id, version DESC",
    )
    .fetch_all(&core.pool)
    .await?;
    let types = [
        "病院",
        "医科診療所",
        "歯科診療所",
        "薬局",
        "訪問看護ステーション",
        "施術所",
    ];
    let mut counts = [[0u64; 5]; 6];
    for (v,) in rows {
        let Ok(f) = serde_json::from_value::<FacilityRecord>(v) else {
            continue;
        };
        let t = match (f.kind(), f.hospital) {
            (onshi_wire::ids::FacilityKind::Medical, true) => 0,
            (onshi_wire::ids::FacilityKind::Medical, false) => 1,
            (onshi_wire::ids::FacilityKind::Dental, _) => 2,
            (onshi_wire::ids::FacilityKind::Pharmacy, _) => 3,
            (onshi_wire::ids::FacilityKind::VisitingNursing, _) => 4,
            (onshi_wire::ids::FacilityKind::Judo | onshi_wire::ids::FacilityKind::Ahaki, _) => 5,
        };
        let s = match f.status {
            FacilityStatus::NotApplied => 0,
            FacilityStatus::Applied => 1,
            FacilityStatus::Ready => 2,
            FacilityStatus::Operational => 3,
            FacilityStatus::Suspended => 4,
        };
        counts[t][s] += 1;
    }
    let table: Vec<_> = types
        .iter()
        .zip(counts)
        .map(|(name, c)| {
            let total: u64 = c.iter().sum();
            let pct = |n: u64| {
                if total == 0 {
                    0.0
                } else {
                    (1000.0 * n as f64 / total as f64).round() / 10.0
                }
            };
            // As in the seed documents, "applied" includes ready and operational, and "ready" includes operational.
            serde_json::json!({
                "type": name, "facilities": total,
                "applied": c[1] + c[2] + c[3], "applied_pct": pct(c[1] + c[2] + c[3]),
                "ready": c[2] + c[3], "ready_pct": pct(c[2] + c[3]),
                "operational": c[3], "operational_pct": pct(c[3]),
                "suspended": c[4],
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(table))
}

/// Who may call the portal API: the operator administers; the CA certificate and the adoption figures are public.
/// The internal route that gives a front door in another process its TLS identity (operator role: it carries a
/// private key).
pub const SERVER_CERTIFICATE: &str = "/internal/v1/portal/server-certificate";

/// The names a front door's server certificate is issued for.
pub const SERVER_NAMES: &[&str] = &["localhost", "127.0.0.1"];

/// A server certificate from this database's CA, for the TLS listener of a front door.
pub async fn server_identity(pool: &sqlx::PgPool) -> anyhow::Result<ServerIdentity> {
    ServerIdentity::issue(&ca(pool).await?, SERVER_NAMES)
}

async fn server_certificate(core: web::Data<Core>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(server_identity(&core.pool).await?))
}

pub fn routes() -> Vec<RouteAccess> {
    let mut r =
        registry_api::record_routes("/portal/v1/facilities", Access::Operator, Access::Operator);
    r.extend([
        route("POST", SERVER_CERTIFICATE, Access::Operator),
        route(
            "POST",
            "/portal/v1/facilities/{code}/web-api-credentials",
            Access::Operator,
        ),
        route(
            "POST",
            "/portal/v1/facilities/{code}/certificates",
            Access::Operator,
        ),
        route(
            "GET",
            "/portal/v1/facilities/{code}/certificates",
            Access::Operator,
        ),
        route(
            "POST",
            "/portal/v1/facilities/{code}/certificates/{sha256}/revoke",
            Access::Operator,
        ),
        route(
            "POST",
            "/portal/v1/insurers/{number}/credentials",
            Access::Operator,
        ),
        route("GET", "/portal/v1/ca.pem", Access::Public),
        route("GET", "/portal/v1/adoption", Access::Public),
        route("GET", "/portal/v1/feed", Access::Operator),
    ]);
    r
}

/// An insurer's credential (`Authorization: Bearer …` on the insurer API), issued to the operator for an insurer.
async fn insurer_credentials(
    credentials: web::Data<Credentials>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let number = InsurerNumber::parse(&path).map_err(|e| ApiError::bad(e.to_string()))?;
    let key = number.xml_form().trim().to_string();
    let token = credentials.issue(TokenKind::Insurer, &key, None);
    tracing::info!("portal: insurer credential issued");
    Ok(HttpResponse::Created().json(serde_json::json!({
        "InsurerNumber": key,
        "credential": token,
        "note": "shown once; send it as Authorization: Bearer <credential> to /insurer/v1",
    })))
}

/// The portal API under `/portal/v1` (needs `web::Data<Core>` and `web::Data<Credentials>`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        registry_api::records::<Facilities>("/portal/v1/facilities")
            .route(
                "/{code}/web-api-credentials",
                web::post().to(issue_credentials),
            )
            .route("/{code}/certificates", web::post().to(post_certificate))
            .route("/{code}/certificates", web::get().to(list_certificates))
            .route(
                "/{code}/certificates/{sha256}/revoke",
                web::post().to(revoke_certificate),
            ),
    )
    .route(
        "/portal/v1/insurers/{number}/credentials",
        web::post().to(insurer_credentials),
    )
    .route("/portal/v1/ca.pem", web::get().to(ca_pem))
    .route(SERVER_CERTIFICATE, web::post().to(server_certificate))
    .route("/portal/v1/adoption", web::get().to(adoption));
    registry_api::feed::<Facilities>(cfg, "/portal/v1/feed");
}
