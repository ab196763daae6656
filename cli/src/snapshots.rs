//! Snapshots of a running simulator (`platform::snapshot`), over the admin API (operator role): the doors are paused
//! while the database is copied or swapped, then every cache of the process is reloaded (the clock, the controls'
//! rules, the eligibility read model). `reset` restores the `demo` snapshot that `onshi up` takes of the state it
//! starts with (after loading the demo population).

use std::path::PathBuf;
use std::sync::Arc;

use actix_web::{web, HttpResponse};

use onshi_eligibility::Eligibility;
use onshi_platform::control::Controls;
use onshi_platform::db::Schemas;
use onshi_platform::http::{parse_json, read_body, ApiError, Core};
use onshi_platform::roles::{route, Access, RouteAccess};
use onshi_platform::snapshot::{Meta, SnapshotError, Store};

use crate::host::MIGRATIONS;

/// The snapshot taken of the demo state, restored by `reset`.
pub const DEMO: &str = "demo";

/// The snapshots of one process.
pub struct Snapshots {
    pub core: Core,
    pub controls: Arc<Controls>,
    pub eligibility: Option<Arc<Eligibility>>,
    /// One snapshot operation at a time.
    lock: tokio::sync::Mutex<()>,
}

impl Snapshots {
    pub fn new(core: Core, controls: Arc<Controls>, eligibility: Option<Arc<Eligibility>>) -> Self {
        Self {
            core,
            controls,
            eligibility,
            lock: Default::default(),
        }
    }

    async fn store(&self) -> Result<Store, SnapshotError> {
        store(&self.core).await
    }

    pub async fn list(&self) -> Result<Vec<Meta>, SnapshotError> {
        Ok(self.store().await?.list())
    }

    /// Saves the state as `name`, the doors paused meanwhile.
    pub async fn save(&self, name: &str) -> Result<Meta, SnapshotError> {
        let _one = self.lock.lock().await;
        let store = self.store().await?;
        let _paused = self.controls.pause();
        let meta = store
            .save(name, &version(), &self.core.clock.view().now)
            .await?;
        tracing::info!(
            name,
            ms = meta.save_ms,
            bytes = meta.bytes,
            "snapshot saved"
        );
        Ok(meta)
    }

    /// Restores snapshot `name`, the doors paused until every cache is reloaded.
    pub async fn restore(&self, name: &str) -> Result<Meta, SnapshotError> {
        let _one = self.lock.lock().await;
        let store = self.store().await?;
        let _paused = self.controls.pause();
        let started = std::time::Instant::now();
        let restored = store.restore(name, &version()).await;
        if let Err(
            SnapshotError::BadName(_) | SnapshotError::NotFound(_) | SnapshotError::Conflict(_),
        ) = &restored
        {
            // Refused before anything changed.
            return restored;
        }
        // Whatever happened past the checks (a failure while the folders were copied back comes after the database
        // swap), the caches follow the database as it is now, so answers never come from the state before.
        self.core.clock.reload().await?;
        self.controls.reload().await?;
        if let Some(e) = &self.eligibility {
            e.rebuild().await?;
        }
        let meta = restored?;
        tracing::info!(
            name,
            ms = started.elapsed().as_millis() as u64,
            "snapshot restored"
        );
        Ok(meta)
    }

    pub async fn delete(&self, name: &str) -> Result<(), SnapshotError> {
        let _one = self.lock.lock().await;
        self.store().await?.delete(name).await
    }
}

/// The schema version of this build (every service's migrations).
pub fn version() -> String {
    Schemas(MIGRATIONS).version()
}

/// The snapshot store of a process's database, with the folders and exported certificates it copies.
pub async fn store(core: &Core) -> Result<Store, SnapshotError> {
    let dir = core.config.snapshot_dir.clone().ok_or_else(|| {
        SnapshotError::Conflict("snapshots need a home directory (onshi up / serve --home)".into())
    })?;
    let mut dirs: Vec<(&'static str, PathBuf)> = Vec::new();
    if let Some(f) = &core.config.folder_root {
        dirs.push(("folders", f.clone()));
    }
    if let Some(c) = &core.config.certs_dir {
        dirs.push(("certs", c.clone()));
    }
    Ok(Store::of(&core.pool, dir, dirs).await?)
}

/// Takes the `demo` snapshot of the state `onshi up` starts with (the demo population and whatever was loaded
/// before, e.g. a seeded nation), replacing the previous one, before serving.
pub async fn ensure_demo(core: &Core) -> anyhow::Result<()> {
    let store = store(core).await?;
    if store.get(DEMO).is_ok() {
        store.delete(DEMO).await?;
    }
    let meta = store.save(DEMO, &version(), &core.clock.view().now).await?;
    tracing::info!(
        ms = meta.save_ms,
        "the demo state is saved as snapshot \"demo\" (onshi reset)"
    );
    Ok(())
}

fn api_error(e: SnapshotError) -> ApiError {
    match e {
        SnapshotError::BadName(m) => ApiError::bad(m),
        SnapshotError::NotFound(n) => ApiError::NotFound(format!("no snapshot {n:?}")),
        SnapshotError::Conflict(m) => ApiError::Conflict(m),
        SnapshotError::Failed(e) => ApiError::Internal(e),
    }
}

/// Who may call the snapshot routes.
pub const ROUTES: &[RouteAccess] = &[
    route("GET", "/admin/v1/snapshots", Access::Operator),
    route("POST", "/admin/v1/snapshots", Access::Operator),
    route(
        "POST",
        "/admin/v1/snapshots/{name}/restore",
        Access::Operator,
    ),
    route("DELETE", "/admin/v1/snapshots/{name}", Access::Operator),
    route("POST", "/admin/v1/reset", Access::Operator),
];

/// The routes (needs `web::Data<Snapshots>`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/v1/snapshots", web::get().to(list))
        .route("/admin/v1/snapshots", web::post().to(save))
        .route(
            "/admin/v1/snapshots/{name}/restore",
            web::post().to(restore),
        )
        .route("/admin/v1/snapshots/{name}", web::delete().to(delete))
        .route("/admin/v1/reset", web::post().to(reset));
}

async fn list(s: web::Data<Snapshots>) -> Result<HttpResponse, ApiError> {
    let list = s.list().await.map_err(api_error)?;
    Ok(
        HttpResponse::Ok()
            .json(serde_json::json!({"schema_version": version(), "snapshots": list})),
    )
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SaveBody {
    name: String,
}

async fn save(s: web::Data<Snapshots>, payload: web::Payload) -> Result<HttpResponse, ApiError> {
    let body = read_body(payload, onshi_platform::config::limits::CONTROL_CALL).await?;
    let b: SaveBody = parse_json(&body)?;
    let meta = s.save(&b.name).await.map_err(api_error)?;
    Ok(HttpResponse::Created().json(meta))
}

async fn restore(
    s: web::Data<Snapshots>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let meta = s.restore(&name).await.map_err(api_error)?;
    Ok(HttpResponse::Ok().json(meta))
}

async fn delete(
    s: web::Data<Snapshots>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    s.delete(&name).await.map_err(api_error)?;
    Ok(HttpResponse::NoContent().finish())
}

async fn reset(s: web::Data<Snapshots>) -> Result<HttpResponse, ApiError> {
    let meta = s.restore(DEMO).await.map_err(|e| match e {
        SnapshotError::NotFound(_) => ApiError::Conflict(
            "no demo state to return to: onshi up saves it after loading the demo population"
                .into(),
        ),
        other => api_error(other),
    })?;
    Ok(HttpResponse::Ok().json(meta))
}
