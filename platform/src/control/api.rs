//! The controls' HTTP API (operator role; `docs/CONTROLS.md`): forced outcomes, fault rules, the magic-value
//! table and the request journal.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};

use super::faults::FaultSpec;
use super::journal::Query;
use super::{Controls, ForcedSpec};
use crate::config::limits;
use crate::http::{parse_json, read_body, ApiError, Core};
use crate::roles::{route, Access, RouteAccess};

/// Who may call the controls' routes.
pub const ROUTES: &[RouteAccess] = &[
    route("GET", "/admin/v1/forced", Access::Operator),
    route("POST", "/admin/v1/forced", Access::Operator),
    route("DELETE", "/admin/v1/forced", Access::Operator),
    route("DELETE", "/admin/v1/forced/{id}", Access::Operator),
    route("GET", "/admin/v1/faults", Access::Operator),
    route("POST", "/admin/v1/faults", Access::Operator),
    route("DELETE", "/admin/v1/faults", Access::Operator),
    route("PUT", "/admin/v1/faults/{id}", Access::Operator),
    route("DELETE", "/admin/v1/faults/{id}", Access::Operator),
    route("GET", "/admin/v1/magic", Access::Public),
    route("GET", "/admin/v1/journal", Access::Operator),
    route("DELETE", "/admin/v1/journal", Access::Operator),
    route("GET", "/admin/v1/journal/{id}", Access::Operator),
    route("GET", "/admin/v1/journal/{id}/{part}", Access::Operator),
];

/// The routes (needs `web::Data<Controls>` and `web::Data<Core>` in the app).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/v1/forced", web::get().to(list_forced))
        .route("/admin/v1/forced", web::post().to(add_forced))
        .route("/admin/v1/forced", web::delete().to(clear_forced))
        .route("/admin/v1/forced/{id}", web::delete().to(remove_forced))
        .route("/admin/v1/faults", web::get().to(list_faults))
        .route("/admin/v1/faults", web::post().to(add_fault))
        .route("/admin/v1/faults", web::delete().to(clear_faults))
        .route("/admin/v1/faults/{id}", web::put().to(change_fault))
        .route("/admin/v1/faults/{id}", web::delete().to(remove_fault))
        .route("/admin/v1/magic", web::get().to(magic))
        .route("/admin/v1/journal", web::get().to(journal))
        .route("/admin/v1/journal", web::delete().to(clear_journal))
        .route("/admin/v1/journal/{id}", web::get().to(journal_entry))
        .route("/admin/v1/journal/{id}/{part}", web::get().to(journal_body));
}

fn id_of(raw: &str) -> Result<i64, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::bad(format!("{raw:?} is not a rule id")))
}

async fn list_forced(core: web::Data<Core>) -> Result<HttpResponse, ApiError> {
    let rules = super::stored(&core.pool).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"forced": rules.forced})))
}

async fn add_forced(
    core: web::Data<Core>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(payload, limits::CONTROL_CALL).await?;
    let spec: ForcedSpec = parse_json(&body)?;
    let rule = super::add_forced(&core.pool, spec).await?;
    tracing::info!(rule = rule.id, "controls: forced rule added");
    Ok(HttpResponse::Created().json(rule))
}

async fn clear_forced(core: web::Data<Core>) -> Result<HttpResponse, ApiError> {
    let n = super::remove_forced(&core.pool, None).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"removed": n})))
}

async fn remove_forced(
    core: web::Data<Core>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    match super::remove_forced(&core.pool, Some(id_of(&id)?)).await? {
        0 => Err(ApiError::NotFound(format!("no forced rule {id}"))),
        n => Ok(HttpResponse::Ok().json(serde_json::json!({"removed": n}))),
    }
}

async fn list_faults(core: web::Data<Core>) -> Result<HttpResponse, ApiError> {
    let rules = super::stored(&core.pool).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"faults": rules.faults})))
}

async fn add_fault(core: web::Data<Core>, payload: web::Payload) -> Result<HttpResponse, ApiError> {
    let body = read_body(payload, limits::CONTROL_CALL).await?;
    let spec: FaultSpec = parse_json(&body)?;
    let rule = super::put_fault(&core.pool, None, spec)
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("the rule was not stored")))?;
    tracing::info!(
        rule = rule.id,
        action = rule.action.label(),
        "controls: fault rule added"
    );
    Ok(HttpResponse::Created().json(rule))
}

async fn change_fault(
    core: web::Data<Core>,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let id = id_of(&id)?;
    let body = read_body(payload, limits::CONTROL_CALL).await?;
    let spec: FaultSpec = parse_json(&body)?;
    match super::put_fault(&core.pool, Some(id), spec).await? {
        Some(rule) => Ok(HttpResponse::Ok().json(rule)),
        None => Err(ApiError::NotFound(format!("no fault rule {id}"))),
    }
}

async fn clear_faults(core: web::Data<Core>) -> Result<HttpResponse, ApiError> {
    let n = super::remove_fault(&core.pool, None).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"removed": n})))
}

async fn remove_fault(
    core: web::Data<Core>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    match super::remove_fault(&core.pool, Some(id_of(&id)?)).await? {
        0 => Err(ApiError::NotFound(format!("no fault rule {id}"))),
        n => Ok(HttpResponse::Ok().json(serde_json::json!({"removed": n}))),
    }
}

async fn magic() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "prefix": super::forced::MAGIC_PREFIX,
        "element": "ArbitraryFileIdentifier",
        "values": super::forced::magic_table(),
    }))
}

async fn journal(
    controls: web::Data<Arc<Controls>>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let q = web::Query::<Query>::from_query(req.query_string())
        .map_err(|e| ApiError::bad(format!("query: {e}")))?;
    let entries = controls.journal.query(&q).map_err(ApiError::bad)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "mode": format!("{:?}", controls.journal.mode()).to_lowercase(),
        "entries": entries,
    })))
}

async fn clear_journal(controls: web::Data<Arc<Controls>>) -> HttpResponse {
    controls.journal.clear();
    HttpResponse::NoContent().finish()
}

fn entry_of(controls: &Controls, raw: &str) -> Result<super::journal::Full, ApiError> {
    let id: u64 = raw
        .parse()
        .map_err(|_| ApiError::bad(format!("{raw:?} is not a journal id")))?;
    controls
        .journal
        .get(id)
        .ok_or_else(|| ApiError::NotFound(format!("journal entry {id} is not (or no longer) kept")))
}

/// One entry with its bodies as text (UTF-8 or Shift_JIS, as the XML declares; Base64 for a PDF or ZIP answer).
async fn journal_entry(
    controls: web::Data<Arc<Controls>>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let e = entry_of(&controls, &id)?;
    let text = |b: &Option<Vec<u8>>| b.as_deref().map(body_text);
    let mut v = serde_json::to_value(&e.entry).map_err(|e| ApiError::Internal(e.into()))?;
    v["request"] = serde_json::json!(text(&e.request));
    v["answer"] = serde_json::json!(text(&e.answer));
    Ok(HttpResponse::Ok().json(v))
}

/// A body as text: decoded from the encoding its XML declaration names, else marked binary.
fn body_text(b: &[u8]) -> serde_json::Value {
    match onshi_wire::xml::decode(b) {
        Ok((t, _)) => serde_json::json!({"text": t}),
        Err(_) => serde_json::json!({"binary_bytes": b.len()}),
    }
}

/// `…/request` or `…/answer`: the bytes as they were sent.
async fn journal_body(
    controls: web::Data<Arc<Controls>>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, part) = path.into_inner();
    let e = entry_of(&controls, &id)?;
    let body = match part.as_str() {
        "request" => &e.request,
        "answer" => &e.answer,
        _ => return Err(ApiError::NotFound(format!("{part:?}: request or answer"))),
    };
    let body = body
        .clone()
        .ok_or_else(|| ApiError::NotFound("bodies are kept in sandbox mode only".to_string()))?;
    let content_type = if body.starts_with(b"%PDF-") {
        "application/pdf"
    } else if body.starts_with(b"PK\x03\x04") {
        "application/zip"
    } else if body.starts_with(b"{") || body.starts_with(b"[") {
        "application/json"
    } else {
        "application/xml"
    };
    Ok(HttpResponse::Ok().content_type(content_type).body(body))
}
