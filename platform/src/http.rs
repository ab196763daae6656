//! Shared HTTP pieces: the process context every service receives, the JSON error shape of the admin/registry
//! APIs, health, Prometheus metrics and the clock admin endpoints.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse, ResponseError};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use crate::clock::{parse_clock_time, parse_delta, SimClock};
use crate::config::{limits, Config};
use crate::roles::{route, Access, RouteAccess};

/// Process-wide metrics (exposed at `/metrics`). Labels are codes and kinds only: never a person or a facility.
#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    /// Messages answered, by message type, transport, facility type (`medical`, `dental`, `pharmacy`, `none`)
    /// and outcome.
    pub messages: IntCounterVec,
    /// Time to answer a message, by message type and transport.
    pub latency: HistogramVec,
    /// Highest feed sequence applied by a consumer.
    pub feed_seq: IntGaugeVec,
    /// Feed rows published but not yet applied by this process's consumer, by feed.
    pub feed_lag: IntGaugeVec,
    /// Bulk jobs (一括照会, 照会番号一括登録) by state: `queued`, `running`, `done` (results kept).
    pub bulk_jobs: IntGaugeVec,
    /// Time to process one bulk job, by kind.
    pub bulk_seconds: HistogramVec,
    /// Database pool connections by state (`open`, `idle`), read at each scrape.
    pub pool: IntGaugeVec,
    /// Resident memory of the process in bytes, read at each scrape.
    pub resident: IntGauge,
    /// Simulator controls that acted, by control (`fault`, `forced`) and what (`delay`, `drop`, `magic`, …).
    pub controls: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        fn register<M: prometheus::core::Collector + Clone + 'static>(r: &Registry, m: M) -> M {
            r.register(Box::new(m.clone())).expect("register");
            m
        }
        let messages = register(
            &registry,
            IntCounterVec::new(
                Opts::new("onshi_messages_total", "Messages answered"),
                &["message", "transport", "facility", "outcome"],
            )
            .expect("metric"),
        );
        let latency = register(
            &registry,
            HistogramVec::new(
                HistogramOpts::new("onshi_message_seconds", "Time to answer a message").buckets(
                    vec![
                        0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.05,
                        0.25, 1.0,
                    ],
                ),
                &["message", "transport"],
            )
            .expect("metric"),
        );
        let feed_seq = register(
            &registry,
            IntGaugeVec::new(
                Opts::new(
                    "onshi_feed_applied_seq",
                    "Highest change-feed sequence applied",
                ),
                &["feed"],
            )
            .expect("metric"),
        );
        let feed_lag = register(
            &registry,
            IntGaugeVec::new(
                Opts::new(
                    "onshi_feed_lag_rows",
                    "Change-feed rows published but not yet applied",
                ),
                &["feed"],
            )
            .expect("metric"),
        );
        let bulk_jobs = register(
            &registry,
            IntGaugeVec::new(
                Opts::new("onshi_bulk_jobs", "Bulk jobs by state"),
                &["state"],
            )
            .expect("metric"),
        );
        let bulk_seconds = register(
            &registry,
            HistogramVec::new(
                HistogramOpts::new("onshi_bulk_job_seconds", "Time to process one bulk job")
                    .buckets(vec![
                        0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                    ]),
                &["kind"],
            )
            .expect("metric"),
        );
        let pool = register(
            &registry,
            IntGaugeVec::new(
                Opts::new("onshi_db_pool_connections", "Database pool connections"),
                &["state"],
            )
            .expect("metric"),
        );
        let resident = register(
            &registry,
            IntGauge::new(
                "onshi_process_resident_bytes",
                "Resident memory of the process",
            )
            .expect("metric"),
        );
        let controls = register(
            &registry,
            IntCounterVec::new(
                Opts::new(
                    "onshi_controls_total",
                    "Simulator controls that acted on a request",
                ),
                &["control", "what"],
            )
            .expect("metric"),
        );
        Self {
            registry,
            controls,
            messages,
            latency,
            feed_seq,
            feed_lag,
            bulk_jobs,
            bulk_seconds,
            pool,
            resident,
        }
    }
}

/// Resident memory of this process (`/proc/self/statm`; 0 where there is none).
fn resident_bytes() -> i64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<i64>().ok())
        .map_or(0, |pages| pages * 4096)
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// What every service of a process shares.
#[derive(Clone)]
pub struct Core {
    pub pool: PgPool,
    pub clock: SimClock,
    pub metrics: Metrics,
    pub config: Arc<Config>,
    /// The supervised background tasks of the process.
    pub tasks: crate::supervise::Tasks,
    /// Usage statistics counted by this process, not yet written.
    pub usage: Arc<crate::usage::Usage>,
}

/// The error shape of the JSON APIs (registries, admin): `{"error":{"code","message","details"}}`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest {
        message: String,
        details: Vec<String>,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    Timeout(String),
    /// Another service of the deployment could not be reached (503).
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for ApiError {
    /// An error that is another service's refusal or absence keeps its meaning; any other is internal.
    fn from(e: anyhow::Error) -> Self {
        match e.downcast::<crate::peer::PeerError>() {
            Ok(p) => p.into(),
            Err(e) => Self::Internal(e),
        }
    }
}

impl From<crate::peer::PeerError> for ApiError {
    fn from(e: crate::peer::PeerError) -> Self {
        use crate::peer::PeerError;
        match e {
            PeerError::Refused {
                status, message, ..
            } => match status {
                400 | 422 => Self::bad(message),
                403 => Self::Forbidden(message),
                404 => Self::NotFound(message),
                409 => Self::Conflict(message),
                _ => Self::Unavailable(message),
            },
            e @ PeerError::Unreachable { .. } => {
                tracing::warn!(error = %e, "a service of the deployment did not answer");
                Self::Unavailable(e.to_string())
            }
            PeerError::Internal(e) => Self::Internal(e),
        }
    }
}

impl ApiError {
    pub fn bad(message: impl Into<String>) -> Self {
        Self::BadRequest {
            message: message.into(),
            details: vec![],
        }
    }
    fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { .. } => "bad_request",
            Self::NotFound(_) => "not_found",
            Self::Forbidden(_) => "forbidden",
            Self::Conflict(_) => "conflict",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::Timeout(_) => "request_timeout",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        Self::Internal(e.into())
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorInner<'a>,
}

#[derive(Serialize)]
struct ErrorInner<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    details: &'a [String],
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
    fn error_response(&self) -> HttpResponse {
        if let Self::Internal(e) = self {
            tracing::error!(error = format!("{e:#}"), "internal error");
        }
        let details: &[String] = match self {
            Self::BadRequest { details, .. } => details,
            _ => &[],
        };
        HttpResponse::build(self.status_code()).json(ErrorBody {
            error: ErrorInner {
                code: self.code(),
                message: self.to_string(),
                details,
            },
        })
    }
}

/// The Web API token of a request: the `Authorization` header, raw (as the real API sends it) or `Bearer …`.
pub fn id_token(req: &actix_web::HttpRequest) -> Option<String> {
    req.headers()
        .get("Authorization")
        .and_then(|h| h.to_str().ok())
        .map(|t| t.strip_prefix("Bearer ").unwrap_or(t).to_string())
}

/// Reads a request body up to `limit` bytes (larger bodies get the API error shape with 413).
pub async fn read_body(payload: web::Payload, limit: usize) -> Result<Vec<u8>, ApiError> {
    let timeout = std::time::Duration::from_secs(limits::BODY_SECONDS);
    read_limited(payload, limit, timeout)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge => {
                ApiError::PayloadTooLarge(format!("body is larger than the limit of {limit} bytes"))
            }
            BodyError::TimedOut => ApiError::Timeout(format!(
                "the body did not arrive within {} seconds",
                limits::BODY_SECONDS
            )),
            BodyError::Broken(why) => ApiError::bad(format!("reading the body: {why}")),
        })
}

/// A request body written to a temporary file as it arrived, with its SHA-256.
pub struct Spooled {
    pub file: tempfile::NamedTempFile,
    pub sha256: String,
}

/// Writes a large request body (bulk and claim files) to a temporary file as it arrives, up to `limit` bytes, each
/// part within [`limits::BODY_SECONDS`] of the last: memory holds one network chunk at a time, whatever the size.
pub async fn spool_body(mut payload: web::Payload, limit: usize) -> Result<Spooled, ApiError> {
    use futures_util::StreamExt;
    use std::io::Write;
    let file = tempfile::NamedTempFile::new().map_err(|e| ApiError::Internal(e.into()))?;
    let idle = std::time::Duration::from_secs(limits::BODY_SECONDS);
    let stalled = || {
        ApiError::Timeout(format!(
            "no part of the body arrived for {} seconds",
            limits::BODY_SECONDS
        ))
    };
    let mut file = file;
    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    let mut size = 0usize;
    while let Some(chunk) = tokio::time::timeout(idle, payload.next())
        .await
        .map_err(|_| stalled())?
    {
        let chunk = chunk.map_err(|e| ApiError::bad(format!("reading the body: {e}")))?;
        size += chunk.len();
        if size > limit {
            return Err(ApiError::PayloadTooLarge(format!(
                "body is larger than the limit of {limit} bytes"
            )));
        }
        digest.update(&chunk);
        file.write_all(&chunk)
            .map_err(|e| ApiError::Internal(e.into()))?;
    }
    file.flush().map_err(|e| ApiError::Internal(e.into()))?;
    let sha256 = crate::hex(digest.finish().as_ref());
    Ok(Spooled { file, sha256 })
}

/// Why a body could not be read whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Over the limit: the rest is not read.
    TooLarge,
    /// Not all there in time (a slow or stalled client).
    TimedOut,
    /// The connection failed mid-body.
    Broken(String),
}

/// Reads a request body up to `limit` bytes, within `timeout` in all: the one body reader of every HTTP route.
pub async fn read_limited(
    mut payload: web::Payload,
    limit: usize,
    timeout: std::time::Duration,
) -> Result<Vec<u8>, BodyError> {
    use futures_util::StreamExt;
    let read = async {
        let mut body = Vec::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| BodyError::Broken(e.to_string()))?;
            if body.len() + chunk.len() > limit {
                return Err(BodyError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    tokio::time::timeout(timeout, read)
        .await
        .unwrap_or(Err(BodyError::TimedOut))
}

/// Reads a JSON body with a clear error (actix's default extractor answers in plain text).
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad(format!("invalid JSON body: {e}")))
}

async fn metrics(core: web::Data<Core>) -> HttpResponse {
    let m = &core.metrics;
    m.pool
        .with_label_values(&["open"])
        .set(i64::from(core.pool.size()));
    m.pool
        .with_label_values(&["idle"])
        .set(core.pool.num_idle() as i64);
    m.resident.set(resident_bytes());
    let mut buf = Vec::new();
    let enc = prometheus::TextEncoder::new();
    if enc
        .encode(&core.metrics.registry.gather(), &mut buf)
        .is_err()
    {
        return HttpResponse::InternalServerError().finish();
    }
    HttpResponse::Ok().content_type(enc.format_type()).body(buf)
}

async fn get_clock(core: web::Data<Core>) -> HttpResponse {
    HttpResponse::Ok().json(core.clock.view())
}

/// `POST /admin/v1/clock` body: any of `set` (a time), `advance` (a duration like `1d`), `frozen` (bool).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockChange {
    pub set: Option<String>,
    pub advance: Option<String>,
    pub frozen: Option<bool>,
}

async fn post_clock(core: web::Data<Core>, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    let change: ClockChange = parse_json(&body)?;
    let set = change
        .set
        .as_deref()
        .map(parse_clock_time)
        .transpose()
        .map_err(ApiError::bad)?;
    let advance = change
        .advance
        .as_deref()
        .map(parse_delta)
        .transpose()
        .map_err(ApiError::bad)?;
    if set.is_none() && advance.is_none() && change.frozen.is_none() {
        return Err(ApiError::bad("give set, advance and/or frozen"));
    }
    if let Some(f) = change.frozen {
        core.clock.set_frozen(f).await?;
    }
    if let Some(t) = set {
        core.clock.set(t).await?;
    }
    if let Some(d) = advance {
        core.clock.advanced(d).map_err(ApiError::bad)?;
        core.clock.advance(d).await?;
    }
    tracing::info!(now = %core.clock.now(), "clock changed");
    Ok(HttpResponse::Ok().json(core.clock.view()))
}

/// Feed rows a process may be behind and still be ready (a start-up or a large bulk load shows more).
pub const READY_FEED_LAG: i64 = 10_000;

/// `/readyz` (and `/ready`): the database answers, every migration is applied, every background task runs and the
/// feeds are caught up (within [`READY_FEED_LAG`] rows); otherwise 503 with the reasons.
async fn ready(
    core: web::Data<Core>,
    schemas: Option<web::Data<crate::db::Schemas>>,
) -> HttpResponse {
    let mut reasons = Vec::new();
    let db = sqlx::query("SELECT 1").execute(&core.pool).await.is_ok();
    if !db {
        reasons.push("the database does not answer".to_string());
    }
    let pending = match (&schemas, db) {
        (Some(s), true) => match s.pending(&core.pool).await {
            Ok(p) => p,
            Err(e) => vec![format!("unreadable: {e}")],
        },
        _ => vec![],
    };
    if !pending.is_empty() {
        reasons.push(format!("migrations not applied: {}", pending.join(", ")));
    }
    let (tasks_ok, tasks) = core.tasks.report();
    if !tasks_ok {
        reasons.push("a background task is not running".to_string());
    }
    let mut feeds = serde_json::Map::new();
    for feed in ["insurer", "portal"] {
        if let Ok(g) = core.metrics.feed_lag.get_metric_with_label_values(&[feed]) {
            let lag = g.get();
            feeds.insert(feed.to_string(), serde_json::json!({"lag_rows": lag}));
            if lag > READY_FEED_LAG {
                reasons.push(format!("the {feed} feed is {lag} rows behind"));
            }
        }
    }
    let ok = reasons.is_empty();
    let body = serde_json::json!({
        "ready": ok,
        "reasons": reasons,
        "database": db,
        "migrations": {"pending": pending, "version": schemas.map(|s| s.version())},
        "tasks": tasks,
        "feeds": feeds,
    });
    if ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// `/healthz`: the process is alive and serving (no database call; `/readyz` says whether it can work).
async fn alive() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "alive"}))
}

async fn health(core: web::Data<Core>) -> HttpResponse {
    let db = sqlx::query("SELECT 1").execute(&core.pool).await.is_ok();
    let body = serde_json::json!({
        "status": if db { "ok" } else { "degraded" },
        "database": db,
        "clock": core.clock.view(),
    });
    if db {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Who may call the common routes.
pub const ROUTES: &[RouteAccess] = &[
    route("GET", "/health", Access::Public),
    route("GET", "/ready", Access::Public),
    route("GET", "/healthz", Access::Public),
    route("GET", "/readyz", Access::Public),
    route("GET", "/metrics", Access::Public),
    route("GET", "/admin/v1/clock", Access::Public),
    route("POST", "/admin/v1/clock", Access::Operator),
    route("GET", "/codes", Access::Public),
];

/// `/health`, `/healthz`, `/ready(z)`, `/metrics`, `/admin/v1/clock` and `/codes` (the OQSCD tables as JSON).
pub fn configure_common(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health))
        .route("/ready", web::get().to(ready))
        .route("/healthz", web::get().to(alive))
        .route("/readyz", web::get().to(ready))
        .route("/metrics", web::get().to(metrics))
        .route("/admin/v1/clock", web::get().to(get_clock))
        .route("/admin/v1/clock", web::post().to(post_clock))
        .route("/codes", web::get().to(codes));
}

async fn codes() -> HttpResponse {
    let tables: Vec<_> = onshi_wire::codes::catalogue()
        .into_iter()
        .map(|(id, name, values)| {
            serde_json::json!({
                "table": id,
                "name": name,
                "values": values.into_iter().map(|(c, l)| serde_json::json!({"code": c, "label": l})).collect::<Vec<_>>(),
            })
        })
        .collect();
    HttpResponse::Ok().json(tables)
}
