//! The HTTP API of a versioned registry ([`crate::versioned`]), written once for every registry (the insurer's
//! qualifications, the portal's facilities). A registry says what its records are through [`Registry`]; this
//! module gives it:
//!
//! | route (under the registry's base path) | what |
//! |---|---|
//! | `POST ""` | create a record (201; 409 if it exists) |
//! | `GET ""` | the latest version of every record, paged by id (`after`, `limit`) |
//! | `GET "/{id}"` | the latest version, or the one in force on `as_of` (`YYYYMMDD`) |
//! | `PATCH "/{id}"` | a JSON merge patch onto the latest version → a new version (optimistic concurrency) |
//! | `GET "/{id}/versions"` | every version, oldest first |
//!
//! and [`feed`], the registry's change feed as JSON pages (`after`, `limit`).

use serde::Deserialize;
use serde_json::Value;

use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};

use crate::http::{parse_json, read_body, ApiError, Core};
use crate::roles::{Access, Caller, RouteAccess};
use crate::versioned::{self, in_force, Applied, Mode, Store, VersionRow, Write, Written};
use onshi_wire::ids::Date;

/// A record checked for writing.
#[derive(Debug, Clone)]
pub struct Checked {
    pub id: String,
    /// The complete record as JSON.
    pub record: Value,
    /// An explicit effective date (otherwise the store's plan decides).
    pub effective_date: Option<Date>,
}

impl Checked {
    pub fn write(self, line: usize, mode: Mode) -> Write {
        Write {
            line,
            id: self.id,
            record: self.record,
            effective_date: self.effective_date,
            mode,
        }
    }
}

/// What one registry's records are.
pub trait Registry: 'static {
    /// The versioned table.
    const STORE: Store;
    /// Largest JSON body of one record or patch.
    const BODY_LIMIT: usize;

    /// The id named by a path, checked (e.g. a 医療機関コード's check digit).
    fn path_id(raw: &str) -> Result<String, ApiError> {
        Ok(raw.to_string())
    }

    /// Refuses a client's body (create or change) that sets what only another endpoint may set.
    fn refuse_fields(_body: &Value) -> Result<(), ApiError> {
        Ok(())
    }

    /// The insurer a record belongs to, by its id (an insurer credential reaches only its own records).
    fn owner(_id: &str) -> Option<&str> {
        None
    }

    /// Checks a whole record (submitted, or the latest version with a patch merged in) with the `effective_date`
    /// given beside it; every reason is reported.
    fn check(record: Value, effective_date: Option<Value>) -> Result<Checked, Vec<String>>;
}

/// Refuses an insurer's credential for a record of another insurer (the operator and, in the sandbox, anyone may).
pub fn check_owner<R: Registry>(req: &HttpRequest, id: &str) -> Result<(), ApiError> {
    let caller = req.extensions().get::<Caller>().cloned();
    match (caller, R::owner(id)) {
        (Some(Caller::Insurer(me)), Some(owner)) if me != owner => Err(ApiError::Forbidden(
            format!("insurer {me} may only reach its own {}s", R::STORE.what),
        )),
        _ => Ok(()),
    }
}

fn refused(message: &str, details: Vec<String>) -> ApiError {
    ApiError::BadRequest {
        message: message.into(),
        details,
    }
}

/// Applies one write made through the API.
async fn apply_one(core: &Core, store: &Store, w: Write) -> Result<Written, ApiError> {
    let id = w.id.clone();
    let mut applied = store
        .apply(&core.pool, core.clock.now(), vec![w], "api")
        .await?;
    Ok(Written {
        id,
        applied: applied.remove(0),
    })
}

/// The latest version of `id`, or 404.
pub async fn latest<R: Registry>(core: &Core, id: &str) -> Result<VersionRow, ApiError> {
    let id = R::path_id(id)?;
    R::STORE
        .versions_of(&core.pool, &id)
        .await?
        .pop()
        .ok_or_else(|| ApiError::NotFound(format!("{} {id} does not exist", R::STORE.what)))
}

/// Merges `patch` onto the latest version of `id` and writes the result as a new version, if nobody changed it
/// meanwhile. An `effective_date` in the patch dates the version instead of being merged.
pub async fn patch<R: Registry>(
    core: &Core,
    id: &str,
    mut patch: Value,
) -> Result<Written, ApiError> {
    if !patch.is_object() {
        return Err(ApiError::bad(
            "a change must be a JSON object (merge patch)",
        ));
    }
    let row = latest::<R>(core, id).await?;
    let effective = patch
        .as_object_mut()
        .and_then(|o| o.remove("effective_date"));
    let mut merged = row.record.clone();
    versioned::merge_patch(&mut merged, &patch);
    let checked = R::check(merged, effective).map_err(|details| {
        refused(
            &format!("the changed {} was refused", R::STORE.what),
            details,
        )
    })?;
    if checked.id != row.id {
        return Err(ApiError::bad(format!(
            "{} identify the {} and cannot change",
            R::STORE.immutable.join(", "),
            R::STORE.what
        )));
    }
    let mode = Mode::Update {
        expected_version: Some(row.version),
    };
    apply_one(core, &R::STORE, checked.write(1, mode)).await
}

/// Writes a changed record as a new version, if the latest version is still `version`.
pub async fn save<R: Registry>(
    core: &Core,
    checked: Checked,
    version: i32,
) -> Result<Applied, ApiError> {
    let mode = Mode::Update {
        expected_version: Some(version),
    };
    Ok(apply_one(core, &R::STORE, checked.write(1, mode))
        .await?
        .applied)
}

async fn create<R: Registry>(
    core: web::Data<Core>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut v: Value = parse_json(&read_body(body, R::BODY_LIMIT).await?)?;
    R::refuse_fields(&v)?;
    let effective = v.as_object_mut().and_then(|o| o.remove("effective_date"));
    let checked = R::check(v, effective)
        .map_err(|details| refused(&format!("the {} was refused", R::STORE.what), details))?;
    check_owner::<R>(&req, &checked.id)?;
    let written = apply_one(&core, &R::STORE, checked.write(1, Mode::Create)).await?;
    Ok(HttpResponse::Created().json(written))
}

async fn change<R: Registry>(
    core: web::Data<Core>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    check_owner::<R>(&req, &path)?;
    let p: Value = parse_json(&read_body(body, R::BODY_LIMIT).await?)?;
    R::refuse_fields(&p)?;
    Ok(HttpResponse::Ok().json(patch::<R>(&core, &path, p).await?))
}

#[derive(Deserialize)]
struct AsOf {
    as_of: Option<String>,
}

async fn get_one<R: Registry>(
    core: web::Data<Core>,
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<AsOf>,
) -> Result<HttpResponse, ApiError> {
    check_owner::<R>(&req, &path)?;
    let Some(on) = q.as_of.as_deref() else {
        return Ok(HttpResponse::Ok().json(latest::<R>(&core, &path).await?));
    };
    let on = Date::parse(on).map_err(|e| ApiError::bad(format!("as_of: {e}")))?;
    let versions = versions::<R>(&core, &path).await?;
    match in_force(&versions, on, |v| {
        (Date::from_naive(v.effective_from), v.seq)
    }) {
        Some(r) => Ok(HttpResponse::Ok().json(r)),
        None => Err(ApiError::NotFound(format!(
            "{} {} has no version in force on that date",
            R::STORE.what,
            path.as_str()
        ))),
    }
}

async fn versions<R: Registry>(core: &Core, id: &str) -> Result<Vec<VersionRow>, ApiError> {
    let id = R::path_id(id)?;
    let versions = R::STORE.versions_of(&core.pool, &id).await?;
    if versions.is_empty() {
        return Err(ApiError::NotFound(format!(
            "{} {id} does not exist",
            R::STORE.what
        )));
    }
    Ok(versions)
}

async fn get_versions<R: Registry>(
    core: web::Data<Core>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    check_owner::<R>(&req, &path)?;
    Ok(HttpResponse::Ok().json(versions::<R>(&core, &path).await?))
}

#[derive(Deserialize)]
struct Page {
    after: Option<String>,
    limit: Option<i64>,
}

async fn list<R: Registry>(
    core: web::Data<Core>,
    q: web::Query<Page>,
) -> Result<HttpResponse, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let rows = R::STORE
        .list_latest(&core.pool, q.after.as_deref().unwrap_or(""), limit)
        .await?;
    Ok(HttpResponse::Ok().json(rows))
}

#[derive(Deserialize)]
struct FeedQuery {
    after: Option<i64>,
    limit: Option<i64>,
}

async fn feed_page<R: Registry>(
    core: web::Data<Core>,
    q: web::Query<FeedQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = q.limit.unwrap_or(1000).clamp(1, 10_000);
    // Writers are brief; retry the try-lock a few times before answering "busy".
    for _ in 0..50 {
        if let Some(rows) = R::STORE
            .feed_after(&core.pool, q.after.unwrap_or(0), limit)
            .await?
        {
            return Ok(HttpResponse::Ok().json(rows));
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    Err(ApiError::Conflict("writers are busy; retry".into()))
}

/// Who may call the record routes of a registry under `base`: `write` for create, change, read of one record and
/// its versions; `list` for the listing of every record.
pub fn record_routes(base: &'static str, write: Access, list: Access) -> Vec<RouteAccess> {
    let at = |method, tail: &str, access| RouteAccess {
        method,
        path: format!("{base}{tail}").into(),
        access,
    };
    vec![
        at("POST", "", write),
        at("GET", "", list),
        at("GET", "/{id}", write),
        at("PATCH", "/{id}", write),
        at("GET", "/{id}/versions", write),
    ]
}

/// The record routes of a registry under `base` (e.g. `/insurer/v1/qualifications`).
pub fn records<R: Registry>(base: &str) -> actix_web::Scope {
    web::scope(base)
        .route("", web::post().to(create::<R>))
        .route("", web::get().to(list::<R>))
        .route("/{id}", web::get().to(get_one::<R>))
        .route("/{id}", web::patch().to(change::<R>))
        .route("/{id}/versions", web::get().to(get_versions::<R>))
}

/// The registry's change feed as JSON pages, at `path` (e.g. `/insurer/v1/feed`).
pub fn feed<R: Registry>(cfg: &mut web::ServiceConfig, path: &str) {
    cfg.route(path, web::get().to(feed_page::<R>));
}
