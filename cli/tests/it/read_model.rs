//! The eligibility read model's file (issue 16): a restart resumes from it and reads only the newer feed rows; a
//! snapshot restore removes it; a file of another database is not used.

use std::path::Path;

use onshi::host::{Host, ALL};
use onshi_platform::clock::SimClock;
use onshi_platform::config::Config;
use onshi_platform::http::{Core, Metrics};
use onshi_platform::testkit::http;

use crate::app::{TestApp, NOW};
use crate::replicas::{person, validity};

fn config(file: &Path) -> Config {
    let mut c = Config::default();
    c.eligibility.read_model = Some(file.to_path_buf());
    c
}

/// The same database and settings over new connections (those of a stopped simulator's workers are gone).
async fn fresh(core: &Core) -> Core {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(10)
        .connect_with((*core.pool.connect_options()).clone())
        .await
        .unwrap();
    Core {
        clock: SimClock::connect(&pool).await.unwrap(),
        pool,
        metrics: Metrics::new(),
        config: core.config.clone(),
        tasks: Default::default(),
        usage: Default::default(),
    }
}

async fn register(addr: &str, n: u32) {
    let r = http::post_json(addr, "/insurer/v1/qualifications", &person(n)).await;
    assert_eq!(r.status, 201, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_resumes_from_the_read_model_file_of_its_own_database() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("read-model.bin");
    let a = TestApp::with(config(&file), NOW).await;
    let e = a.host.eligibility.clone().unwrap();
    assert_eq!(e.status()["started_from_file"], false);
    register(&a.addr, 1).await;
    a.sync().await;
    assert_eq!(validity(&a.addr, 1).await, "1");

    // A snapshot restore goes back before registration 3: the file is removed with the model it described.
    let r = a
        .as_operator(
            "POST",
            "/admin/v1/snapshots",
            serde_json::json!({"name": "one"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    register(&a.addr, 3).await;
    a.sync().await;
    let saving = e.clone();
    assert!(
        tokio::task::spawn_blocking(move || saving.save_read_model())
            .await
            .unwrap()
            .unwrap()
    );
    assert!(file.exists());
    let r = a
        .as_operator(
            "POST",
            "/admin/v1/snapshots/one/restore",
            serde_json::Value::Null,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(!file.exists());
    assert_eq!(validity(&a.addr, 3).await, "4");
    drop(e);
    let core = a.core.clone();
    a.stop().await;
    assert!(file.exists(), "a clean stop writes the read model");
    let core = fresh(&core).await;

    // The same database: the file, then the feed rows written after it (registration 2 takes the sequence
    // number registration 3 had before the restore).
    let host = Host::start(core.clone(), ALL, "127.0.0.1:0").await.unwrap();
    let addr = host.addr.to_string();
    let e = host.eligibility.clone().unwrap();
    assert_eq!(e.status()["started_from_file"], true);
    assert_eq!(validity(&addr, 1).await, "1");
    assert_eq!(validity(&addr, 3).await, "4");
    register(&addr, 2).await;
    e.sync().await.unwrap();
    assert_eq!(validity(&addr, 2).await, "1");
    drop(e);
    host.stop().await;

    // Another database (the demo alone) with this file: the row at its saved position is not there, so the file
    // is not used.
    let b = TestApp::with(config(&file), NOW).await;
    assert_eq!(
        b.host.eligibility.as_ref().unwrap().status()["started_from_file"],
        false
    );
    assert_eq!(validity(&b.addr, 1).await, "4");
    b.stop().await;
}
