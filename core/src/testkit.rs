//! Test support (feature `testkit`): a fresh database per test.
//!
//! The first test of a test binary starts one throwaway embedded cluster (the same mechanism as `onshi up`,
//! durability off) unless `ONSHI_TEST_DATABASE_URL` names a server to use instead; every call then creates a new
//! database on it. The cluster's watchdog stops it and deletes its files when the test binary exits.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use sqlx::PgPool;

use crate::clock::SimClock;
use crate::config::Config;
use crate::db::{self, Migrations};
use crate::http::{Core, Metrics};
use crate::pg::{Durability, EmbeddedCluster};

static SERVER: OnceLock<Mutex<Option<String>>> = OnceLock::new();
static CLUSTER: OnceLock<Mutex<Option<EmbeddedCluster>>> = OnceLock::new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

async fn admin_url() -> String {
    if let Ok(url) = std::env::var("ONSHI_TEST_DATABASE_URL") {
        return url;
    }
    let lock = SERVER.get_or_init(|| Mutex::new(None));
    if let Some(url) = lock.lock().expect("lock").clone() {
        return url;
    }
    let url = tokio::task::spawn_blocking(|| {
        let cell = CLUSTER.get_or_init(|| Mutex::new(None));
        let mut guard = cell.lock().expect("lock");
        if guard.is_none() {
            let dir = std::env::temp_dir().join(format!("onshi-test-pg-{}", std::process::id()));
            let cluster = EmbeddedCluster::start(&dir, Durability::Throwaway)
                .expect("starting the embedded PostgreSQL for tests");
            *guard = Some(cluster);
        }
        guard.as_ref().expect("started").url("postgres")
    })
    .await
    .expect("cluster start task");
    *lock.lock().expect("lock") = Some(url.clone());
    url
}

/// A new, empty database; returns its URL.
pub async fn fresh_database_url() -> String {
    let admin = admin_url().await;
    let name = format!(
        "t_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    );
    db::create_database(&admin, &name)
        .await
        .expect("creating a test database");
    db::with_database(&admin, &name)
}

/// A fresh database with the clock and the given migrations applied, and a process context on it.
pub async fn core(migrations: &[Migrations], config: Config) -> Core {
    let url = fresh_database_url().await;
    let pool: PgPool = db::connect(&url, 10).await.expect("connect");
    db::CLOCK.apply(&pool).await.expect("clock migrations");
    for m in migrations {
        m.apply(&pool).await.expect("migrations");
    }
    let clock = SimClock::connect(&pool).await.expect("clock");
    Core {
        pool,
        clock,
        metrics: Metrics::new(),
        config: Arc::new(config),
    }
}
