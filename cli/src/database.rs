//! Where the data lives. In order: `DATABASE_URL`; the cluster of an `onshi up` already running from the same
//! home (its URL is in `<home>/run/database_url`); otherwise the embedded PostgreSQL in `<home>/pg`, started
//! now and stopped when the returned [`Database`] is dropped.

use std::path::{Path, PathBuf};

use anyhow::Context;
use sqlx::PgPool;

use onshi_platform::db;
use onshi_platform::pg::{Durability, EmbeddedCluster};

/// The database name the simulator uses on an embedded cluster.
pub const DB_NAME: &str = "onshi";

pub struct Database {
    pub url: String,
    /// Set when this process started the embedded cluster (and so owns it).
    pub cluster: Option<EmbeddedCluster>,
    pub description: String,
    url_file: Option<PathBuf>,
}

impl Database {
    /// Resolves the database as described in the module doc.
    pub async fn resolve(home: &Path) -> anyhow::Result<Self> {
        if let Ok(url) = std::env::var(onshi_platform::config::env::DATABASE_URL) {
            return Ok(Self {
                description: "DATABASE_URL".into(),
                url,
                cluster: None,
                url_file: None,
            });
        }
        let url_file = home.join("run").join("database_url");
        if let Ok(url) = std::fs::read_to_string(&url_file) {
            let url = url.trim().to_string();
            // A run file left by a crash names a dead server: seen at once, then a new cluster is started.
            if db::reachable(&url) && db::connect(&url, 1).await.is_ok() {
                return Ok(Self {
                    description: format!("the running onshi up ({})", home.display()),
                    url,
                    cluster: None,
                    url_file: None,
                });
            }
            tracing::info!(
                "a stale run file (the onshi that wrote it is gone); starting the database"
            );
            let _ = std::fs::remove_file(&url_file);
        }
        let dir = home.join("pg");
        let cluster =
            tokio::task::spawn_blocking(move || EmbeddedCluster::start(&dir, Durability::Normal))
                .await??;
        let admin = cluster.url("postgres");
        db::create_database(&admin, DB_NAME).await?;
        Ok(Self {
            url: cluster.url(DB_NAME),
            description: format!("embedded PostgreSQL in {}", cluster.data_dir().display()),
            cluster: Some(cluster),
            url_file: None,
        })
    }

    /// Publishes the URL for other `onshi` commands while this process runs (removed on drop).
    pub fn advertise(&mut self, home: &Path) -> anyhow::Result<()> {
        if self.cluster.is_none() {
            return Ok(());
        }
        let dir = home.join("run");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let file = dir.join("database_url");
        // The URL carries the cluster's password: readable by its owner only.
        std::fs::write(&file, &self.url)?;
        std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        self.url_file = Some(file);
        Ok(())
    }

    pub async fn pool(&self, max: u32) -> anyhow::Result<PgPool> {
        db::connect(&self.url, max).await
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Some(f) = self.url_file.take() {
            let _ = std::fs::remove_file(f);
        }
    }
}
